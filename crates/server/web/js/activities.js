// 线下活动 pages: the studio's form for a new activity, the activity (time, place, seats, 报名,
// one's own 签到), the host's check-in screen (a big QR code that changes every 30 s, the live
// count, and the enrolment list to check a parent in by hand), and the page a parent's phone
// camera opens from that code (signs in if needed, then checks in).
import { api, qs, session, loginPath, imageUrl } from "./api.js";
import { h, toast, fieldErrors, checkRequired } from "./ui.js";
import { paths } from "./endpoints.js";
import { ratingCard } from "./evaluation.js";

const when = (ts) => new Date(ts).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" });
const hm = (ts) => new Date(ts).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit" });

export async function activityPage(id, { page, go }) {
  if (!session()) return go(loginPath(), true);
  const a = await api(paths.activity(id));
  const status = [];
  if (a.my_enrolment === "enrolled") status.push("已报名");
  if (a.my_enrolment === "waitlisted") status.push("候补中");
  if (a.my_check_in) status.push(`${hm(a.my_check_in)} 已签到`);
  if (a.my_check_out) status.push(`${hm(a.my_check_out)} 已签退`);
  const actions = h("p", { class: "actions" });
  if (!a.my_enrolment || a.my_enrolment === "cancelled") {
    actions.append(h("button", { type: "button", class: "btn", onclick: async () => {
      try {
        const r = await api(paths.activityEnrolments(id), { method: "POST", body: {} });
        toast(r.state === "enrolled" ? "报名成功" : `名额已满，你在候补第 ${r.waitlist_position} 位`);
        await activityPage(id, { page, go });
      } catch (err) { toast(err.message, "error"); }
    } }, "报名"));
  }
  if (a.is_host) actions.append(h("a", { class: "btn secondary", href: `/activities/${id}/screen`, "data-link": true }, "打开签到屏"));
  page(a.title,
    h("section", { class: "card activity" },
      h("p", {}, h("span", { class: "badge offline" }, a.kind_label), status.length ? h("span", { class: "badge mine" }, status.join(" · ")) : null),
      h("p", {}, h("strong", {}, "时间："), `${when(a.starts_at)} – ${hm(a.ends_at)}`),
      h("p", {}, h("strong", {}, "地点："), a.place,
        a.latitude != null ? h("span", { class: "meta" }, `（${a.latitude.toFixed(4)}, ${a.longitude.toFixed(4)}）`) : null),
      h("p", {}, h("strong", {}, "名额："), `${a.enrolled}/${a.capacity} 人已报名${a.waitlisted ? `，${a.waitlisted} 人候补` : ""}`),
      h("p", {}, h("strong", {}, "学时："), `签到${a.requires_check_out ? "并签退" : ""}后计 ${a.credit_minutes} 分钟`),
      a.description ? h("p", {}, a.description) : null,
      h("p", { class: "meta" }, "到场后用手机相机扫描现场屏幕上的二维码签到。"),
      actions),
    ratingCard(paths.liveOccurrenceRating(id), paths.liveOccurrenceRatings(id)));
}

// The host's screen, for a phone or a projector: the QR code is fetched again every 5 s (the
// server changes it every 30 s); the count every 3 s.
export async function checkInScreen(id, { page, go, onLeave }) {
  if (!session()) return go(loginPath(), true);
  const a = await api(paths.activity(id));
  if (!a.is_host) return page("签到屏", h("p", { class: "card empty" }, "只有主办单位的工作人员可以打开签到屏。"));
  let purpose = "in";
  const img = h("img", { class: "qr big", alt: "签到二维码", width: 320, height: 320 });
  const count = h("p", { class: "count", role: "status", "aria-live": "polite" });
  const link = h("p", { class: "meta code-link" });
  const names = h("ul", { class: "plain checked" });
  let shown = "";
  const drawCode = async () => {
    const c = await api(paths.activityCheckInCode(id, qs({ purpose })));
    if (c.code === shown) return;
    shown = c.code;
    img.src = await imageUrl(paths.qrSvg(qs({ text: c.url })));
    img.alt = `${purpose === "in" ? "签到" : "签退"}二维码`;
    img.dataset.url = c.url;
    link.textContent = "二维码每 30 秒更新一次，截图转发无效。";
  };
  const roster = h("ul", { class: "plain roster" });
  const byHand = async (m, purpose) => {
    try {
      await api(paths.activityCheckIn(id, m.user_id), { method: "PUT", body: { purpose } });
      toast(`已为${m.display_name}${purpose === "in" ? "签到" : "签退"}`);
      await drawCount();
    } catch (err) { toast(err.message, "error"); }
  };
  const drawCount = async () => {
    const l = await api(paths.activityCheckIns(id));
    count.textContent = `已签到 ${l.checked_in} 人${a.requires_check_out ? ` · 已签退 ${l.checked_out} 人` : ""} · 已报名 ${l.enrolled} 人`;
    names.replaceChildren(...l.items.slice(-8).reverse().map((i) =>
      h("li", {}, `${hm(i.at)} ${i.display_name} ${i.purpose === "in" ? "签到" : "签退"}${i.method === "manual" ? "（手动）" : ""}`)));
    roster.replaceChildren(...l.members.filter((m) => m.state === "enrolled").map((m) => h("li", { class: "occurrence" },
      h("span", { class: "grow" }, m.display_name),
      m.checked_in_at ? h("span", { class: "meta" }, `${hm(m.checked_in_at)} 已签到`) : h("button", { type: "button", class: "btn secondary small", onclick: () => byHand(m, "in") }, "手动签到"),
      a.requires_check_out && m.checked_in_at && !m.checked_out_at ? h("button", { type: "button", class: "btn secondary small", onclick: () => byHand(m, "out") }, "手动签退") : null)));
  };
  const toggle = a.requires_check_out ? h("p", { class: "actions" },
    h("button", { type: "button", class: "btn secondary small", onclick: async (e) => {
      purpose = purpose === "in" ? "out" : "in";
      e.target.textContent = purpose === "in" ? "切换到签退" : "切换到签到";
      shown = "";
      await drawCode();
    } }, "切换到签退")) : null;
  page(`签到：${a.title}`, h("section", { class: "card screen" }, img, count, link, toggle, names),
    h("details", { class: "card" }, h("summary", {}, "报名名单（手动签到）"), roster));
  await Promise.all([drawCode(), drawCount()]);
  const timers = [setInterval(() => drawCode().catch(() => {}), 5000), setInterval(() => drawCount().catch(() => {}), 3000)];
  onLeave(() => timers.forEach(clearInterval));
}

// Opened from the QR code: signs in first when needed (and comes back here), then checks in.
export async function checkInLanding(id, { page, go }) {
  if (!session()) return go(loginPath(), true);
  const params = new URLSearchParams(location.search);
  const purpose = params.get("purpose") === "out" ? "out" : "in";
  const word = purpose === "in" ? "签到" : "签退";
  page(word, h("p", { class: "loading" }, `正在${word}……`));
  try {
    const r = await api(paths.activityCheckIns(id), { method: "POST", body: { code: params.get("code") || "", purpose } });
    page(`${word}成功`, h("section", { class: "card result ok", role: "status" },
      h("p", {}, h("strong", {}, `${hm(r.at)} ${word}成功`)),
      h("p", {}, r.credited ? `已记入学时 ${r.credit_minutes} 分钟。` : "活动结束时请再扫码签退，签退后记入学时。"),
      h("a", { class: "btn secondary", href: `/activities/${id}`, "data-link": true }, "查看活动")));
  } catch (err) {
    page(`${word}未成功`, h("section", { class: "card result" },
      h("p", { class: "err", role: "alert" }, err.message),
      h("a", { class: "btn secondary", href: `/activities/${id}`, "data-link": true }, "查看活动")));
  }
}

const KINDS = [["lecture", "专题讲座"], ["parent_child", "亲子活动"], ["social_practice", "社会实践"], ["parents_meeting", "家长会"], ["other", "其他"]];

// Where a staff member may hold an activity and whom it may be for: what they manage (curators),
// their own organizations, and what their partner units serve.
async function places() {
  const me = session().user;
  const own = me.organizations || [];
  const managed = me.role === "expert" ? [] : (await api(paths.organizations("?limit=100")).catch(() => ({ items: [] }))).items;
  const hosts = [...managed, ...own.filter((o) => !managed.some((m) => m.id === o.id))];
  const served = (await Promise.all(own.filter((o) => o.kind === "partner").map((o) =>
    api(paths.organizationServes(o.id)).then((r) => r.organizations).catch(() => [])))).flat();
  const audiences = [...hosts.filter((o) => o.kind !== "partner"), ...served.filter((o) => !hosts.some((x) => x.id === o.id))];
  return { hosts, audiences };
}

export async function newActivity(ctx) {
  const { hosts, audiences } = await places();
  const opt = (o) => h("option", { value: o.id }, o.name);
  const local = (min) => new Date(Date.now() + 8 * 3600000 + min * 60000).toISOString().slice(0, 16);
  const f = {
    title: h("input", { name: "title", required: true, maxlength: 100, placeholder: "如：亲子自然观察" }),
    kind: h("select", { name: "kind" }, KINDS.map(([v, l]) => h("option", { value: v }, l))),
    place: h("input", { name: "place", required: true, maxlength: 200, placeholder: "如：学校礼堂、区图书馆三楼" }),
    starts_at: h("input", { name: "starts_at", type: "datetime-local", required: true, value: local(7 * 1440) }),
    ends_at: h("input", { name: "ends_at", type: "datetime-local", required: true, value: local(7 * 1440 + 120) }),
    capacity: h("input", { name: "capacity", type: "number", min: 1, required: true, value: 50, inputmode: "numeric" }),
    credit_minutes: h("input", { name: "credit_minutes", type: "number", min: 0, max: 1440, required: true, value: 90, inputmode: "numeric" }),
    host_org_id: h("select", { name: "host_org_id" }, hosts.map(opt)),
    scope_org_id: h("select", { name: "scope_org_id" }, audiences.map(opt)),
    requires_check_out: h("input", { name: "requires_check_out", type: "checkbox" }),
    requires_enrolment: h("input", { name: "requires_enrolment", type: "checkbox", checked: true }),
    description: h("textarea", { name: "description", rows: 3, maxlength: 2000 }),
  };
  const china = (v) => `${v}:00+08:00`;
  const form = h("form", { class: "card form", novalidate: true },
    h("label", {}, "活动名称", f.title), h("label", {}, "类型", f.kind), h("label", {}, "地点", f.place),
    h("label", {}, "开始时间", f.starts_at), h("label", {}, "结束时间", f.ends_at),
    h("label", {}, "名额（满后候补）", f.capacity), h("label", {}, "学时（分钟）", f.credit_minutes),
    h("label", {}, "主办单位", f.host_org_id), h("label", {}, "面向", f.scope_org_id),
    h("label", { class: "check" }, f.requires_check_out, h("span", {}, "结束时需要签退才计学时")),
    h("label", { class: "check" }, f.requires_enrolment, h("span", {}, "只有报名的家长可以签到")),
    h("label", {}, "活动简介", f.description),
    h("button", { class: "btn" }, "创建活动"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const body = {
      title: f.title.value.trim(), kind: f.kind.value, place: f.place.value.trim(), description: f.description.value.trim(),
      starts_at: china(f.starts_at.value), ends_at: china(f.ends_at.value), capacity: Number(f.capacity.value),
      credit_minutes: Number(f.credit_minutes.value), host_org_id: f.host_org_id.value, scope_org_id: f.scope_org_id.value,
      requires_check_out: f.requires_check_out.checked, requires_enrolment: f.requires_enrolment.checked,
    };
    try {
      const a = await api(paths.activities(), { method: "POST", body });
      toast("活动已创建");
      ctx.go(`/activities/${a.id}`);
    } catch (err) { fieldErrors(form, err); }
  });
  ctx.page("新建线下活动", hosts.length ? form : h("p", { class: "card empty" }, "你还没有可以主办活动的组织。"));
}
