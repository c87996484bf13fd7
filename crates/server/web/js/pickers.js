// Pickers for the studio's forms, so no one types an id: organizations (what the caller
// manages, searched by name on the server: a province has thousands of schools) and experts
// (by name or phone). Each is a search field and a <select> carrying the id.
import { api, qs } from "./api.js";
import { h } from "./ui.js";
import { paths } from "./endpoints.js";

const KIND = { province: "省", city: "市", county: "区县", school: "学校", class: "班级", partner: "成员单位" };

// `name`: the select's field name; `extra`: [[value, label]] options after the organizations
// (e.g. 所有人);
// `kinds`: only these organization kinds; `onChange(id)`.
export function orgPicker({ name, label, extra = [], kinds = null, required = true, onChange = null }) {
  const select = h("select", { name, required, "aria-label": label });
  const q = h("input", { type: "search", placeholder: "输入名称查找", "aria-label": `查找${label}` });
  let timer;
  const find = async () => {
    const page = await api(paths.organizations(qs({ q: q.value.trim(), limit: 100 }))).catch(() => ({ items: [] }));
    // The list comes in tree order, so a parent is seen before its children (indented).
    const depth = {};
    for (const o of page.items) depth[o.id] = o.parent_id in depth ? depth[o.parent_id] + 1 : 0;
    const items = page.items.filter((o) => !kinds || kinds.includes(o.kind));
    const before = select.value;
    select.replaceChildren(
      ...items.map((o) => h("option", { value: o.id }, `${"　".repeat(q.value.trim() ? 0 : depth[o.id])}${o.name}（${KIND[o.kind] || o.kind}）`)),
      page.next_cursor ? h("option", { value: "", disabled: true }, "……更多结果，请输入名称查找") : null,
      ...extra.map(([v, l]) => h("option", { value: v }, l)),
      !items.length && !extra.length ? h("option", { value: "" }, "没有找到") : null);
    if ([...select.options].some((o) => o.value === before && before)) select.value = before;
    onChange?.(select.value);
  };
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 250); });
  select.addEventListener("change", () => onChange?.(select.value));
  const ready = find();
  return { el: h("label", {}, label, h("span", { class: "picker" }, q, select)), select, ready, search: q };
}

// The lecturer, for staff: the experts of what they manage, by name or phone.
export function expertPicker() {
  const select = h("select", { name: "expert_id", required: true, "aria-label": "主讲专家" }, h("option", { value: "" }, "请选择专家"));
  const q = h("input", { type: "search", placeholder: "输入姓名或手机号查找", "aria-label": "查找专家" });
  let timer;
  const find = async () => {
    const found = await api(paths.experts(qs({ q: q.value.trim() }))).catch(() => []);
    select.replaceChildren(h("option", { value: "" }, found.length ? "请选择专家" : "没有找到专家"),
      ...found.map((e) => h("option", { value: e.id }, `${e.display_name}（${e.org_name} · ${e.phone}）`)));
    if (found.length === 1) select.value = found[0].id;
  };
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 250); });
  find();
  return h("label", {}, "主讲专家", h("span", { class: "picker" }, q, select));
}
