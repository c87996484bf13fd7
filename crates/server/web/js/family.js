// 我的孩子 (a nickname and a birth month or a grade; the age stage follows the child), the
// home page's 为你推荐 rows, one per child, the school's own lists first, and 我的学习档案 (the
// learning record by school year and term, printable on A4, and as CSV).
import { api, qs, download } from "./api.js";
import { h, toast, courseCard, fieldErrors, checkRequired, duration } from "./ui.js";
import { paths } from "./endpoints.js";

const GRADES = [[-2, "小班"], [-1, "中班"], [0, "大班"], [1, "一年级"], [2, "二年级"], [3, "三年级"], [4, "四年级"],
  [5, "五年级"], [6, "六年级"], [7, "初一"], [8, "初二"], [9, "初三"], [10, "高一"], [11, "高二"], [12, "高三"]];

function describe(c) {
  const when = c.grade != null ? c.grade_label : `${c.birth_year} 年 ${c.birth_month} 月${c.stage === "prenatal" ? "（预产期）" : "出生"}`;
  return `${when} · ${c.stage_label}`;
}

export async function childrenPage({ page, go, loginPath, session }) {
  if (!session()) return go(loginPath(), true);
  const list = h("ul", { class: "plain children", "aria-live": "polite" });
  const draw = async () => {
    const kids = await api(paths.meChildren());
    list.replaceChildren(...(kids.length ? kids.map((c) => h("li", { class: "child" },
      h("span", {}, h("strong", {}, c.nickname), h("span", { class: "meta" }, ` · ${describe(c)}`)),
      h("button", { type: "button", class: "btn secondary small", "aria-label": `删除${c.nickname}的信息`, onclick: async () => {
        if (!confirm(`删除「${c.nickname}」的信息？删除后立即生效，不能恢复。`)) return;
        try { await api(paths.meChild(c.id), { method: "DELETE" }); toast("已删除"); await draw(); }
        catch (err) { toast(err.message, "error"); }
      } }, "删除"))) : [h("li", { class: "empty" }, "还没有添加孩子。添加后，首页会按孩子的年龄段推荐课程。")]));
  };
  const month = h("input", { type: "month", name: "birth_year", "aria-describedby": "birth-help" });
  const grade = h("select", { name: "grade" }, h("option", { value: "" }, "请选择年级"),
    GRADES.map(([g, label]) => h("option", { value: String(g) }, label)));
  const byBirth = h("input", { type: "radio", name: "by", value: "birth", checked: true });
  const byGrade = h("input", { type: "radio", name: "by", value: "grade" });
  const birthField = h("label", {}, "出生年月（怀孕中填预产期）", month,
    h("span", { class: "meta", id: "birth-help" }, "只需年和月。"));
  const gradeField = h("label", { hidden: true }, "现在的年级", grade,
    h("span", { class: "meta" }, "每年 9 月自动升一级。"));
  const toggle = () => { birthField.hidden = !byBirth.checked; gradeField.hidden = byBirth.checked; };
  byBirth.addEventListener("change", toggle);
  byGrade.addEventListener("change", toggle);
  const nickname = h("input", { name: "nickname", required: true, maxlength: 20, autocomplete: "off", placeholder: "如：大宝、小米" });
  const form = h("form", { class: "card form", novalidate: true },
    h("h2", {}, "添加孩子"),
    h("label", {}, "昵称", nickname),
    h("p", { class: "meta" }, "为保护未成年人，请只填昵称，不要填写真实姓名、身份证号等信息。"),
    h("fieldset", { class: "choice" }, h("legend", {}, "按什么填写"),
      h("label", { class: "inline" }, byBirth, " 出生年月"), h("label", { class: "inline" }, byGrade, " 年级")),
    birthField, gradeField,
    h("button", { class: "btn" }, "添加"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const body = { nickname: nickname.value.trim() };
    if (byBirth.checked) {
      const [y, m] = month.value.split("-").map(Number);
      if (!y || !m) return fieldErrors(form, { fields: [{ field: "birth_year", detail: "请选择出生年月。" }] });
      Object.assign(body, { birth_year: y, birth_month: m });
    } else {
      if (grade.value === "") return fieldErrors(form, { fields: [{ field: "grade", detail: "请选择年级。" }] });
      body.grade = Number(grade.value);
    }
    try {
      const c = await api(paths.meChildren(), { method: "POST", body });
      toast(`已添加「${c.nickname}」（${c.stage_label}）`);
      form.reset(); toggle(); fieldErrors(form, { fields: [] }); form.querySelector(".err")?.remove();
      await draw();
    } catch (err) { fieldErrors(form, err); }
  });
  page("我的孩子", h("section", { class: "card" }, list), form);
  await draw();
}

// The home page's rows: one per child in a stage, or an invitation to add one.
export async function recommendationRows() {
  const rec = await api(paths.meRecommendations()).catch(() => null);
  if (!rec) return [];
  if (!rec.rows.length) {
    return [h("section", { class: "card add-child" },
      h("p", {}, "添加孩子的年龄段，首页会为每个孩子推荐合适的课程。"),
      h("a", { class: "btn secondary", href: "/children", "data-link": true }, "添加孩子"))];
  }
  return rec.rows.map((r) => h("section", { class: "card list recommend", "aria-label": `为${r.nickname}推荐` },
    h("h2", {}, `为${r.nickname}推荐`, h("span", { class: "meta" }, ` · ${r.stage_label}`)),
    r.courses.length ? h("ul", { class: "courses" }, r.courses.map((c) => {
      const card = courseCard(c);
      if (c.list_title) card.querySelector(".course-text")?.append(h("span", { class: "meta from" }, `来自：${c.list_title}`));
      return card;
    })) : h("p", { class: "empty" }, "这个年龄段暂时还没有课程。")));
}

const minutes = (sec) => `${(sec / 60).toFixed(sec % 60 ? 1 : 0)} 分钟`;

export async function recordPage({ page, go, loginPath, session }) {
  if (!session()) return go(loginPath(), true);
  const year = new URLSearchParams(location.search).get("year") || "";
  const r = await api(paths.meRecord(qs({ year })));
  const sum = (t) => `录播课程 ${minutes(t.lessons_s)} · 直播讲座 ${minutes(t.live_s)} · 线下活动 ${minutes(t.offline_s)} · 合计 ${minutes(t.total_s)}`;
  const day = (ts) => new Date(ts).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" });
  const years = r.years.map((y) => h("section", { class: "card record-year" },
    h("h2", {}, y.name), h("p", { class: "meta" }, sum(y.totals)),
    h("ul", { class: "plain" }, y.terms.map((t) => h("li", {}, h("strong", {}, t.name), h("span", { class: "meta" }, ` ${sum(t.totals)}`))))));
  const table = h("table", { class: "report record", "aria-label": "学习明细" },
    h("thead", {}, h("tr", {}, ["日期", "类别", "内容", "来源", "学时"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, r.items.map((i) => h("tr", {}, h("td", {}, day(i.date)), h("td", {}, i.kind_label), h("td", {}, i.title),
      h("td", {}, i.source), h("td", { class: "num" }, duration(i.credited_s))))));
  page("我的学习档案",
    h("section", { class: "card record-head" },
      h("p", {}, h("strong", {}, r.display_name), h("span", { class: "meta" }, ` · 生成于 ${day(r.generated_at)}`)),
      h("p", {}, `累计：${sum(r.total)}`),
      h("p", { class: "actions no-print" },
        h("button", { type: "button", class: "btn secondary small", onclick: () => print() }, "打印（A4）"),
        h("button", { type: "button", class: "btn secondary small", onclick: () =>
          download(paths.meRecordCsv(qs({ year })), "家长学习档案.csv").catch((err) => toast(err.message, "error")) }, "导出 CSV"))),
    ...(years.length ? years : [h("p", { class: "card empty" }, "还没有计入学时的学习。")]),
    r.items.length ? h("section", { class: "card" }, h("h2", {}, "学习明细"), table) : null);
}
