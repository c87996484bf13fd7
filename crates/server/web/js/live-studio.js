// The live side of the studio: weekly series (create), the expert's go-live page (camera and
// microphone preview with device choice, WHIP with H.264 preferred, viewer count) and the
// attendance report (chart by organization, people, CSV).
import { api, qs, session, download } from "./api.js";
import { h, toast, fieldErrors, checkRequired, reportTable, STAGES } from "./ui.js";
import { exchange, gathered, liveEvents, discussion, iceServers } from "./live.js";
import { orgPicker, expertPicker } from "./pickers.js";
import { paths } from "./endpoints.js";

const STATE = { scheduled: "未开始", live: "直播中", paused: "暂停中", ended: "已结束", cancelled: "已取消" };
const fmt = (ts) => new Date(ts).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" });
const WEEKDAYS = [["MO", "周一"], ["TU", "周二"], ["WE", "周三"], ["TH", "周四"], ["FR", "周五"], ["SA", "周六"], ["SU", "周日"]];
const field = (label, input) => h("label", {}, label, input);

// 直播管理, made for a phone: one card per series (the next lecture with 开播, every date folded
// away, 出勤报表 only where a lecture took place), editing and stopping a series, and the form for
// a new series folded at the top (open when there is none yet).
export async function liveHome(ctx) {
  const s = session();
  const day = 86400000;
  const all = await api(paths.liveOccurrences(qs({ from: new Date(Date.now() - 90 * day).toISOString(), to: new Date(Date.now() + 89 * day).toISOString() })));
  const bySeries = new Map();
  // Offline activities are listed apart: they have no 开播, but a check-in screen.
  const offline = all.filter((x) => x.format === "offline" && new Date(x.ends_at) > Date.now());
  for (const o of all.filter((x) => x.may_manage && x.format !== "offline")) {
    if (!bySeries.has(o.series_id)) bySeries.set(o.series_id, []);
    bySeries.get(o.series_id).push(o);
  }
  const now = Date.now();
  const series = [...bySeries.values()].map((occs) => {
    const next = occs.find((o) => o.state === "live" || o.state === "paused") || occs.find((o) => o.state === "scheduled" && new Date(o.ends_at) > now);
    return { occs, next, title: occs[0].title, id: occs[0].series_id };
  }).sort((a, b) => (a.next ? new Date(a.next.starts_at) : Infinity) - (b.next ? new Date(b.next.starts_at) : Infinity));
  const current = series.filter((x) => x.next), past = series.filter((x) => !x.next);
  const create = h("details", { class: "card create", open: series.length === 0 || null },
    h("summary", {}, h("h2", {}, "新建每周直播")), await seriesForm(ctx, s));
  const activities = h("section", { class: "card", "aria-label": "线下活动" }, h("h2", {}, "线下活动"),
    h("p", { class: "actions" }, h("a", { class: "btn secondary", href: "/studio/activities/new", "data-link": true }, "新建线下活动")),
    offline.length ? h("ul", { class: "plain" }, offline.map((o) => h("li", { class: "occurrence" },
      h("a", { class: "grow", href: `/activities/${o.id}`, "data-link": true }, o.title),
      h("span", { class: "meta" }, `${fmt(o.starts_at)} · ${o.enrolled}/${o.capacity} 人`),
      h("a", { class: "btn secondary small", href: `/activities/${o.id}/screen`, "data-link": true }, "签到屏")))) : h("p", { class: "empty" }, "近期没有线下活动。"));
  ctx.page("直播管理", create, activities,
    ...(current.length ? current.map((x) => seriesCard(x, ctx)) : [h("p", { class: "card empty" }, "还没有要开的直播。")]),
    past.length ? h("section", { class: "card" }, h("h2", {}, "已结束的系列"), h("ul", { class: "plain" }, past.map((x) => h("li", {},
      h("strong", { class: "grow" }, x.title),
      h("span", { class: "meta" }, `${x.occs.filter((o) => o.state === "ended").length} 场已开`),
      ...x.occs.filter(tookPlace).slice(-1).map((o) => h("a", { class: "btn secondary small", href: `/studio/live/${o.id}/report`, "data-link": true }, "出勤报表")))))) : null);
}

const tookPlace = (o) => o.state === "live" || o.state === "paused" || o.state === "ended";
const chinaDate = (ts) => new Date(ts).toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });

function seriesCard(x, ctx) {
  const { occs, next } = x;
  const upcoming = occs.filter((o) => o.state === "scheduled" && new Date(o.starts_at) > Date.now());
  const dates = h("ol", { class: "plain occurrences" }, occs.map((o) => h("li", { class: "occurrence" },
    h("span", { class: "grow" }, fmt(o.starts_at)),
    h("span", { class: "meta" }, `${o.enrolled}/${o.capacity} 人`),
    h("span", { class: `badge ${o.state}` }, STATE[o.state]),
    tookPlace(o) ? h("a", { class: "btn secondary small", href: `/studio/live/${o.id}/report`, "data-link": true }, "出勤报表") : null,
    o.state === "scheduled" && new Date(o.starts_at) > Date.now() ? h("button", { type: "button", class: "btn secondary small", onclick: () => skipDate(x.id, o, ctx) }, "取消这一场") : null)));
  const edit = h("details", { class: "edit" }, h("summary", {}, "修改系列"));
  edit.addEventListener("toggle", async () => {
    if (!edit.open || edit.querySelector("form")) return;
    edit.append(await editForm(x.id, ctx));
  }, { once: false });
  return h("section", { class: "card series", "aria-label": x.title },
    h("h2", {}, x.title),
    h("p", { class: "meta" }, `共 ${occs.length} 场 · 还有 ${upcoming.length} 场未开始`),
    h("p", {}, `下一场：${fmt(next.starts_at)}`, h("span", { class: "meta" }, ` · ${next.enrolled}/${next.capacity} 人报名`), " ",
      h("span", { class: `badge ${next.state}` }, STATE[next.state])),
    h("p", { class: "actions" },
      h("a", { class: "btn", href: `/studio/live/${next.id}`, "data-link": true }, next.state === "scheduled" ? "开播" : "回到直播间"),
      h("button", { type: "button", class: "btn danger", onclick: () => stopSeries(x, ctx) }, "停止系列")),
    h("details", {}, h("summary", {}, `全部场次（${occs.length}）`), dates),
    edit);
}

async function skipDate(seriesId, o, ctx) {
  if (!confirm(`取消 ${fmt(o.starts_at)} 这一场？已报名的家长会收到通知。`)) return;
  try {
    const sr = await api(paths.liveSeriesById(seriesId));
    await api(paths.liveSeriesById(seriesId), { method: "PATCH", body: { version: sr.version, exceptions: [...sr.exceptions, chinaDate(o.starts_at)] } });
    toast("这一场已取消，已通知报名的家长");
    ctx.go("/studio/live", true);
  } catch (err) { toast(err.message, "error"); }
}

async function stopSeries(x, ctx) {
  if (!confirm(`停止「${x.title}」？之后的场次都会取消，已报名的家长会收到通知；已开的场次和出勤记录保留。`)) return;
  try {
    await api(paths.liveSeriesById(x.id), { method: "DELETE" });
    toast("系列已停止，已通知报名的家长");
    ctx.go("/studio/live", true);
  } catch (err) { toast(err.message, "error"); }
}

const stageBoxes = (chosen = []) => h("fieldset", { name: "age_stages" }, h("legend", {}, "适合的年龄段（回放课程沿用）"),
  STAGES.map(([code, label]) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "age_stages", value: code, checked: chosen.includes(code) }), label)));

async function editForm(id, ctx) {
  const sr = await api(paths.liveSeriesById(id));
  const form = h("form", { class: "form", novalidate: true },
    field("标题", h("input", { name: "title", required: true, maxlength: 100, value: sr.title })),
    field("简介", h("textarea", { name: "description", rows: 2, maxlength: 2000 }, sr.description)),
    h("div", { class: "row" },
      field("时长（分钟）", h("input", { name: "duration_minutes", type: "number", min: 10, max: 480, value: sr.duration_minutes })),
      field("人数上限", h("input", { name: "capacity", type: "number", min: 1, value: sr.capacity }))),
    stageBoxes(sr.age_stages),
    h("p", { class: "actions" }, h("button", { class: "btn" }, "保存修改")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const f = new FormData(form);
    try {
      await api(paths.liveSeriesById(id), { method: "PATCH", body: {
        version: sr.version, title: f.get("title"), description: f.get("description"),
        duration_minutes: Number(f.get("duration_minutes")), capacity: Number(f.get("capacity")), age_stages: f.getAll("age_stages"),
      } });
      toast("系列已保存");
      ctx.go("/studio/live", true);
    } catch (err) { fieldErrors(form, err); toast(err.message, "error"); }
  });
  return form;
}

async function seriesForm(ctx, s) {
  const orgs = s.user.organizations || [];
  const form = h("form", { class: "form", novalidate: true },
    field("标题", h("input", { name: "title", required: true, maxlength: 100 })),
    field("简介", h("textarea", { name: "description", rows: 2, maxlength: 2000 })),
    h("div", { class: "row" },
      field("首次开播（北京时间）", h("input", { name: "starts_at", type: "datetime-local", required: true })),
      field("时长（分钟）", h("input", { name: "duration_minutes", type: "number", min: 10, max: 480, value: 60 }))),
    h("fieldset", { name: "rrule" }, h("legend", {}, "每周重复"),
      WEEKDAYS.map(([code, label]) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "byday", value: code }), label)),
      field("共几次", h("input", { name: "count", type: "number", min: 1, max: 104, value: 10 }))),
    h("div", { class: "row" },
      field("人数上限", h("input", { name: "capacity", type: "number", min: 1, value: 500 })),
      field("出勤比例（观看时长占直播时长）", h("input", { name: "attendance_threshold", type: "number", min: 0.05, max: 1, step: 0.05, value: 0.5 }))),
    // Experts aim at their own organizations; staff pick any they manage, by name.
    s.user.role === "expert"
      ? field("面向", h("select", { name: "scope_org_id" }, orgs.map((o) => h("option", { value: o.id }, `${o.name}及下级`))))
      : orgPicker({ name: "scope_org_id", label: "面向（所选组织及下级）", required: false, extra: [["", "所有人（限省级工作人员）"]] }).el,
    stageBoxes(),
    s.user.role !== "expert" ? expertPicker() : null,
    h("p", { class: "actions" }, h("button", { class: "btn" }, "创建")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const f = new FormData(form);
    const days = f.getAll("byday");
    const local = f.get("starts_at");
    const body = {
      title: f.get("title"), description: f.get("description"),
      starts_at: local ? `${local}:00+08:00` : "",
      duration_minutes: Number(f.get("duration_minutes")), capacity: Number(f.get("capacity")),
      attendance_threshold: Number(f.get("attendance_threshold")),
      rrule: `FREQ=WEEKLY;${days.length ? `BYDAY=${days.join(",")};` : ""}COUNT=${Number(f.get("count")) || 1}`,
      scope_org_id: f.get("scope_org_id") || null, age_stages: f.getAll("age_stages"),
    };
    if (f.get("expert_id")) body.expert_id = f.get("expert_id");
    try {
      const created = await api(paths.liveSeries(), { method: "POST", body });
      toast(`已创建 ${created.occurrences.length} 场直播`);
      ctx.go("/studio/live", true);
    } catch (err) { fieldErrors(form, err); toast(err.message, "error"); }
  });
  return form;
}

export async function goLive(id, ctx) {
  const o = await api(paths.liveOccurrence(id));
  const preview = h("video", { autoplay: true, muted: true, playsinline: true, "aria-label": "摄像头预览" });
  const camera = h("select", { "aria-label": "摄像头" });
  const mic = h("select", { "aria-label": "麦克风" });
  const status = h("p", { class: "live-status", role: "status", "aria-live": "polite" }, STATE[o.state]);
  const viewers = h("p", { class: "meta" }, "0 人正在观看");
  const start = h("button", { type: "button", class: "btn" }, "开始直播");
  const pause = h("button", { type: "button", class: "btn secondary", disabled: true }, "暂停推流");
  const end = h("button", { type: "button", class: "btn danger" }, "结束直播");
  const talk = discussion(id, { manage: true });
  ctx.page(`开播：${o.title}`, h("div", { class: "card" },
    h("p", { class: "meta" }, `${fmt(o.starts_at)} · ${o.enrolled} 人已报名`),
    h("div", { class: "player" }, preview),
    h("div", { class: "row" }, field("摄像头", camera), field("麦克风", mic)),
    h("p", { class: "actions" }, start, pause, end), status, viewers), talk.panel, streamKeyCard(id));

  let stream = null, pc = null, location = null;
  const openDevices = async () => {
    stream?.getTracks().forEach((t) => t.stop());
    stream = await navigator.mediaDevices.getUserMedia({
      video: camera.value ? { deviceId: { exact: camera.value } } : { width: 1280, height: 720 },
      audio: mic.value ? { deviceId: { exact: mic.value } } : true,
    });
    preview.srcObject = stream;
    if (pc) {
      for (const sender of pc.getSenders()) {
        const t = stream.getTracks().find((x) => x.kind === sender.track?.kind);
        if (t) await sender.replaceTrack(t);
      }
    }
  };
  try {
    await openDevices();
    const devices = await navigator.mediaDevices.enumerateDevices();
    camera.replaceChildren(...devices.filter((d) => d.kind === "videoinput").map((d, i) => h("option", { value: d.deviceId }, d.label || `摄像头 ${i + 1}`)));
    mic.replaceChildren(...devices.filter((d) => d.kind === "audioinput").map((d, i) => h("option", { value: d.deviceId }, d.label || `麦克风 ${i + 1}`)));
  } catch (err) { status.textContent = `无法打开摄像头或麦克风：${err.message}`; }
  camera.addEventListener("change", openDevices);
  mic.addEventListener("change", openDevices);

  const hangUp = async () => {
    pc?.close(); pc = null;
    if (location) { const l = location; location = null; await fetch(l, { method: "DELETE", headers: { authorization: `Bearer ${session()?.access}` } }).catch(() => {}); }
    start.disabled = false; pause.disabled = true;
  };
  start.addEventListener("click", async () => {
    if (!stream) return toast("请先允许使用摄像头和麦克风", "error");
    start.disabled = true;
    status.textContent = "正在连接……";
    pc = new RTCPeerConnection({ iceServers: await iceServers() });
    for (const track of stream.getTracks()) {
      const t = pc.addTransceiver(track, { direction: "sendonly" });
      // H.264 first (the replay and live HLS can use it without re-encoding), VP8 otherwise.
      if (track.kind === "video" && RTCRtpSender.getCapabilities && t.setCodecPreferences) {
        const codecs = RTCRtpSender.getCapabilities("video").codecs;
        const rank = (c) => (/h264/i.test(c.mimeType) ? 0 : /vp8/i.test(c.mimeType) ? 1 : 2);
        t.setCodecPreferences([...codecs].sort((a, b) => rank(a) - rank(b)));
      }
    }
    pc.onconnectionstatechange = () => {
      if (!pc) return;
      if (pc.connectionState === "connected") status.textContent = "直播中";
      if (pc.connectionState === "failed") { status.textContent = "推流中断，请重新开始直播。"; hangUp(); }
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const r = await exchange(paths.liveOccurrenceWhip(id), pc.localDescription.sdp, session()?.access);
      location = r.location;
      await pc.setRemoteDescription({ type: "answer", sdp: r.answer });
      pause.disabled = false;
    } catch (err) { status.textContent = err.message; await hangUp(); }
  });
  pause.addEventListener("click", async () => { await hangUp(); status.textContent = "已暂停推流：观众会看到“主讲人暂时离开”。"; });
  end.addEventListener("click", async () => {
    if (!confirm("确定结束这场直播吗？结束后不能再开播。")) return;
    await hangUp();
    try { await api(paths.liveOccurrenceEnd(id), { method: "POST", body: {} }); status.textContent = "直播已结束"; start.disabled = true; }
    catch (err) { toast(err.message, "error"); }
  });
  const closeEvents = await liveEvents(id, {
    ...talk.handlers,
    viewers: (n) => { viewers.textContent = `${n} 人正在观看`; },
    state: (st) => { if (!pc || st !== "live") status.textContent = STATE[st]; },
  });
  ctx.onLeave(() => { closeEvents(); hangUp(); stream?.getTracks().forEach((t) => t.stop()); });
}

// OBS and other WHIP encoders: a per-lecture stream key used as the WHIP Bearer token.
function streamKeyCard(id) {
  const box = h("div", { class: "stream-key" });
  const show = (k) => box.replaceChildren(
    field("WHIP 地址（服务器）", h("input", { readonly: true, value: k.whip_url, onfocus: (e) => e.target.select() })),
    field("推流密钥（Bearer Token）", h("input", { readonly: true, value: k.stream_key, onfocus: (e) => e.target.select() })),
    h("p", { class: "meta" }, "密钥只显示这一次；泄露后请撤销并重新生成。"));
  const create = h("button", { type: "button", class: "btn secondary", onclick: async () => {
    try { show(await api(paths.liveOccurrenceStreamKey(id), { method: "POST", body: {} })); toast("已生成推流密钥"); }
    catch (err) { toast(err.message, "error"); }
  } }, "生成推流密钥");
  const revoke = h("button", { type: "button", class: "btn secondary", onclick: async () => {
    try { await api(paths.liveOccurrenceStreamKey(id), { method: "DELETE" }); box.replaceChildren(h("p", {}, "推流密钥已撤销。")); }
    catch (err) { toast(err.message, "error"); }
  } }, "撤销密钥");
  return h("section", { class: "card" }, h("h2", {}, "用 OBS 推流"),
    h("p", { class: "meta" }, "OBS 30 及以上：设置 → 直播 → 服务选“WHIP”，填入下面的地址和密钥；编码选 H.264 和 Opus。"),
    box, h("p", { class: "actions" }, create, revoke));
}

export async function report(id, ctx) {
  const r = await api(paths.liveOccurrenceAttendance(id));
  const max = Math.max(1, ...r.by_org.map((o) => o.enrolled));
  const chart = h("div", { class: "bars", role: "img", "aria-label": "各组织报名与出勤人数" },
    r.by_org.map((o) => h("div", { class: "bar-row" },
      h("span", { class: "bar-label" }, o.org_name || "未加入组织"),
      h("span", { class: "bar-pair" },
        h("span", { class: "bar light", style: `width:${(o.enrolled / max) * 100}%` }),
        h("span", { class: "bar", style: `width:${(o.attended / max) * 100}%` })),
      h("span", { class: "bar-value" }, `${o.attended}/${o.enrolled} 人`))));
  const people = reportTable([["姓名"], ["手机号"], ["所在组织"], ["报名"], ["观看（分钟）", "num"], ["出勤"]]);
  people.body.append(...r.people.map((p) => people.row([p.display_name, p.phone, p.org_name,
    { enrolled: "已报名", waitlisted: "候补", cancelled: "已取消" }[p.enrolment] || "未报名", p.minutes.toFixed(1), p.attended ? "是" : "否"])));
  if (!r.people.length) people.body.append(people.empty("还没有人报名或观看。"));
  ctx.page(`出勤报表：${r.title}`,
    h("section", { class: "card" },
      h("p", {}, `${fmt(r.starts_at)} · 实际直播 ${r.live_minutes} 分钟 · 出勤标准：观看满 ${Math.round(r.threshold * 100)}%`),
      h("p", { class: "summary" }, `报名 ${r.enrolled} 人，出勤 ${r.attended} 人`),
      h("h2", {}, "按组织"), chart,
      h("p", { class: "meta" }, "浅色：报名人数；深色：出勤人数"),
      h("button", { type: "button", class: "btn secondary", onclick: () =>
        download(paths.liveOccurrenceAttendanceCsv(id), `直播出勤-${r.title}.csv`).catch((err) => toast(err.message, "error")) }, "导出 CSV（Excel）")),
    h("section", { class: "card" }, h("h2", {}, "明细"),
      people.el));
}
