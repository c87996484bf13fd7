// Small DOM helpers: h() builds elements, toast() announces, formatting for Chinese UI.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let toastTimer;
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  const hrs = Math.floor(s / 3600), min = Math.floor((s % 3600) / 60);
  if (hrs) return `${hrs} 小时 ${min} 分钟`;
  if (min) return `${min} 分钟`;
  return `${s} 秒`;
}

// A report table that stays readable on a phone: under 600 px each row becomes a small card whose
// cells carry their column's name (data-label), instead of columns squeezed to one character.
// `columns`: [label, "num" for right-aligned figures]; `row(values)` makes one <tr>.
export function reportTable(columns) {
  const body = h("tbody");
  const el = h("table", { class: "report" },
    h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", { scope: "col" }, label)))), body);
  const row = (values) => h("tr", {}, values.map((v, i) =>
    h("td", { class: columns[i][1] || null, "data-label": columns[i][0] }, v)));
  const empty = (text) => h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, text));
  return { el, body, row, empty };
}

export const STATUS = { draft: "草稿", in_review: "待审核", published: "已发布", archived: "已归档" };
export const STAGES = [
  ["prenatal", "孕期"], ["0-3", "0–3 岁"], ["3-6", "3–6 岁"],
  ["6-12", "6–12 岁"], ["12-15", "12–15 岁"], ["15-18", "15–18 岁"],
];
export const stageLabel = (code) => (STAGES.find(([c]) => c === code) || [code, code])[1];

export function courseCard(c) {
  return h("li", { class: "course" },
    h("a", { href: `/courses/${c.id}`, "data-link": true, class: "course-link" },
      c.cover_url ? h("img", { src: c.cover_url, alt: "", loading: "lazy", width: 96, height: 72 })
        : h("span", { class: "cover-ph", "aria-hidden": "true" }, c.title.slice(0, 2)),
      h("span", { class: "course-text" },
        h("strong", { class: "course-title" }, c.title),
        h("span", { class: "meta" },
          [c.lecturer?.name, c.age_stages.map(stageLabel).join("、"), `${c.lesson_count} 节`].filter(Boolean).join(" · ")),
        c.status !== "published" ? h("span", { class: `badge ${c.status}` }, STATUS[c.status]) : null)));
}

// Client-side check before sending: every empty `required` input gets 「请填写…」 beside it
// (its label's text), the first one focused. Returns whether the form may be sent.
export function checkRequired(form) {
  const fields = [];
  for (const input of form.querySelectorAll("input[required], textarea[required], select[required]")) {
    const empty = input.type === "checkbox" ? !input.checked : !String(input.value).trim();
    if (!empty) continue;
    const label = input.closest("label")?.childNodes[0]?.textContent?.trim() || input.getAttribute("aria-label") || "此项";
    fields.push({ field: input.name, detail: input.type === "checkbox" ? "请先勾选同意。" : `请填写${label}。` });
  }
  if (!fields.length) return true;
  fieldErrors(form, { fields });
  form.querySelector("[aria-invalid]")?.focus();
  return false;
}

export function fieldErrors(form, err) {
  form.querySelectorAll(".err").forEach((e) => e.remove());
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  for (const f of err.fields || []) {
    const input = form.querySelector(`[name="${f.field.split(/[.[]/)[0]}"]`);
    const note = h("p", { class: "err", role: "alert" }, f.detail);
    if (input) { input.setAttribute("aria-invalid", "true"); input.closest("label, fieldset")?.append(note); }
    else form.prepend(note);
  }
  if (!err.fields?.length) form.prepend(h("p", { class: "err", role: "alert" }, err.message));
}
