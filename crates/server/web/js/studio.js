// The studio (工作台) for experts and curators: review queue, course editor, list editor.
import { api, qs, session, download, loginPath, imageUrl } from "./api.js";
import { h, toast, courseCard, fieldErrors, duration, reportTable, STAGES, STATUS } from "./ui.js";
import { orgPicker } from "./pickers.js";
import { paths } from "./endpoints.js";

let ctx;

export async function studio(rest, context) {
  ctx = context;
  const s = session();
  if (!s) return ctx.go(loginPath(), true);
  if (!["expert", "curator", "admin"].includes(s.user.role)) {
    return ctx.page("工作台", h("p", {}, "工作台只对专家和工作人员开放。"));
  }
  let m;
  if (rest === "" || rest === "/") return dashboard(s.user);
  if (rest === "/courses/new") return courseEditor(null);
  if ((m = rest.match(/^\/courses\/([\w-]+)$/))) return courseEditor(m[1]);
  if (rest === "/lists/new") return listEditor(null);
  if ((m = rest.match(/^\/lists\/([\w-]+)$/))) return listEditor(m[1]);
  if (rest === "/reports" && s.user.role !== "expert") return studyReport();
  if (rest === "/orgs" && s.user.role !== "expert") return import("./orgs.js").then((o) => o.orgTree(ctx));
  if ((m = rest.match(/^\/evaluation(?:\/([\w-]+))?$/)) && s.user.role !== "expert") return import("./dashboard.js").then((d) => d.evaluationPage(m[1], ctx));
  if (rest === "/certificates" && s.user.role !== "expert") return import("./certificates.js").then((c) => c.certificatesStudio(ctx));
  if ((m = rest.match(/^\/posters\/([\w-]+)$/)) && s.user.role !== "expert") return joinPoster(m[1]);
  if (rest === "/live") return import("./live-studio.js").then((l) => l.liveHome(ctx));
  if (rest === "/activities/new") return import("./activities.js").then((a) => a.newActivity(ctx));
  if ((m = rest.match(/^\/live\/([\w-]+)$/))) return import("./live-studio.js").then((l) => l.goLive(m[1], ctx));
  if ((m = rest.match(/^\/live\/([\w-]+)\/report$/))) return import("./live-studio.js").then((l) => l.report(m[1], ctx));
  ctx.page("页面不存在", h("a", { href: "/studio", "data-link": true }, "返回工作台"));
}

async function dashboard(user) {
  const curator = user.role !== "expert";
  const [review, drafts, lists] = await Promise.all([
    api(paths.courses(qs({ status: "in_review", limit: 50 }))),
    api(paths.courses(qs({ status: "draft", limit: 50 }))),
    curator ? api(paths.lists("?limit=50")) : Promise.resolve({ items: [] }),
  ]);
  const section = (title, items, empty) => h("section", { class: "card" }, h("h2", {}, title),
    items.length ? h("ul", { class: "courses" }, items.map((c) => {
      const li = courseCard(c);
      li.querySelector("a").setAttribute("href", `/studio/courses/${c.id}`);
      return li;
    })) : h("p", { class: "empty" }, empty));
  ctx.page("工作台",
    h("p", { class: "actions" },
      h("a", { class: "btn", href: "/studio/courses/new", "data-link": true }, "新建课程"),
      curator ? h("a", { class: "btn secondary", href: "/studio/lists/new", "data-link": true }, "新建清单") : null,
      curator ? h("a", { class: "btn secondary", href: "/studio/reports", "data-link": true }, "学习报表") : null,
      curator ? h("a", { class: "btn secondary", href: "/studio/orgs", "data-link": true }, "组织架构") : null,
      curator ? h("a", { class: "btn secondary", href: "/studio/evaluation", "data-link": true }, "评价看板") : null,
      curator ? h("a", { class: "btn secondary", href: "/studio/certificates", "data-link": true }, "证书管理") : null,
      h("a", { class: "btn secondary", href: "/studio/live", "data-link": true }, "直播管理")),
    section(curator ? "待审核" : "审核中", review.items, "没有待审核的课程。"),
    section("草稿", drafts.items, "没有草稿。"),
    curator ? h("section", { class: "card" }, h("h2", {}, "课程清单"),
      lists.items.filter((l) => l.editable).length
        ? h("ul", { class: "plain" }, lists.items.filter((l) => l.editable).map((l) =>
          h("li", {}, h("a", { href: `/studio/lists/${l.id}`, "data-link": true }, l.title), h("span", { class: "meta" }, ` · ${l.course_count} 门`))))
        : h("p", { class: "empty" }, "还没有清单。")) : null,
    curator ? await joinCodes() : null);
}

// Join codes of the schools and classes a curator manages: the code, the /join link to put in
// the class WeChat group, and a new code when the old one leaked.
// The first 20 are listed; the others are found by name (a county has hundreds of classes).
async function joinCodes() {
  const list = h("ul", { class: "plain" });
  const more = h("p", { class: "meta" });
  const q = h("input", { type: "search", placeholder: "输入学校或班级名称查找", "aria-label": "查找学校或班级" });
  const section = h("section", { class: "card", "aria-label": "加入码" }, h("h2", {}, "加入码"),
    h("p", { class: "meta" }, "家长用加入码或加入链接加入学校或班级，把链接发到班级群里即可；也可以按手机号邀请，家长接受后加入。"), q, list, more);
  const draw = async () => {
    const page = await api(paths.organizations(qs({ q: q.value.trim(), limit: 100 }))).catch(() => ({ items: [] }));
    const orgs = page.items.filter((o) => o.kind === "school" || o.kind === "class");
    list.replaceChildren(...(orgs.length ? orgs.slice(0, 20).map(row)
      : [h("li", { class: "empty" }, q.value.trim() ? "没有找到这个名称的学校或班级。" : "你管理的范围内还没有学校或班级。")]));
    more.textContent = orgs.length > 20 || page.next_cursor ? "只列出前 20 个，其他请输入名称查找。" : "";
  };
  let timer;
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(draw, 250); });
  const row = (o) => {
    const out = h("span", { class: "meta" });
    const show = (code) => {
      const link = `${location.origin}/join/${code}`;
      out.replaceChildren(h("strong", { class: "code" }, code), " ", h("a", { href: `/join/${code}` }, link), " ",
        h("button", { type: "button", class: "btn secondary small", onclick: () => navigator.clipboard?.writeText(link).then(() => toast("链接已复制"), () => toast(link)) }, "复制链接"), " ",
        h("a", { class: "btn secondary small", href: `/studio/posters/${o.id}`, "data-link": true }, "二维码海报"));
    };
    const make = async () => {
      try { show((await api(paths.organizationJoinCode(o.id), { method: "POST", body: null })).join_code); }
      catch (err) { toast(err.message, "error"); }
    };
    const button = h("button", { type: "button", class: "btn secondary small", hidden: true, onclick: async () => { await make(); button.textContent = "换一个加入码"; } }, "生成加入码");
    // Or invite one family by phone: they join only by accepting in the app (邀请).
    const phone = h("input", { type: "tel", inputmode: "numeric", autocomplete: "off", placeholder: "家长手机号", "aria-label": `邀请加入「${o.name}」的手机号` });
    const invite = h("form", { class: "invite", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const n = phone.value.trim();
      // Only an incomplete number is caught here; the server's phone rule decides the rest.
      if (n.replace(/\D/g, "").length < 11) { toast("请填写 11 位手机号。", "error"); phone.focus(); return; }
      try {
        const sent = await api(paths.organizationMembers(o.id), { method: "POST", body: { phone: n } });
        phone.value = "";
        toast(`已向 ${sent.phone} 发出邀请。对方在家长学堂里接受后即加入，14 天内有效。`);
      } catch (err) { toast(err.message, "error"); }
    } }, phone, h("button", { type: "submit", class: "btn secondary small" }, "邀请"));
    const li = h("li", { class: "join-code" }, h("span", {}, o.name), " ", out, " ", button,
      h("details", { class: "invite-box" }, h("summary", {}, "按手机号邀请"), invite));
    api(paths.organization(o.id)).then((d) => {
      if (d.join_code) { show(d.join_code); button.textContent = "换一个加入码"; }
      button.hidden = false;
    }).catch(() => {});
    return li;
  };
  await draw();
  return section;
}

const field = (label, input) => h("label", {}, label, input);

// The printable join poster: the school's or class's name, a QR code of its /join link (drawn by
// the server), the code to type, and how; 打印 prints only the poster (A4), 保存二维码 saves the
// image to send in the class WeChat group.
async function joinPoster(id) {
  const o = await api(paths.organization(id));
  if (!o.join_code) {
    ctx.page(`加入海报：${o.name}`, h("section", { class: "card" }, h("p", {}, "这个组织还没有加入码，请先在工作台生成。"),
      h("a", { class: "btn secondary", href: "/studio", "data-link": true }, "返回工作台")));
    return;
  }
  const link = `${location.origin}/join/${o.join_code}`;
  const src = await imageUrl(paths.qrSvg(qs({ text: link })));
  const img = h("img", { class: "qr", src, alt: `加入「${o.name}」的二维码：${link}`, width: 320, height: 320 });
  ctx.page(`加入海报：${o.name}`,
    h("p", { class: "actions no-print" },
      h("button", { type: "button", class: "btn", onclick: () => print() }, "打印海报"),
      h("a", { class: "btn secondary", href: src, download: `加入${o.name}二维码.svg` }, "保存二维码"),
      h("a", { class: "btn secondary", href: "/studio", "data-link": true }, "返回工作台")),
    h("section", { class: "card poster", "aria-label": "加入海报" },
      h("p", { class: "poster-brand" }, "家长学堂 · 网络家长学校"),
      h("h2", {}, `欢迎加入「${o.name}」家长学校`),
      h("p", {}, "用手机微信或相机扫一扫，登录后即可加入"),
      img,
      h("p", {}, "也可以打开家长学堂，在「我的 → 加入学校或班级」输入加入码："),
      h("p", { class: "poster-code" }, o.join_code),
      h("p", { class: "meta" }, link),
      h("p", { class: "meta" }, "加入后可以观看学校推荐的家庭教育课程、报名专家直播，学习时长计入家长学校学时。")));
}

// A video picker that uploads in resumable chunks with a progress bar, then follows the
// transcoding until the video is ready.
function uploader(onReady) {
  const input = h("input", { type: "file", accept: "video/*,audio/*", "aria-label": "上传视频" });
  const bar = h("progress", { max: 100, value: 0, hidden: true, "aria-label": "上传进度" });
  const note = h("span", { class: "meta", role: "status" });
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    bar.hidden = false;
    try {
      const up = await api(paths.uploads(), { method: "POST", body: { filename: file.name, size: file.size, content_type: file.type } });
      const have = new Set(up.received);
      for (let n = 0; n < up.chunks; n++) {
        if (!have.has(n)) {
          const blob = file.slice(n * up.chunk_size, Math.min(file.size, (n + 1) * up.chunk_size));
          for (let attempt = 0; ; attempt++) {
            try { await api(paths.uploadChunk(up.id, n), { method: "PUT", raw: new Blob([blob], { type: "application/octet-stream" }) }); break; }
            catch (err) { if (attempt >= 3 || err.status && err.status < 500) throw err; await new Promise((r) => setTimeout(r, 1000 * (attempt + 1))); }
          }
        }
        bar.value = Math.round(((n + 1) / up.chunks) * 100);
        note.textContent = `上传中 ${bar.value}%`;
      }
      const done = await api(paths.uploadComplete(up.id), { method: "POST", body: {} });
      bar.value = 0;
      for (;;) {
        const a = await api(paths.asset(done.asset_id));
        bar.value = a.progress;
        note.textContent = a.state === "processing" ? (a.error ? `转码中 ${a.progress}%（${a.error}）` : `转码中 ${a.progress}%`) : a.state === "ready" ? "视频已就绪" : `处理失败：${a.error}`;
        if (a.state === "ready") { onReady(a.id, a.duration_s); break; }
        if (a.state === "failed") break;
        await new Promise((r) => setTimeout(r, 1000));
      }
    } catch (err) { note.textContent = err.message; toast(err.message, "error"); }
  });
  return h("span", { class: "uploader" }, input, bar, note);
}

// 选择已上传的视频: one of the editor's own transcoded uploads, by file name, so one video can
// serve several lessons and courses without uploading it again.
function videoChooser(onPick) {
  const list = h("ul", { class: "plain videos", "aria-label": "已上传的视频" });
  const q = h("input", { type: "search", placeholder: "按文件名查找", "aria-label": "查找已上传的视频" });
  const box = h("details", { class: "video-chooser" }, h("summary", {}, "选择已上传的视频"), q, list);
  let timer;
  const find = async () => {
    const page = await api(paths.meVideos(qs({ q: q.value.trim(), limit: 20 }))).catch(() => ({ items: [] }));
    list.replaceChildren(...(page.items.length ? page.items.map((v) => h("li", {},
      h("span", { class: "grow" }, v.filename), h("span", { class: "meta" }, duration((v.duration_ms || 0) / 1000)),
      h("button", { type: "button", class: "btn secondary small", "aria-label": `选择 ${v.filename}`, onclick: () => { onPick(v); box.open = false; } }, "选择")))
      : [h("li", { class: "empty" }, "还没有转码完成的视频，请先上传。")]));
  };
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 250); });
  box.addEventListener("toggle", () => { if (box.open) find(); });
  return box;
}

// Captions for a lesson's video: an SRT or WebVTT file per language.
function captions(assetOf) {
  const lang = h("select", { "aria-label": "字幕语言" }, h("option", { value: "zh" }, "中文"), h("option", { value: "en" }, "English"));
  const input = h("input", { type: "file", accept: ".srt,.vtt,text/vtt", "aria-label": "上传字幕（SRT 或 WebVTT）" });
  const note = h("span", { class: "meta", role: "status" });
  input.addEventListener("change", async () => {
    const file = input.files[0], asset = assetOf();
    if (!file) return;
    if (!asset) { note.textContent = "请先上传视频，再上传字幕。"; return; }
    try {
      const c = await api(paths.assetCaption(asset, lang.value), { method: "PUT", raw: new Blob([file], { type: "text/plain" }) });
      note.textContent = `字幕已保存（${c.label}，${c.cues} 条）`;
    } catch (err) { note.textContent = err.message; toast(err.message, "error"); }
    input.value = "";
  });
  return h("span", { class: "uploader" }, "字幕 ", lang, input, note);
}

async function courseEditor(id) {
  const [course, topics] = await Promise.all([id ? api(paths.course(id)) : null, api(paths.topics())]);
  const c = course || { title: "", summary: "", lecturer: { name: "", title: "" }, age_stages: [], topics: [], tags: [], lessons: [], visibility: "scoped", year: new Date().getFullYear() };
  const lessons = h("ol", { class: "lesson-edit" });
  // A video uploaded here belongs to the course only once saved: leaving before that asks first.
  let unsaved = false;
  ctx.setGuard(() => (unsaved ? "新上传的视频还没有保存到课程，离开后需要重新上传。确定离开吗？" : null));
  const addLesson = (l = { title: "", duration_s: 0, asset_id: "" }) => {
    // The exact seconds of the lesson's video are kept; the minutes field shows them rounded and
    // only an edit by hand replaces them (0:35 stays 35 s, not 0.6 min = 36 s).
    const minutes = h("input", { name: "lesson_minutes", "aria-label": "时长（分钟）", type: "number", min: 0, step: "any", inputmode: "decimal", placeholder: "分钟", value: l.duration_s ? +(l.duration_s / 60).toFixed(1) : "",
      oninput: () => { delete row.dataset.seconds; } });
    // The video is chosen by uploading it; its id travels in a hidden field, never shown.
    const chosen = h("span", { class: "meta" }, l.asset_id ? "已有视频" : "");
    const row = h("li", {},
      h("input", { name: "lesson_title", "aria-label": "课时标题", placeholder: "课时标题", value: l.title }),
      minutes,
      h("input", { name: "lesson_asset", type: "hidden", value: l.asset_id || "" }), chosen,
      uploader((assetId, seconds) => {
        unsaved = true;
        row.querySelector("[name=lesson_asset]").value = assetId;
        chosen.textContent = "已上传新视频（保存后生效）";
        if (seconds) { minutes.value = +(seconds / 60).toFixed(1); row.dataset.seconds = String(Math.round(seconds)); }
      }),
      videoChooser((video) => {
        unsaved = true;
        row.querySelector("[name=lesson_asset]").value = video.id;
        chosen.textContent = `已选择「${video.filename}」（保存后生效）`;
        if (video.duration_ms) { minutes.value = +(video.duration_ms / 60000).toFixed(1); row.dataset.seconds = String(Math.round(video.duration_ms / 1000)); }
      }),
      captions(() => row.querySelector("[name=lesson_asset]").value),
      h("button", { type: "button", class: "icon", "aria-label": "删除此课时", onclick: () => {
        const title = row.querySelector("[name=lesson_title]").value.trim();
        const used = title || row.querySelector("[name=lesson_asset]").value;
        if (!used || confirm(`删除课时「${title || "未命名"}」？保存修改后生效。`)) row.remove();
      } }, "✕"));
    row.dataset.id = l.id || "";
    if (l.duration_s) row.dataset.seconds = String(l.duration_s);
    lessons.append(row);
  };
  c.lessons.forEach(addLesson);
  const form = h("form", { class: "card form", novalidate: true },
    field("课程标题", h("input", { name: "title", required: true, maxlength: 100, value: c.title })),
    field("简介", h("textarea", { name: "summary", rows: 4, maxlength: 2000 }, c.summary)),
    h("div", { class: "row" },
      field("主讲人", h("input", { name: "lecturer_name", value: c.lecturer?.name || "" })),
      field("头衔与单位", h("input", { name: "lecturer_title", value: c.lecturer?.title || "" }))),
    h("fieldset", { name: "age_stages" }, h("legend", {}, "适合的年龄段"),
      STAGES.map(([code, label]) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "age_stages", value: code, checked: c.age_stages.includes(code) }), label))),
    h("fieldset", { name: "topics" }, h("legend", {}, "主题"),
      topics.map((t) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "topics", value: t.name, checked: c.topics.includes(t.name) }), t.name))),
    h("div", { class: "row" },
      field("标签（用逗号分隔）", h("input", { name: "tags", value: c.tags.join("，") })),
      field("年份", h("input", { name: "year", type: "number", value: c.year }))),
    field("可见范围", h("select", { name: "visibility" },
      h("option", { value: "scoped", selected: c.visibility === "scoped" }, "本组织及下级（默认）"),
      h("option", { value: "public", selected: c.visibility === "public" }, "全网公开（限省级工作人员）"))),
    h("fieldset", { name: "lessons" }, h("legend", {}, "课时"), lessons,
      h("button", { type: "button", class: "btn secondary", onclick: () => addLesson() }, "添加课时")),
    h("p", { class: "actions" }, h("button", { class: "btn" }, id ? "保存修改" : "创建课程")));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = {
      title: f.get("title"), summary: f.get("summary"),
      lecturer: { name: f.get("lecturer_name"), title: f.get("lecturer_title") },
      age_stages: f.getAll("age_stages"), topics: f.getAll("topics"),
      tags: String(f.get("tags")).split(/[,，、;；]/).map((t) => t.trim()).filter(Boolean),
      year: Number(f.get("year")) || undefined, visibility: f.get("visibility"),
      lessons: [...lessons.children].map((row) => ({
        id: row.dataset.id || undefined,
        title: row.querySelector("[name=lesson_title]").value,
        duration_s: row.dataset.seconds ? Number(row.dataset.seconds) : Math.round(Number(row.querySelector("[name=lesson_minutes]").value || 0) * 60),
        asset_id: row.querySelector("[name=lesson_asset]").value || undefined,
      })),
    };
    if (id) body.version = course.version;
    try {
      const saved = await api(id ? paths.course(id) : paths.courses(), { method: id ? "PATCH" : "POST", body });
      unsaved = false;
      toast(id ? "已保存" : "课程已创建");
      ctx.go(`/studio/courses/${saved.id}`, true);
    } catch (err) { fieldErrors(form, err); toast(err.message, "error"); }
  });

  const children = [h("p", { class: "meta" }, id ? `状态：${STATUS[c.status]} · 版本 ${c.version}` : "新课程保存为草稿，提交审核后由工作人员发布。"), form];
  if (id) children.push(coverForm(c), transitions(c, session().user.role), reviewTrail(c));
  ctx.page(id ? `编辑：${c.title}` : "新建课程", ...children);
}

function coverForm(c) {
  const input = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", "aria-label": "选择封面图片" });
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    try {
      await api(paths.courseCover(c.id), { method: "PUT", raw: file });
      toast("封面已更新");
      ctx.go(location.pathname, true);
    } catch (err) { toast(err.message, "error"); }
  });
  return h("section", { class: "card" }, h("h2", {}, "封面"), c.cover_url ? h("img", { class: "cover", src: c.cover_url, alt: "当前封面" }) : null, input);
}

function transitions(c, role) {
  // Experts submit their drafts; reviewing is staff's (an expert never sees 审核通过 on their own course).
  const moves = (role === "expert" ? { draft: [["in_review", "提交审核"]] } : {
    draft: [["in_review", "提交审核"]],
    in_review: [["published", "审核通过并发布"], ["draft", "退回修改"]],
    published: [["archived", "归档"], ["draft", "撤回为草稿"]],
    archived: [["draft", "恢复为草稿"]],
  })[c.status] || [];
  if (!moves.length) return h("section", { class: "card" }, h("h2", {}, "审核"), h("p", { class: "meta" }, c.status === "in_review" ? "已提交审核，等待工作人员审核。" : "当前状态下没有可做的操作。"));
  const comment = h("input", { name: "comment", placeholder: "审核意见（退回时必填）", "aria-label": "审核意见" });
  return h("section", { class: "card" }, h("h2", {}, "审核"), comment,
    h("p", { class: "actions" }, moves.map(([to, label]) => h("button", {
      type: "button", class: to === "draft" || to === "archived" ? "btn secondary" : "btn", onclick: async () => {
        try {
          await api(paths.courseTransitions(c.id), { method: "POST", body: { to, comment: comment.value } });
          toast(`已${label}`);
          ctx.go(location.pathname, true);
        } catch (err) { toast(err.message, "error"); }
      },
    }, label))));
}

function reviewTrail(c) {
  const list = h("ol", { class: "trail" });
  api(paths.courseReviews(c.id)).then((events) => {
    list.append(...events.map((e) => h("li", {}, `${new Date(e.at).toLocaleString("zh-CN")} ${e.actor_name}：${STATUS[e.from]} → ${STATUS[e.to]}${e.comment ? `（${e.comment}）` : ""}`)));
    if (!events.length) list.append(h("li", { class: "empty" }, "暂无审核记录"));
  }).catch(() => list.append(h("li", { class: "empty" }, "无权查看审核记录")));
  return h("section", { class: "card" }, h("h2", {}, "审核记录"), list);
}

const toLocal = (ts) => (ts ? new Date(new Date(ts).getTime() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16) : "");
const fromLocal = (v) => (v ? new Date(v).toISOString() : undefined);

async function listEditor(id) {
  let list = id ? await api(paths.list(id)) : { title: "", year: new Date().getFullYear(), theme: "", description: "", courses: [], visibility: "scoped" };
  const form = h("form", { class: "card form", novalidate: true },
    field("清单标题", h("input", { name: "title", value: list.title, placeholder: "如：2025 年度家庭教育优秀课程" })),
    h("div", { class: "row" },
      field("年份", h("input", { name: "year", type: "number", value: list.year })),
      field("主题", h("input", { name: "theme", value: list.theme }))),
    field("说明", h("textarea", { name: "description", rows: 3 }, list.description)),
    h("div", { class: "row" },
      field("开始展示", h("input", { name: "published_from", type: "datetime-local", value: toLocal(list.published_from) })),
      field("停止展示", h("input", { name: "published_until", type: "datetime-local", value: toLocal(list.published_until) }))),
    field("可见范围", h("select", { name: "visibility" },
      h("option", { value: "scoped", selected: list.visibility === "scoped" }, "本组织及下级（默认）"),
      h("option", { value: "public", selected: list.visibility === "public" }, "全网公开（限省级工作人员）"))),
    h("p", { class: "actions" }, h("button", { class: "btn" }, id ? "保存清单信息" : "创建清单")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = {
      title: f.get("title"), year: Number(f.get("year")) || undefined, theme: f.get("theme"), description: f.get("description"),
      published_from: fromLocal(f.get("published_from")), published_until: fromLocal(f.get("published_until")), visibility: f.get("visibility"),
    };
    if (id) body.version = list.version;
    try {
      const saved = await api(id ? paths.list(id) : paths.lists(), { method: id ? "PATCH" : "POST", body });
      toast("清单已保存");
      ctx.go(`/studio/lists/${saved.id}`, true);
    } catch (err) { fieldErrors(form, err); toast(err.message, "error"); }
  });
  if (!id) return ctx.page("新建清单", form);

  const items = list.courses.map((c) => ({ id: c.id, title: c.title }));
  const ol = h("ol", { class: "order", "aria-label": "清单中的课程" });
  const heading = h("h2", {});
  const draw = () => { heading.textContent = `清单课程（${items.length}）`; ol.replaceChildren(...items.map((c, i) => h("li", {},
    h("span", { class: "grow" }, c.title),
    h("button", { type: "button", class: "icon", "aria-label": `上移 ${c.title}`, disabled: i === 0, onclick: () => { items.splice(i - 1, 0, items.splice(i, 1)[0]); draw(); } }, "↑"),
    h("button", { type: "button", class: "icon", "aria-label": `下移 ${c.title}`, disabled: i === items.length - 1, onclick: () => { items.splice(i + 1, 0, items.splice(i, 1)[0]); draw(); } }, "↓"),
    h("button", { type: "button", class: "icon", "aria-label": `移除 ${c.title}`, onclick: () => { items.splice(i, 1); draw(); } }, "✕")))); };
  draw();
  const save = h("button", { type: "button", class: "btn", onclick: async () => {
    try {
      list = await api(paths.listItems(id), { method: "PUT", body: { course_ids: items.map((c) => c.id), version: list.version } });
      toast("课程顺序已保存");
    } catch (err) {
      // The order made stays on the page (nothing is reloaded); the refused course is named.
      toast(err.fields?.[0]?.detail || err.message, "error");
    }
  } }, "保存课程与顺序");
  const found = h("ul", { class: "plain", "aria-label": "可加入的课程" });
  const q = h("input", { type: "search", placeholder: "搜索已发布的课程", "aria-label": "搜索要加入的课程" });
  const find = async () => {
    // Only courses the list may take: published and seen by everyone who sees the list.
    const data = await api(paths.courses(qs({ q: q.value.trim(), fits_list: id, limit: 20 }))).catch((err) => { toast(err.message, "error"); return { items: [] }; });
    found.replaceChildren(...data.items.filter((c) => !items.some((i) => i.id === c.id)).map((c) => h("li", {}, h("span", { class: "grow" }, c.title),
      h("button", { type: "button", class: "btn secondary small", onclick: (e) => { items.push({ id: c.id, title: c.title }); draw(); e.target.closest("li").remove(); } }, "加入"))));
    if (!found.children.length) found.append(h("li", { class: "empty" }, "没有可加入的已发布课程（范围比清单小的课程不能加入）"));
  };
  ctx.page(`编辑清单：${list.title}`, form,
    h("section", { class: "card" }, heading, ol, save),
    h("section", { class: "card" }, h("h2", {}, "加入课程"),
      h("form", { class: "search", onsubmit: (e) => { e.preventDefault(); find(); } }, q, h("button", { class: "btn" }, "查找")), found));
  find();
}

// Study-time report (学习报表) for curators: members of an organization subtree with their
// credited time in a period (default: the current term), a bar chart, and a CSV for Excel.
async function studyReport() {
  const picker = orgPicker({ name: "org", label: "组织" });
  await picker.ready;
  const org = picker.select;
  if (!org.value) return ctx.page("学习报表", h("p", { class: "empty" }, "你还没有管理的组织。"));
  const from = h("input", { type: "date", name: "from", "aria-label": "开始日期" });
  const to = h("input", { type: "date", name: "to", "aria-label": "结束日期（含）" });
  const period = () => ({
    from: from.value ? `${from.value}T00:00:00+08:00` : undefined,
    to: to.value ? new Date(new Date(`${to.value}T00:00:00+08:00`).getTime() + 86400000).toISOString() : undefined,
  });
  const summary = h("p", { class: "meta", role: "status" });
  const chart = h("div", { class: "bars", role: "img", "aria-label": "学习时长条形图" });
  const table = reportTable([["姓名"], ["手机号"], ["所在组织"], ["课程（分钟）", "num"], ["直播（分钟）", "num"], ["线下活动（分钟）", "num"], ["完成课时", "num"]]);
  const body = table.body;
  const more = h("button", { type: "button", class: "btn secondary", hidden: true }, "加载更多");
  let cursor = null, rows = [];
  const load = async (reset) => {
    if (reset) { cursor = null; rows = []; body.replaceChildren(); }
    try {
      const page = await api(paths.organizationLearning(org.value, qs({ ...period(), cursor, limit: 50 })));
      rows.push(...page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      body.append(...page.items.map((m) => table.row([m.display_name, m.phone, m.org_name,
        (m.credited_s / 60).toFixed(1), (m.live_s / 60).toFixed(1), (m.offline_s / 60).toFixed(1), m.lessons_completed])));
      const fmt = (ts) => new Date(ts).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" });
      const total = (m) => m.credited_s + m.live_s + m.offline_s;
      summary.textContent = `${fmt(page.from)} 至 ${fmt(new Date(page.to).getTime() - 1)}：已列出 ${rows.length} 人，其中 ${rows.filter((m) => total(m) > 0).length} 人有学习记录，合计 ${duration(rows.reduce((a, m) => a + total(m), 0))}`;
      const top = [...rows].sort((a, b) => total(b) - total(a)).slice(0, 10);
      const max = Math.max(1, ...top.map(total));
      chart.replaceChildren(...top.map((m) => h("div", { class: "bar-row" },
        h("span", { class: "bar-label" }, m.display_name),
        h("span", { class: "bar", style: `width:${Math.max(1, (total(m) / max) * 100)}%` }),
        h("span", { class: "bar-value" }, `${(total(m) / 60).toFixed(1)} 分钟`))));
      if (!rows.length) body.append(table.empty("这个组织还没有成员。"));
    } catch (err) { toast(err.message, "error"); }
  };
  more.addEventListener("click", () => load(false));
  const csv = h("button", { type: "button", class: "btn secondary", onclick: () =>
    download(paths.organizationLearningCsv(org.value, qs(period())), "学习时长报表.csv").catch((err) => toast(err.message, "error")) }, "导出 CSV（Excel）");
  const form = h("form", { class: "card form row", onsubmit: (e) => { e.preventDefault(); load(true); } },
    picker.el, field("开始日期（默认本学期）", from), field("结束日期", to), h("p", { class: "actions" }, h("button", { class: "btn" }, "查询"), csv));
  ctx.page("学习报表", form,
    h("section", { class: "card" }, h("h2", {}, "学习时长前十"), summary, chart),
    h("section", { class: "card" }, h("h2", {}, "成员明细"),
      table.el,
      more));
  load(true);
}
