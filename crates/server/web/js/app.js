// The app shell: history routing, navigation, and the parent-facing pages.
import { api, qs, session, saveSession, clearSession, loginPath, refreshUser } from "./api.js";
import { h, toast, duration, courseCard, fieldErrors, checkRequired, STAGES, stageLabel } from "./ui.js";
import { paths } from "./endpoints.js";
import { ratingCard, quizButton } from "./evaluation.js";

const main = document.getElementById("main");
const EDITORS = ["expert", "curator", "admin"];

// Parents (and visitors) get a bottom tab bar, as in the WeChat mini-programs they know; staff a
// top bar of three items and a 菜单 for the rest, which never wraps at 360 px.
const TABS = [["/", "首页"], ["/live", "直播"], ["/me", "我的学习"], ["/account", "我的"]];

function nav() {
  const s = session();
  const here = location.pathname;
  const staff = s && EDITORS.includes(s.user.role);
  const links = [h("a", { href: "/search", "data-link": true }, "搜索")];
  if (staff) {
    links.push(h("a", { href: "/studio", "data-link": true }, "工作台"));
    const menu = h("div", { class: "menu", id: "staff-menu", hidden: true },
      h("a", { href: "/live", "data-link": true }, "直播"),
      h("a", { href: "/me", "data-link": true }, "我的学习"),
      h("a", { href: "/account", "data-link": true }, "我的"),
      h("button", { type: "button", class: "linklike", onclick: logout }, "退出"));
    const toggle = h("button", { type: "button", class: "linklike", "aria-expanded": "false", "aria-controls": "staff-menu",
      onclick: () => { menu.hidden = !menu.hidden; toggle.setAttribute("aria-expanded", String(!menu.hidden)); } }, "菜单");
    menu.addEventListener("click", (e) => { if (e.target.closest("a, button")) { menu.hidden = true; toggle.setAttribute("aria-expanded", "false"); } });
    links.push(toggle, menu);
  } else if (!s) {
    links.push(h("a", { href: loginPath(here === "/login" ? "/" : undefined), "data-link": true }, "登录"));
  }
  document.getElementById("nav").replaceChildren(...links);
  const tabs = document.getElementById("tabs");
  tabs.hidden = Boolean(staff);
  tabs.replaceChildren(...TABS.map(([href, label]) => {
    const on = href === "/" ? here === "/" : here.startsWith(href);
    return h("a", { href, "data-link": true, class: on ? "on" : null, "aria-current": on ? "page" : null }, label);
  }));
}

// 我的: the account, the organizations joined, joining another, the password, signing out.
async function accountPage(_, { page }) {
  if (!session()) return go(loginPath(), true);
  const me = await refreshUser().catch(() => session().user);
  const orgs = me.organizations || [];
  page("我的",
    h("section", { class: "card" },
      h("p", {}, h("strong", {}, me.display_name), h("span", { class: "meta" }, ` · ${me.phone ? me.phone.replace(/^(\+86)?(\d{3})\d{4}(\d{4})$/, "$2****$3") : ""}`)),
      h("h2", {}, "我的学校和班级"),
      orgs.length ? h("ul", { class: "plain" }, orgs.map((o) => h("li", {}, o.name))) : h("p", { class: "empty" }, "还没有加入学校或班级。"),
      h("p", { class: "actions" }, h("a", { class: "btn secondary", href: "/join", "data-link": true }, "加入学校或班级"),
        h("a", { class: "btn secondary", href: "/children", "data-link": true }, "我的孩子"))),
    h("section", { class: "card" },
      h("p", { class: "actions" },
        h("a", { class: "btn secondary", href: "/password", "data-link": true }, "修改密码"),
        h("button", { type: "button", class: "btn secondary", onclick: logout }, "退出登录"))),
    h("section", { class: "card" }, h("h2", {}, "注销账号"),
      h("p", { class: "meta" }, "注销后手机号、称呼和密码会被删除，聊天内容被清除，学习记录只以匿名编号保留用于统计。此操作不能撤销。"),
      h("p", { class: "actions" }, h("button", { type: "button", class: "btn danger", onclick: async () => {
        const password = prompt("请输入当前密码以确认注销：");
        if (!password) return;
        try {
          await api(paths.me(), { method: "DELETE", body: { password } });
          clearSession();
          toast("账号已注销");
          go("/", true);
        } catch (err) { toast(err.message, "error"); }
      } }, "注销账号"))));
}

async function logout() {
  const s = session();
  if (s?.refresh) await api(paths.authLogout(), { method: "POST", body: { refresh_token: s.refresh } }).catch(() => {});
  clearSession();
  toast("已退出登录");
  go("/");
}

// A page with unsaved work (an uploaded video not yet saved to its course) asks before the app
// navigates away or the tab closes; `guard()` returns the question, or null when nothing is lost.
let guard = null;
const setGuard = (fn) => { guard = fn; };
addEventListener("beforeunload", (e) => { if (guard?.()) e.preventDefault(); });

export function go(path, replace = false) {
  const question = guard?.();
  if (question && !replace && !confirm(question)) return;
  guard = null;
  history[replace ? "replaceState" : "pushState"]({}, "", path);
  render();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link]");
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  e.preventDefault();
  go(a.getAttribute("href"));
});
window.addEventListener("popstate", render);

// Every navigation starts a new render. A render overtaken by a newer one (the home page still
// loading on a slow network when the parent taps 直播) must not draw over the page now shown, so
// each route gets a `page` that does nothing once its render is stale (and an `onLeave` that hangs
// up at once, and a `setGuard` that guards nothing).
let renders = 0;
function view() {
  const n = ++renders;
  const alive = () => n === renders;
  return {
    alive, page: (...args) => { if (alive()) page(...args); },
    onLeave: (fn) => (alive() ? onLeave(fn) : fn()), setGuard: (fn) => { if (alive()) setGuard(fn); },
  };
}

function page(title, ...children) {
  document.title = `${title} · 家长学堂`;
  main.replaceChildren(h("h1", {}, title), ...children.filter(Boolean));
  main.focus({ preventScroll: true });
}

function failed(err) {
  const expired = err.code === "session_expired";
  main.replaceChildren(h("div", { class: "card" }, h("h1", {}, expired ? "请重新登录" : "出错了"), h("p", {}, err.message),
    h("p", { class: "actions" }, expired ? h("a", { class: "btn", href: loginPath(), "data-link": true }, "登录") : null,
      h("a", { href: "/", "data-link": true }, "返回首页"))));
}
window.addEventListener("ps:signed-out", () => nav());

// A page may ask to be told when the user navigates away (the live room hangs up).
let leaving = null;
const onLeave = (fn) => { leaving = fn; };
const live = () => import("./live.js");
const family = () => import("./family.js");
const activities = () => import("./activities.js");
const certificates = () => import("./certificates.js");

const routes = [
  [/^\/$/, home],
  [/^\/login$/, (_, v) => authPage("login", v)],
  [/^\/register$/, (_, v) => authPage("register", v)],
  [/^\/search$/, search],
  [/^\/password$/, passwordPage],
  [/^\/join$/, (_, v) => joinPage("", v)],
  [/^\/join\/([A-Za-z0-9]+)$/, (code, v) => joinPage(code, v)],
  [/^\/me$/, learningPage],
  [/^\/me\/record$/, (_, v) => family().then((m) => m.recordPage({ ...v, go, loginPath, session }))],
  [/^\/me\/certificates$/, (_, v) => certificates().then((m) => m.myCertificates({ ...v, go }))],
  [/^\/verify(?:\/([A-Za-z0-9-]+))?$/, (code, v) => certificates().then((m) => m.verifyPage(code, { ...v, go }))],
  [/^\/account$/, accountPage],
  [/^\/children$/, (_, v) => family().then((m) => m.childrenPage({ ...v, go, loginPath, session }))],
  [/^\/privacy$/, privacyPage],
  [/^\/terms$/, termsPage],
  [/^\/forgot$/, forgotPage],
  [/^\/lists\/([\w-]+)$/, listPage],
  [/^\/courses\/([\w-]+)$/, coursePage],
  [/^\/live$/, (_, v) => live().then((m) => m.schedule({ ...v, go }))],
  [/^\/activities\/([\w-]+)$/, (id, v) => activities().then((m) => m.activityPage(id, { ...v, go }))],
  [/^\/activities\/([\w-]+)\/screen$/, (id, v) => activities().then((m) => m.checkInScreen(id, { ...v, go }))],
  [/^\/activities\/([\w-]+)\/check-in$/, (id, v) => activities().then((m) => m.checkInLanding(id, { ...v, go }))],
  [/^\/live\/([\w-]+)$/, (id, v) => live().then((m) => m.room(id, { ...v, go }))],
  [/^\/studio(\/.*)?$/, (rest, v) => import("./studio.js").then((m) => m.studio(rest || "", { ...v, go, main }))],
];

async function render() {
  guard = null;
  if (leaving) { const fn = leaving; leaving = null; fn(); }
  nav();
  const path = location.pathname;
  const v = view();
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) {
      try { await fn(m[1], v); } catch (err) { if (v.alive()) failed(err); }
      return;
    }
  }
  page("页面不存在", h("p", {}, "这个链接可能已失效。"), h("a", { href: "/", "data-link": true }, "返回首页"));
}

// Age-stage chips: 全部 first (no stage), the typed words kept, a tap on the chosen chip clears it.
function stageChips(active, q = "") {
  const chip = (code, label) => h("a", {
    href: code || q ? `/search${qs({ q, age_stage: code === active ? "" : code })}` : "/search", "data-link": true,
    class: code === active ? "chip on" : "chip", "aria-current": code === active ? "true" : null,
  }, label);
  return h("nav", { class: "chips", "aria-label": "按孩子年龄段浏览" },
    chip("", "全部"), session() ? chip("mine", "我的孩子") : null, STAGES.map(([code, label]) => chip(code, label)));
}

async function home(_, { page, alive }) {
  const s = session();
  const title = s ? `你好，${s.user.display_name}` : "家庭教育精选课程";
  page(title, stageChips(null), h("p", { class: "loading" }, "正在加载课程清单……"));
  // Everything the page shows is asked for at once (one round trip on a slow network, not five),
  // and drawn only if the parent is still here.
  const [lists, invited, next, resume, recommended] = await Promise.all([api(paths.lists()),
    s ? invitations() : [], s ? nextLecture() : null, s ? resumeCard() : null, s ? family().then((m) => m.recommendationRows()) : []]);
  if (!alive()) return;
  const sections = lists.items.map((l) => h("section", { class: "card list" },
    h("h2", {}, h("a", { href: `/lists/${l.id}`, "data-link": true }, l.title)),
    l.description ? h("p", { class: "meta" }, l.description) : null,
    h("ul", { class: "courses" }, l.courses.map(courseCard)),
    l.course_count > l.courses.length
      ? h("a", { href: `/lists/${l.id}`, "data-link": true, class: "more" }, `查看全部 ${l.course_count} 门课程`) : null));
  const belongs = (s?.user.organizations || []).length > 0;
  const why = !s ? "登录后可以看到你所在学校和地区的课程清单。"
    : belongs ? "你所在的学校暂时还没有发布课程清单。" : "暂时还没有面向所有人的课程清单。加入孩子的学校或班级后，这里会显示学校推荐的课程。";
  // An invitation waiting is the first thing a parent sees; then, if they belong nowhere, how to join.
  page(title, ...invited, s && !belongs ? joinCard() : null, next, resume, stageChips(null), ...recommended,
    sections.length ? null : h("p", { class: "card empty" }, why, s ? null : h("a", { href: loginPath("/"), "data-link": true, class: "btn" }, "登录")),
    ...sections);
}

// 继续学习: the lesson last watched and not finished, opened where it was left.
async function resumeCard() {
  const r = (await api(paths.meLearning()).catch(() => null))?.resume;
  if (!r) return null;
  const pct = r.duration_s ? Math.min(100, Math.round((100 * r.watched_s) / r.duration_s)) : 0;
  return h("section", { class: "card resume", "aria-label": "继续学习" },
    h("h2", {}, "继续学习"),
    h("p", {}, h("a", { href: `/courses/${r.course_id}?lesson=${r.lesson_id}`, "data-link": true }, `${r.course_title} · ${r.lesson_title}`)),
    h("span", { class: "lesson-progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct, "aria-label": `已学 ${pct}%` },
      h("span", { style: `width:${pct}%` })),
    h("p", { class: "meta" }, `已学 ${pct}% · 上次看到 ${clock(r.position_s)}`));
}

// The next lecture the parent enrolled in, counting down (to the minute) until it starts.
async function nextLecture() {
  const mine = await api(paths.liveOccurrences(qs({ mine: true }))).catch(() => []);
  const o = mine.find((x) => x.my_enrolment?.state === "enrolled" && x.state !== "ended" && x.state !== "cancelled" && new Date(x.ends_at) > Date.now());
  if (!o) return null;
  const when = h("p", { class: "countdown", role: "timer", "aria-live": "off" });
  const tick = () => {
    if (!when.isConnected && timer) { clearInterval(timer); return; }
    const left = new Date(o.starts_at) - Date.now();
    const d = Math.floor(left / 86400000), hrs = Math.floor((left % 86400000) / 3600000), min = Math.ceil((left % 3600000) / 60000);
    when.textContent = o.state === "live" ? "正在直播，快进去吧" : left <= 0 ? "直播时间到了，等老师开播"
      : d ? `还有 ${d} 天 ${hrs} 小时` : hrs ? `还有 ${hrs} 小时 ${min} 分钟` : `还有 ${min} 分钟`;
  };
  let timer = null;
  tick();
  timer = setInterval(tick, 30000);
  const at = new Date(o.starts_at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" });
  return h("section", { class: "card next-lecture", "aria-label": "下一场直播" },
    h("h2", {}, "下一场直播"),
    h("p", {}, h("a", { href: `/live/${o.id}`, "data-link": true }, o.title), h("span", { class: "meta" }, ` · ${at}`)),
    when);
}

// Staff invitations to a school or class: the parent joins only by accepting here.
async function invitations() {
  const list = await api(paths.meInvitations()).catch(() => []);
  return list.map((inv) => {
    const card = h("section", { class: "card invitation", "aria-label": "加入邀请" }, h("h2", {}, "加入邀请"),
      h("p", {}, `${inv.invited_by} 邀请你加入「${inv.organization.name}」。加入后，该组织的老师可以看到你的学习记录。`));
    const answer = async (accept) => {
      try {
        if (accept) {
          const org = await api(paths.meInvitationAccept(inv.id), { method: "POST", body: {} });
          // The saved session carries the user's organizations: refresh it.
          await refreshUser();
          toast(`已加入「${org.name}」`);
          render();
        } else {
          await api(paths.meInvitation(inv.id), { method: "DELETE" });
          card.remove();
          toast("已拒绝邀请");
        }
      } catch (err) { toast(err.message, "error"); }
    };
    card.append(h("p", { class: "actions" },
      h("button", { type: "button", class: "btn", onclick: () => answer(true) }, "接受并加入"),
      h("button", { type: "button", class: "btn secondary", onclick: () => answer(false) }, "拒绝")));
    return card;
  });
}

// A parent who belongs nowhere yet: how to join their child's school or class.
function joinCard() {
  return h("section", { class: "card invitation", "aria-label": "加入学校或班级" },
    h("h2", {}, "加入孩子的学校或班级"),
    h("p", {}, "向孩子的班主任要一个加入码，或打开老师发在班级群里的加入链接。加入后可以看到学校推荐的课程和直播。"),
    h("p", { class: "actions" }, h("a", { class: "btn", href: "/join", "data-link": true }, "输入加入码")));
}

// 加入学校/班级: a join code typed in, or prefilled from a /join/{code} link.
async function joinPage(code, { page }) {
  if (!session()) {
    page("加入学校或班级", h("section", { class: "card" },
      h("p", {}, code ? `你打开的是加入链接（加入码 ${code}）。请先登录或注册，登录后会回到这里。` : "请先登录或注册，再输入加入码。"),
      h("p", { class: "actions" },
        h("a", { class: "btn", href: loginPath(), "data-link": true }, "登录"),
        h("a", { class: "btn secondary", href: loginPath(undefined, "register"), "data-link": true }, "注册"))));
    return;
  }
  const input = h("input", { name: "join_code", value: code, required: true, autocomplete: "off", autocapitalize: "characters",
    inputmode: "text", maxlength: 16, placeholder: "如：7K2QMX", "aria-describedby": "join-help" });
  const form = h("form", { class: "card form", novalidate: true },
    h("label", {}, "加入码", input),
    h("p", { class: "meta", id: "join-help" }, "加入码由学校或班级的老师提供，不区分大小写。"),
    h("button", { class: "btn" }, "加入"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const value = input.value.trim();
    try {
      const org = await api(paths.meOrganizations(), { method: "POST", body: { join_code: value } });
      await refreshUser();
      toast(`已加入「${org.name}」`);
      go("/", true);
    } catch (err) { fieldErrors(form, err); }
  });
  const mine = session().user.organizations || [];
  page("加入学校或班级", form,
    mine.length ? h("section", { class: "card" }, h("h2", {}, "你已加入"), h("ul", { class: "plain" }, mine.map((o) => h("li", {}, o.name)))) : null);
}

async function search(_, { page }) {
  const params = new URLSearchParams(location.search);
  const q = params.get("q") || "";
  const stage = params.get("age_stage") || "";
  const results = h("ul", { class: "courses", id: "results" });
  const status = h("p", { class: "meta", role: "status" });
  const more = h("button", { type: "button", class: "btn secondary", hidden: true }, "加载更多");
  const input = h("input", { type: "search", name: "q", value: q, placeholder: "搜索课程，如：沟通、焦虑、手机", "aria-label": "搜索课程", enterkeyhint: "search" });
  const form = h("form", { class: "search", role: "search", onsubmit: (e) => {
    e.preventDefault();
    go(`/search${qs({ q: input.value.trim(), age_stage: stage })}`);
  } }, input, h("button", { class: "btn" }, "搜索"));
  page("搜索课程", form, stageChips(stage, q), status, results, more);
  if (!q && !stage) { status.textContent = "输入关键词，或选择孩子的年龄段。"; return; }
  let cursor = null;
  const load = async () => {
    more.disabled = true;
    try {
      const data = await api(paths.courses(qs({ q, age_stage: stage, cursor })));
      results.append(...data.items.map(courseCard));
      cursor = data.next_cursor;
      more.hidden = !cursor;
      status.textContent = results.children.length ? `找到 ${results.children.length}${cursor ? "+" : ""} 门课程` : "没有找到相关课程，换个词试试。";
    } catch (err) { status.textContent = err.message; }
    more.disabled = false;
  };
  more.addEventListener("click", load);
  await load();
}

async function listPage(id, { page }) {
  const l = await api(paths.list(id));
  page(l.title,
    h("p", { class: "meta" }, [l.year && `${l.year} 年度`, l.theme].filter(Boolean).join(" · ")),
    l.description ? h("p", {}, l.description) : null,
    l.courses.length ? h("ol", { class: "courses" }, l.courses.map(courseCard)) : h("p", { class: "empty" }, "清单中暂时没有你可以观看的课程。"));
}

async function coursePage(id, { page }) {
  const s = session();
  let c;
  try { c = await api(paths.course(id)); } catch (err) {
    // A link shared in a class group: most courses are for a school's members, so someone not
    // signed in is asked to sign in (and comes back here), not told the course does not exist.
    if (err.status === 404 && !s) {
      page("登录后查看课程", h("section", { class: "card" },
        h("p", {}, "这门课程面向学校或班级的成员，请登录后查看。"),
        h("p", { class: "actions" }, h("a", { class: "btn", href: loginPath(), "data-link": true }, "登录"),
          h("a", { class: "btn secondary", href: loginPath(undefined, "register"), "data-link": true }, "注册"))));
      return;
    }
    throw err;
  }
  const learning = s ? await api(paths.meLearning()).catch(() => null) : null;
  const done = new Map();
  for (const course of learning?.courses || []) for (const l of course.lessons) done.set(l.lesson_id, l);
  const stage = h("div", { class: "stage", id: "stage" });
  const quizBox = h("div", { class: "quiz-box" });
  const playable = c.lessons.filter((l) => l.asset_id);
  const wanted = new URLSearchParams(location.search).get("lesson");
  const play = async (lesson) => {
    if (!s) { stage.replaceChildren(h("p", { class: "card" }, "登录后即可观看并记录学时。", h("a", { href: "/login", "data-link": true, class: "btn" }, "登录"))); return; }
    const { mountPlayer } = await import("./player.js");
    stage.dataset.lesson = lesson.id;
    const player = await mountPlayer(stage, lesson.asset_id, { title: lesson.title, lessonId: lesson.id });
    // A live lecture's replay: its chat beside it, answered questions as chapters.
    const r = await api(paths.liveReplay(lesson.asset_id)).catch(() => null);
    if (r && player) stage.append(replayPanel(r, player.video));
  };
  const bar = (l) => {
    const p = done.get(l.id);
    const pct = p && p.duration_s ? Math.min(100, Math.round((100 * p.watched_s) / p.duration_s)) : 0;
    return h("span", { class: "lesson-progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct, "aria-label": `已学 ${pct}%` },
      h("span", { style: `width:${pct}%` }), p?.completed ? h("em", {}, "已完成") : null);
  };
  page(c.title,
    playable.length ? stage : (c.cover_url ? h("img", { class: "cover", src: c.cover_url, alt: `${c.title} 封面` }) : null),
    h("p", { class: "meta" }, [c.lecturer?.name && `主讲：${c.lecturer.name}${c.lecturer.title ? `（${c.lecturer.title}）` : ""}`,
      `适合：${c.age_stages.map(stageLabel).join("、")}`].filter(Boolean).join(" · ")),
    c.topics.length || c.tags.length ? h("p", { class: "tags" }, [...c.topics, ...c.tags].map((t) => h("span", { class: "tag" }, t))) : null,
    s ? favouriteButton(c.id) : null,
    c.summary ? h("p", {}, c.summary) : null,
    h("section", { class: "card" }, h("h2", {}, `课程目录（${c.lessons.length} 节，共 ${duration(c.total_duration_s)}）`),
      h("ol", { class: "lessons" }, c.lessons.map((l) => h("li", {},
        l.asset_id ? h("button", { type: "button", class: "linklike lesson-play", onclick: () => { history.replaceState({}, "", `?lesson=${l.id}`); play(l); stage.scrollIntoView({ behavior: "smooth" }); } }, l.title) : h("span", {}, l.title),
        h("span", { class: "meta" }, duration(l.duration_s)), s && l.asset_id ? bar(l) : null, s ? quizButton(l, c.editable, quizBox) : null)))),
    quizBox,
    s ? ratingCard(paths.courseRating(c.id), paths.courseRatings(c.id)) : null,
    c.editable ? h("a", { class: "btn secondary", href: `/studio/courses/${c.id}`, "data-link": true }, "编辑课程") : null);
  if (playable.length && stage.isConnected) await play(playable.find((l) => l.id === wanted) || playable[0]);
}

// 收藏: a toggle (aria-pressed) that keeps the course in 我的学习 → 我的收藏.
function favouriteButton(id) {
  const button = h("button", { type: "button", class: "btn secondary small favourite", "aria-pressed": "false", disabled: true }, "☆ 收藏");
  const show = (on) => { button.setAttribute("aria-pressed", String(on)); button.textContent = on ? "★ 已收藏" : "☆ 收藏"; button.disabled = false; };
  api(paths.meFavourite(id)).then((f) => show(f.favourite)).catch(() => button.remove());
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.disabled = true;
    try {
      await api(paths.meFavourite(id), { method: on ? "PUT" : "DELETE" });
      show(on);
      toast(on ? "已收藏，可在「我的学习」里找到" : "已取消收藏");
    } catch (err) { button.disabled = false; toast(err.message, "error"); }
  });
  return h("p", { class: "actions" }, button);
}

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

function replayPanel(r, video) {
  const seek = (t) => { video.currentTime = t; video.play().catch(() => {}); };
  const chat = h("ol", { class: "chat replay-chat", "aria-label": "直播时的聊天" }, r.messages.map((m) => h("li", { "data-at": m.at_s },
    h("button", { type: "button", class: "linklike time", onclick: () => seek(m.at_s), "aria-label": `跳到 ${clock(m.at_s)}` }, clock(m.at_s)), " ",
    h("strong", {}, `${m.author}${m.kind === "question" ? "（提问）" : ""}：`), m.text)));
  // Follow the replay: messages up to the current time are shown as said.
  video.addEventListener("timeupdate", () => {
    for (const li of chat.children) li.classList.toggle("future", Number(li.dataset.at) > video.currentTime);
  });
  return h("section", { class: "card discussion replay" },
    h("h2", {}, "章节（已回答的问题）"),
    r.chapters.length ? h("ol", { class: "chapters" }, r.chapters.map((c) => h("li", {},
      h("button", { type: "button", class: "linklike chapter", onclick: () => seek(c.at_s) }, `${clock(c.at_s)} ${c.text}`)))) : h("p", { class: "empty" }, "这场直播没有已回答的问题。"),
    h("h2", {}, "直播聊天"), r.messages.length ? chat : h("p", { class: "empty" }, "这场直播没有聊天记录。"));
}

async function learningPage(_, { page }) {
  const s = session();
  if (!s) return go(loginPath(), true);
  const [l, kept] = await Promise.all([api(paths.meLearning()), api(paths.meFavourites("?limit=50")).catch(() => ({ items: [] }))]);
  // Under an hour in minutes (「0.0 小时」 after minutes of study says nothing).
  const hours = (sec) => (sec < 3600 ? duration(sec) : `${(sec / 3600).toFixed(1)} 小时`);
  page("我的学习",
    h("section", { class: "card stats" },
      h("p", {}, h("strong", {}, hours(l.current_term.credited_s)), h("span", { class: "meta" }, ` ${l.current_term.name}学时`)),
      h("p", { class: "meta" }, `${l.previous_term.name}：${hours(l.previous_term.credited_s)} · 累计：${hours(l.total_s)}（其中直播 ${hours(l.live_s)}，线下活动 ${hours(l.offline_s)}）`),
      h("p", { class: "actions" }, h("a", { class: "btn secondary small", href: "/me/record", "data-link": true }, "我的学习档案"),
        h("a", { class: "btn secondary small", href: "/me/certificates", "data-link": true }, "我的证书"))),
    l.courses.length ? h("ul", { class: "plain" }, l.courses.map((c) => h("li", {},
      h("a", { href: `/courses/${c.course_id}`, "data-link": true, class: "grow" }, c.title),
      h("span", { class: "meta" }, `已完成 ${c.lessons_completed}/${c.lesson_count ?? c.lessons.length} 节 · ${duration(c.watched_s)}`
        + (c.quizzes_to_pass ? ` · 还需通过 ${c.quizzes_to_pass} 个课后小测` : "")))))
      : h("p", { class: "empty" }, l.live.length || l.offline.length ? "还没有学过录播课程，去首页选一门吧。" : "还没有学习记录，去首页选一门课程吧。"),
    l.live.length ? h("section", { class: "card" }, h("h2", {}, "参加的直播"), h("ul", { class: "plain" }, l.live.map((a) => h("li", {},
      h("a", { href: `/live/${a.occurrence_id}`, "data-link": true, class: "grow" }, a.title),
      h("span", { class: "meta" }, `${new Date(a.starts_at).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" })} · ${duration(a.attended_ms / 1000)}`))))) : null,
    l.offline.length ? h("section", { class: "card" }, h("h2", {}, "参加的线下活动"), h("ul", { class: "plain" }, l.offline.map((a) => h("li", {},
      h("a", { href: `/activities/${a.activity_id}`, "data-link": true, class: "grow" }, a.title),
      h("span", { class: "meta" }, `${new Date(a.starts_at).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" })} · ${a.kind_label} · ${duration(a.credited_ms / 1000)}`))))) : null,
    h("section", { class: "card", "aria-label": "我的收藏" }, h("h2", {}, "我的收藏"),
      kept.items.length ? h("ul", { class: "courses" }, kept.items.map(courseCard)) : h("p", { class: "empty" }, "还没有收藏课程。在课程页点「☆ 收藏」，以后在这里找到它。")));
}

function authPage(mode, { page }) {
  const register = mode === "register";
  const form = h("form", { class: "card form", novalidate: true },
    h("label", {}, "手机号", h("input", { name: "phone", type: "tel", inputmode: "numeric", autocomplete: "tel", required: true, placeholder: "11 位手机号" })),
    register ? h("label", {}, "称呼", h("input", { name: "display_name", autocomplete: "nickname", required: true, placeholder: "如：乐乐妈妈" })) : null,
    h("label", {}, "密码", h("input", { name: "password", type: "password", autocomplete: register ? "new-password" : "current-password", required: true, placeholder: register ? "至少 8 位，含字母和数字" : "" })),
    register ? h("label", { class: "check" }, h("input", { name: "accept_privacy_notice", type: "checkbox", required: true }),
      h("span", {}, "我已阅读并同意", h("a", { href: "/privacy", target: "_blank" }, "《隐私政策》"), "和", h("a", { href: "/terms", target: "_blank" }, "《用户协议》"),
        "：仅收集手机号、称呼和学习记录，用于家长学校的学习管理。")) : null,
    h("button", { class: "btn" }, register ? "注册" : "登录"),
    h("p", { class: "actions" }, register ? h("a", { href: `/login${location.search}`, "data-link": true }, "已有账号？去登录") : h("a", { href: `/register${location.search}`, "data-link": true }, "没有账号？注册"),
      register ? null : h("a", { href: "/forgot", "data-link": true }, "忘记密码")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const f = new FormData(form);
    const body = { phone: f.get("phone"), password: f.get("password") };
    if (register) Object.assign(body, { display_name: f.get("display_name"), accept_privacy_notice: true });
    try {
      const res = await api(paths.auth(mode), { method: "POST", body });
      saveSession(res);
      toast(register ? "注册成功" : "登录成功");
      const next = new URLSearchParams(location.search).get("next");
      const back = next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : null;
      if (res.user.must_change_password) go("/password", true);
      else go(back || (EDITORS.includes(res.user.role) ? "/studio" : "/"), true);
    } catch (err) { fieldErrors(form, err); }
  });
  page(register ? "注册" : "登录", form);
}

// 隐私政策 and 用户协议: what the service keeps about parents of minors, why, and how to leave.
function privacyPage() {
  page("隐私政策",
    h("section", { class: "card" },
      h("h2", {}, "我们收集什么"),
      h("p", {}, "手机号（登录和找回账号）、你填写的称呼、你加入的学校和班级、学习记录（看过的课程片段、参加的直播和时长）。我们不收集孩子的姓名、照片或其他信息，也不读取通讯录或位置。"),
      h("h2", {}, "用来做什么"),
      h("p", {}, "只用于家长学校的学习管理：记录学时、颁发证书、让你所在学校和上级教育、妇联部门的老师看到学习情况。导出的名单中手机号会被遮挡（如 138****5678）。"),
      h("h2", {}, "谁能看到"),
      h("p", {}, "你加入的学校、班级及其上级组织的工作人员。老师只能邀请你加入，是否加入由你决定；直播聊天中的微信号、QQ 号、手机号和链接会被自动遮挡。"),
      h("h2", {}, "保存多久，如何删除"),
      h("p", {}, "学习记录按学期保存，供学时认定和评价使用。如需退出学校或班级，请联系老师。你可以随时在「我的」里注销账号：注销后，手机号、称呼和密码会被删除，聊天内容被清除，学习记录只以匿名编号保留用于统计。"),
      h("h2", {}, "联系我们"),
      h("p", {}, "对个人信息有疑问或需要更正、删除，请联系你所在学校的家长学校负责老师，或平台运营单位。")));
}

function termsPage() {
  page("用户协议",
    h("section", { class: "card" },
      h("p", {}, "家长学堂是面向家长的网络家长学校，提供家庭教育课程、专家直播和学习记录。"),
      h("h2", {}, "使用规范"),
      h("p", {}, "请文明发言，不发布广告、联系方式、引流信息或与家庭教育无关的内容；不冒充他人；不传播课程视频。违反者的发言会被隐藏，情节严重的账号会被停用。"),
      h("h2", {}, "账号"),
      h("p", {}, "一个手机号注册一个账号，请妥善保管密码。忘记密码时请联系学校老师重置。"),
      h("h2", {}, "学时与证书"),
      h("p", {}, "学时以实际观看和参加直播的时长为准，快进、挂机不计入；证书由主办单位根据学时颁发。"),
      h("p", { class: "meta" }, "使用家长学堂即表示同意本协议和《隐私政策》。")));
}

// 忘记密码: by SMS code where the notifier gateway is configured; always also the school's staff,
// who reset passwords in the studio (the only way when there is no gateway).
async function forgotPage(_, { page }) {
  const { sms } = await api(paths.authPasswordReset()).catch(() => ({ sms: false }));
  const staff = h("section", { class: "card" },
    h("p", {}, sms ? "收不到短信？也可以请孩子所在学校或班级的老师在工作台为你重置密码。" : "请联系孩子所在学校或班级的老师，请他们在工作台为你重置密码。老师会给你一个临时密码，登录后设置新密码即可。"),
    h("p", { class: "meta" }, "为保护你的账号，老师只能为通过加入码、邀请加入或由学校创建的家长账号重置密码。"),
    h("p", { class: "actions" }, h("a", { class: "btn secondary", href: "/login", "data-link": true }, "返回登录")));
  if (!sms) return page("忘记密码", staff);
  const phone = h("input", { name: "phone", type: "tel", inputmode: "numeric", autocomplete: "tel", required: true, placeholder: "11 位手机号" });
  const send = h("button", { type: "button", class: "btn secondary" }, "获取验证码");
  const form = h("form", { class: "card form", novalidate: true },
    h("label", {}, "手机号", phone),
    h("p", { class: "actions" }, send),
    h("label", {}, "短信验证码", h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, required: true, placeholder: "6 位数字" })),
    h("label", {}, "新密码", h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, placeholder: "至少 8 位，含字母和数字" })),
    h("button", { class: "btn" }, "重置密码并登录"));
  let wait = 0;
  send.addEventListener("click", async () => {
    if (!phone.value.trim()) return fieldErrors(form, { fields: [{ field: "phone", detail: "请填写手机号。" }] });
    send.disabled = true;
    try {
      const r = await api(paths.authPasswordResetCode(), { method: "POST", body: { phone: phone.value.trim() } });
      toast(`如果这个手机号已注册，验证码已发出，${Math.round(r.expires_in / 60)} 分钟内有效。`);
      // Another code only after a minute, as SMS services expect.
      wait = 60;
      const tick = setInterval(() => {
        wait -= 1;
        send.textContent = wait > 0 ? `${wait} 秒后可重新获取` : "重新获取验证码";
        if (wait <= 0) { clearInterval(tick); send.disabled = false; }
      }, 1000);
    } catch (err) { send.disabled = false; fieldErrors(form, err); }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const f = new FormData(form);
    try {
      saveSession(await api(paths.authPasswordReset(), { method: "POST", body: { phone: f.get("phone"), code: f.get("code"), new_password: f.get("new_password") } }));
      toast("密码已重置，已为你登录");
      go("/", true);
    } catch (err) { fieldErrors(form, err); }
  });
  page("忘记密码", form, staff);
}

function passwordPage() {
  const form = h("form", { class: "card form", novalidate: true },
    h("p", {}, "请设置新密码（至少 8 位，含字母和数字）。"),
    h("label", {}, "当前密码（或临时密码）", h("input", { name: "current_password", type: "password", autocomplete: "current-password" })),
    h("label", {}, "新密码", h("input", { name: "new_password", type: "password", autocomplete: "new-password" })),
    h("button", { class: "btn" }, "保存新密码"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      saveSession(await api(paths.mePassword(), { method: "POST", body: { current_password: f.get("current_password"), new_password: f.get("new_password") } }));
      toast("密码已更新");
      go("/", true);
    } catch (err) { fieldErrors(form, err); }
  });
  page("修改密码", form);
}

render();
