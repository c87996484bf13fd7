// 评价看板 in the studio: for an organization the curator manages, a term's composite score of
// each child unit as bars (横向, with ranks), the organization's trend over the last terms as a
// line (纵向), the measures in a table whose unit names drill down (province → city → county
// → school → class), the CSV for Excel, and the indicator system (measures, targets, weights).
import { api, qs, download } from "./api.js";
import { h, toast, fieldErrors, reportTable } from "./ui.js";
import { orgPicker } from "./pickers.js";
import { paths } from "./endpoints.js";

const MEASURES = [
  ["coverage", "覆盖率", "share"], ["active_rate", "活跃率", "share"], ["avg_hours", "人均学时", "hours"],
  ["median_hours", "学时中位数", "hours"], ["live_rate", "直播参与率", "share"], ["offline_rate", "线下参与率", "share"],
  ["certificate_rate", "持证率", "share"], ["avg_rating", "平均评分", "stars"],
];
const pct = (x) => `${(x * 100).toFixed(1)}%`;

// The organization's score over the terms, as an SVG line with its points labelled.
function trendChart(points) {
  const w = 320, hgt = 140, pad = 28;
  const x = (i) => pad + (i * (w - 2 * pad)) / Math.max(1, points.length - 1);
  const y = (s) => hgt - pad - (s / 100) * (hgt - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "trend", role: "img",
    "aria-label": `综合得分趋势：${points.map((p) => `${p.term} ${p.score} 分`).join("，")}` });
  svg.append(el("line", { x1: pad, y1: y(0), x2: w - pad, y2: y(0), class: "axis" }));
  svg.append(el("polyline", { points: points.map((p, i) => `${x(i)},${y(p.score)}`).join(" "), class: "line" }));
  points.forEach((p, i) => {
    svg.append(el("circle", { cx: x(i), cy: y(p.score), r: 3 }));
    svg.append(el("text", { x: x(i), y: y(p.score) - 6, "text-anchor": "middle" }, String(p.score)));
    svg.append(el("text", { x: x(i), y: hgt - 8, "text-anchor": "middle", class: "label" }, p.term.replace(/学期$/, "")));
  });
  return svg;
}

export async function evaluationPage(orgId, ctx) {
  let org = orgId;
  if (!org) {
    const picker = orgPicker({ name: "org", label: "组织", kinds: ["province", "city", "county", "school", "class"] });
    await picker.ready;
    if (!picker.select.value) return ctx.page("评价看板", h("p", { class: "empty" }, "你还没有管理的组织。"));
    org = picker.select.value;
  }
  const term = new URLSearchParams(location.search).get("term") || "";
  const v = await api(paths.organizationEvaluation(org, qs({ term })));
  const go = (id, t = v.term.name) => ctx.go(`/studio/evaluation/${id}${qs({ term: t })}`);
  const terms = h("select", { "aria-label": "学期", onchange: (e) => go(org, e.target.value) },
    v.terms.map((t) => h("option", { value: t.name, selected: t.name === v.term.name }, t.name)));
  const ranked = [...v.rows].sort((a, b) => a.rank - b.rank);
  const bars = h("div", { class: "bars", role: "img", "aria-label": `各单位综合得分：${ranked.map((r) => `${r.name} ${r.score} 分`).join("，")}` },
    ranked.map((r) => h("div", { class: "bar-row" },
      h("span", { class: "bar-label" }, `${r.rank}. ${r.name}`),
      h("span", { class: "bar", style: `width:${Math.max(1, r.score)}%` }),
      h("span", { class: "bar-value" }, `${r.score} 分`))));
  const table = reportTable([["单位"], ["家庭数", "num"], ["活跃", "num"], ["覆盖率", "num"], ["人均学时", "num"], ["中位数", "num"],
    ["直播参与", "num"], ["线下参与", "num"], ["发证", "num"], ["评分", "num"], ["综合得分", "num"], ["排名", "num"]]);
  const cells = (r, rank) => {
    const m = r.measures;
    return [r.org_id && r.org_id !== v.org_id ? h("a", { href: `/studio/evaluation/${r.org_id}${qs({ term: v.term.name })}`, "data-link": true }, r.name) : r.name,
      m.members, m.active, pct(m.coverage), m.avg_hours.toFixed(2), m.median_hours.toFixed(2), pct(m.live_rate), pct(m.offline_rate),
      m.certificates, m.avg_rating == null ? "—" : m.avg_rating.toFixed(2), r.score.toFixed(1), rank];
  };
  table.body.append(...ranked.map((r) => table.row(cells(r, r.rank))), table.row(cells(v.total, "合计")));
  if (!v.rows.length) table.body.prepend(table.empty("这个组织下没有单位。"));
  const csv = h("button", { type: "button", class: "btn secondary", onclick: () =>
    download(paths.organizationEvaluationCsv(org, qs({ term: v.term.name })), `评价看板-${v.org_name}-${v.term.name}.csv`).catch((e) => toast(e.message, "error")) }, "导出 CSV（Excel）");
  const from = v.indicators_from === v.org_id ? "本组织设定" : v.indicators_from ? "沿用上级组织的设定" : "系统默认";
  ctx.page(`评价看板：${v.org_name}`,
    h("section", { class: "card row" }, h("label", {}, "学期", terms), csv),
    h("section", { class: "card stats", "aria-label": "总体" },
      h("p", {}, h("strong", {}, `${v.total.score} 分`), h("span", { class: "meta" }, ` ${v.term.name}综合得分`)),
      h("p", { class: "meta" }, `家庭 ${v.total.measures.members} 户 · 覆盖率 ${pct(v.total.measures.coverage)} · 人均 ${v.total.measures.avg_hours.toFixed(2)} 小时 · 发证 ${v.total.measures.certificates} 张`),
      h("p", { class: "meta formula" }, `${v.formula}（${from}）`)),
    h("section", { class: "card" }, h("h2", {}, "各单位综合得分（横向）"), v.rows.length ? bars : h("p", { class: "empty" }, "没有下级单位。")),
    h("section", { class: "card" }, h("h2", {}, "近几个学期（纵向）"), trendChart(v.total.trend)),
    h("section", { class: "card" }, h("h2", {}, "指标明细"), table.el),
    indicatorEditor(org, v, () => go(org)));
}

function indicatorEditor(org, v, reload) {
  const item = (code) => v.indicators.items.find((i) => i.measure === code);
  const rows = MEASURES.map(([code, label, kind]) => {
    const it = item(code);
    return h("fieldset", { class: "indicator" }, h("legend", {}, label),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: `${code}.on`, checked: Boolean(it) }), h("span", {}, "计入综合得分")),
      h("label", {}, kind === "share" ? "目标（%）" : kind === "hours" ? "目标（小时）" : "目标（分，满分 5）",
        h("input", { name: `${code}.target`, type: "number", step: "any", min: 0, value: it ? (kind === "share" ? it.target * 100 : it.target) : "" })),
      h("label", {}, "权重", h("input", { name: `${code}.weight`, type: "number", step: "any", min: 0, value: it?.weight ?? "" })));
  });
  const form = h("form", { class: "form", novalidate: true },
    h("label", {}, "覆盖标准：本学期学时达到（小时）", h("input", { name: "coverage_hours", type: "number", step: "any", min: 0, value: v.indicators.coverage_hours })),
    rows, h("p", { class: "meta" }, "下级组织没有自己的设定时沿用这里的指标。"), h("button", { class: "btn" }, "保存指标"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const items = MEASURES.filter(([code]) => f.get(`${code}.on`) === "on").map(([code, , kind]) => ({
      measure: code, target: Number(f.get(`${code}.target`)) / (kind === "share" ? 100 : 1), weight: Number(f.get(`${code}.weight`)),
    }));
    try {
      await api(paths.organizationIndicators(org), { method: "PUT", body: { coverage_hours: Number(f.get("coverage_hours")), items } });
      toast("指标已保存");
      reload();
    } catch (err) {
      // items[2].target → the third chosen measure's field.
      fieldErrors(form, { ...err, fields: err.fields.map((x) => {
        const m = /^items\[(\d+)\]\.(\w+)$/.exec(x.field);
        return m && items[m[1]] ? { ...x, field: `${items[m[1]].measure}.${m[2]}` } : x;
      }) });
    }
  });
  return h("details", { class: "card" }, h("summary", {}, "调整评价指标（指标、目标与权重）"), form);
}
