// 评价 and 课后小测 on the course, live and activity pages: a parent rates what they studied
// (1–5 stars and a comment) and takes a lesson's quiz, marked on the server; its expert and the
// staff in scope read the ratings; a course's editors write a lesson's quiz.
import { api, session } from "./api.js";
import { h, toast, fieldErrors } from "./ui.js";
import { paths } from "./endpoints.js";

const STARS = ["很差", "较差", "一般", "不错", "很好"];
const day = (ms) => new Date(ms).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" });

// The caller's rating of what `mine` names, and for staff the summary at `all`.
export function ratingCard(mine, all) {
  const card = h("section", { class: "card rating", "aria-label": "评价" }, h("h2", {}, "评价"), h("p", { class: "loading" }, "加载中…"));
  api(mine).then((r) => {
    card.replaceChildren(h("h2", {}, "评价"),
      r.may_rate || r.rating ? ratingForm(mine, r.rating) : h("p", { class: "empty" }, "学习（或参加）之后，可以在这里打分和留言。"));
  }).catch(() => card.remove());
  if (all && session()?.user?.role !== "parent") {
    api(all).then((s) => card.after(ratingsSummary(s, all))).catch(() => {});
  }
  return card;
}

function ratingForm(path, rating) {
  const form = h("form", { class: "form", novalidate: true },
    h("fieldset", { class: "stars" }, h("legend", {}, "打分（1–5 星）"),
      STARS.map((label, i) => h("label", { class: "check" },
        h("input", { type: "radio", name: "stars", value: i + 1, checked: rating?.stars === i + 1 }),
        h("span", {}, `${"★".repeat(i + 1)} ${label}`)))),
    h("label", {}, "留言（选填，最多 300 字）", h("textarea", { name: "comment", maxlength: 300, rows: 3 }, rating?.comment || "")),
    rating ? h("p", { class: "meta" }, `你在 ${day(rating.updated_at)} 评价过，可以修改。`) : null,
    h("button", { class: "btn" }, rating ? "修改评价" : "提交评价"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    if (!f.get("stars")) return fieldErrors(form, { fields: [{ field: "stars", detail: "请选择星级。" }] });
    try {
      const r = await api(path, { method: "PUT", body: { stars: Number(f.get("stars")), comment: f.get("comment") || "" } });
      form.replaceWith(ratingForm(path, r));
      toast("谢谢你的评价！");
    } catch (err) { fieldErrors(form, err); }
  });
  return form;
}

function ratingsSummary(s, all) {
  const list = h("ol", { class: "plain ratings" });
  const more = h("button", { type: "button", class: "btn secondary small", hidden: true }, "更多评价");
  const add = (page) => {
    list.append(...page.items.map((r) => h("li", {},
      h("span", { class: "grow" }, h("strong", {}, `${"★".repeat(r.stars)} `), r.comment || h("span", { class: "meta" }, "（未留言）")),
      h("span", { class: "meta" }, `${r.rater} · ${day(r.updated_at)}`))));
    more.hidden = !page.next_cursor;
    more.onclick = async () => add((await api(`${all}?cursor=${encodeURIComponent(page.next_cursor)}`)).page);
  };
  add(s.page);
  return h("section", { class: "card", "aria-label": "家长评价" }, h("h2", {}, "家长评价"),
    h("p", {}, s.count ? h("strong", {}, `${s.average.toFixed(1)} 分`) : "还没有评价", h("span", { class: "meta" }, ` · ${s.count} 人评价`)),
    s.count ? h("ul", { class: "plain" }, s.stars.map((n, i) => h("li", {}, h("span", { class: "grow" }, `${i + 1} 星`),
      h("span", { class: "lesson-progress", role: "img", "aria-label": `${i + 1} 星 ${n} 人` }, h("span", { style: `width:${Math.round((100 * n) / s.count)}%` })),
      h("span", { class: "meta" }, `${n} 人`))).reverse()) : null,
    list, more);
}

// The quiz of a lesson: taken by viewers, written by the course's editors.
export function quizButton(lesson, editable, into) {
  if (!lesson.quiz && !editable) return null;
  const open = async () => {
    let q = null;
    try { q = await api(paths.lessonQuiz(lesson.id)); } catch (err) { if (err.status !== 404) return toast(err.message, "error"); }
    into.replaceChildren(q && !editable ? quizForm(lesson, q) : quizEditor(lesson, q));
    into.scrollIntoView({ behavior: "smooth" });
  };
  return h("button", { type: "button", class: "btn secondary small quiz-open", onclick: open },
    editable ? (lesson.quiz ? "编辑小测" : "添加小测") : "课后小测");
}

function quizForm(lesson, q) {
  const sets = q.questions.map((item, i) => h("fieldset", { class: "question" },
    h("legend", {}, `${i + 1}. ${item.text}（${item.kind === "single" ? "单选" : "多选"}）`),
    item.options.map((o, j) => h("label", { class: "check" },
      h("input", { type: item.kind === "single" ? "radio" : "checkbox", name: `q${i}`, value: j }), h("span", {}, o)))));
  const result = h("p", { role: "status", class: "quiz-result" },
    q.attempts ? `已作答 ${q.attempts} 次，最高 ${q.best_score} 分${q.passed ? "，已通过" : ""}。` : "");
  const form = h("form", { class: "card form quiz", "aria-label": "课后小测" },
    h("h2", {}, `课后小测：${lesson.title}`), h("p", { class: "meta" }, `共 ${q.questions.length} 题，${q.pass_percent} 分及格，可多次作答。${q.required ? "通过后才算完成本课程。" : ""}`),
    sets, result, h("button", { class: "btn" }, "提交答案"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const answers = q.questions.map((_, i) => [...form.querySelectorAll(`[name="q${i}"]:checked`)].map((x) => Number(x.value)));
    const missing = answers.findIndex((a) => !a.length);
    if (missing >= 0) { result.textContent = `第 ${missing + 1} 题还没有作答。`; return; }
    try {
      const r = await api(paths.lessonQuizAttempts(lesson.id), { method: "POST", body: { answers, version: q.version } });
      r.correct.forEach((ok, i) => { sets[i].dataset.correct = ok; sets[i].querySelector("legend").dataset.mark = ok ? "✓ 正确" : "✗ 错误"; });
      result.textContent = `得分 ${r.score} 分，${r.passed ? "已通过" : `未通过（${r.pass_percent} 分及格），可以再试一次`}。`;
      toast(r.passed ? "小测通过！" : "还差一点，再试一次吧");
    } catch (err) { result.textContent = err.message; }
  });
  return form;
}

function quizEditor(lesson, q) {
  const list = h("div", { class: "questions" });
  const block = (item) => h("fieldset", { class: "question" }, h("legend", {}, "题目"),
    h("label", {}, "题干", h("input", { name: "text", value: item?.text || "", maxlength: 200 })),
    h("label", {}, "题型", h("select", { name: "kind" },
      h("option", { value: "single", selected: item?.kind !== "multiple" }, "单选"), h("option", { value: "multiple", selected: item?.kind === "multiple" }, "多选"))),
    h("label", {}, "选项（每行一个，2–8 个）", h("textarea", { name: "options", rows: 4 }, (item?.options || []).join("\n"))),
    h("label", {}, "正确选项（填序号，多选用逗号隔开，如 1,3）", h("input", { name: "answer", value: (item?.answer || []).map((a) => a + 1).join(","), inputmode: "numeric" })),
    h("button", { type: "button", class: "btn secondary small", onclick: (e) => e.target.closest("fieldset").remove() }, "删除此题"));
  (q?.questions.length ? q.questions : [null]).forEach((item) => list.append(block(item)));
  const errors = h("div", { role: "alert" });
  const form = h("form", { class: "card form quiz-editor", "aria-label": "编辑课后小测", novalidate: true },
    h("h2", {}, `课后小测：${lesson.title}`), errors, list,
    h("p", { class: "actions" }, h("button", { type: "button", class: "btn secondary small", onclick: () => list.append(block(null)) }, "添加一题")),
    h("label", {}, "及格线（分）", h("input", { name: "pass_percent", type: "number", min: 1, max: 100, value: q?.pass_percent ?? 60 })),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "required", checked: Boolean(q?.required) }), h("span", {}, "完成本课程须通过此小测（计入证书）")),
    h("p", { class: "meta" }, "保存后家长看不到正确答案；删除全部题目即取消小测。"),
    h("button", { class: "btn" }, "保存小测"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const questions = [...list.children].map((f) => ({
      text: f.querySelector("[name=text]").value,
      kind: f.querySelector("[name=kind]").value,
      options: f.querySelector("[name=options]").value.split("\n").map((o) => o.trim()).filter(Boolean),
      answer: f.querySelector("[name=answer]").value.split(/[,，、\s]+/).filter(Boolean).map((n) => Number(n) - 1),
    }));
    try {
      await api(paths.lessonQuiz(lesson.id), { method: "PUT", body: { pass_percent: Number(form.pass_percent.value), required: form.required.checked, questions } });
      errors.replaceChildren();
      toast(questions.length ? "小测已保存" : "小测已取消");
    } catch (err) {
      // questions[2].answer → 第 3 题：…
      errors.replaceChildren(...(err.fields.length ? err.fields : [{ field: "", detail: err.message }]).map((f) => {
        const m = /^questions\[(\d+)\]/.exec(f.field);
        return h("p", { class: "err" }, m ? `第 ${Number(m[1]) + 1} 题：${f.detail}` : f.detail);
      }));
    }
  });
  return form;
}
