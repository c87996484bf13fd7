// Live lectures for parents: the 活动与直播 schedule (livestreams and offline activities: enrol,
// cancel, add to calendar) and the live room
// (WHEP player, state from Server-Sent Events, a message for every state and error).
import { api, session, loginPath } from "./api.js";
import { playLive } from "./hls.js";
import { h, toast } from "./ui.js";
import { paths } from "./endpoints.js";
import { ratingCard } from "./evaluation.js";

const STATE = { scheduled: "未开始", live: "直播中", paused: "暂停中", ended: "已结束", cancelled: "已取消" };
const fmt = (ts) => new Date(ts).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" });

function enrolmentText(e) {
  if (!e || e.state === "cancelled") return null;
  return e.state === "enrolled" ? "已报名" : `候补第 ${e.waitlist_position} 位`;
}

// Enrolment stays open until the lecture ends (walk-in while seats are free); cancelling only
// before it starts.
const enrolOpen = (o) => ["scheduled", "live", "paused"].includes(o.state);
const cancelOpen = (o) => o.state === "scheduled" && new Date(o.starts_at) > new Date();

async function enrolIn(o) {
  const r = await api(paths.liveOccurrenceEnrolments(o.id), { method: "POST", body: {} });
  toast(r.state === "enrolled" ? "报名成功" : `名额已满，你在候补第 ${r.waitlist_position} 位`);
  return r;
}

function occurrenceItem(o, refresh) {
  const mine = enrolmentText(o.my_enrolment);
  const open = enrolOpen(o);
  const actions = [];
  const offline = o.format === "offline";
  if (offline) {
    actions.push(h("a", { class: "btn small", href: `/activities/${o.id}`, "data-link": true }, "活动详情"));
  } else if (o.state === "live" || o.state === "paused" || mine || o.may_manage) {
    actions.push(h("a", { class: "btn small", href: `/live/${o.id}`, "data-link": true }, o.state === "live" ? "进入直播间" : "查看"));
  }
  if (open && !mine && !o.may_manage) {
    actions.push(h("button", { type: "button", class: "btn small", onclick: async () => {
      try { await enrolIn(o); refresh(); } catch (err) { toast(err.message, "error"); }
    } }, "报名"));
  }
  if (cancelOpen(o) && mine) {
    actions.push(h("button", { type: "button", class: "btn secondary small", onclick: async () => {
      try { await api(paths.liveOccurrenceEnrolmentsMe(o.id), { method: "DELETE" }); toast("已取消报名"); refresh(); }
      catch (err) { toast(err.message, "error"); }
    } }, "取消报名"));
  }
  return h("li", { class: "occurrence" },
    h("strong", {}, o.title),
    h("span", { class: "meta" }, `${fmt(o.starts_at)} · ${o.lecturer} · ${o.enrolled}/${o.capacity} 人已报名`),
    offline ? h("span", { class: "badge offline" }, "线下活动") : h("span", { class: `badge ${o.state}` }, STATE[o.state]),
    mine ? h("span", { class: "badge mine" }, mine) : null,
    h("span", { class: "actions" }, actions));
}

export async function schedule(ctx) {
  if (!session()) return ctx.go(loginPath(), true);
  const draw = async () => {
    const all = await api(paths.liveOccurrences());
    const mine = all.filter((o) => enrolmentText(o.my_enrolment));
    const rest = all.filter((o) => !enrolmentText(o.my_enrolment));
    const calendar = h("p", { class: "meta" });
    api(paths.liveCalendar()).then((c) => {
      const url = new URL(c.url, location.href);
      calendar.replaceChildren("把报名的直播加到手机日历（开播前 30 分钟提醒）：",
        h("a", { href: `webcal://${url.host}${url.pathname}` }, "订阅日历"), " · ",
        h("a", { href: url.href, download: "家长学堂直播.ics" }, "下载 .ics"));
    }).catch(() => {});
    ctx.page("活动与直播",
      h("section", { class: "card" }, h("h2", {}, "我的报名"),
        mine.length ? h("ul", { class: "plain occurrences" }, mine.map((o) => occurrenceItem(o, draw))) : h("p", { class: "empty" }, "还没有报名的直播或活动。"),
        calendar),
      h("section", { class: "card" }, h("h2", {}, "近期直播与线下活动"),
        rest.length ? h("ul", { class: "plain occurrences" }, rest.map((o) => occurrenceItem(o, draw))) : h("p", { class: "empty" }, "近期没有面向你的直播或活动。")));
  };
  await draw();
}

const ERRORS = {
  not_live_yet: "直播还没有开始，开始后这里会自动播放。",
  live_paused: "主讲人暂时离开了，请稍候，回来后会自动继续。",
  occurrence_ended: "直播已结束，回放整理好后会发布在课程里。",
  not_enrolled: "你还没有报名这场直播，请先报名。",
  no_live_media: "主讲人的画面还没有到达，正在重试……",
  sdp_unsupported_codecs: "你的浏览器不支持这场直播的视频格式，请换用系统浏览器或更新微信。",
};

// Waits until ICE gathering is complete (non-trickle WHIP/WHEP), at most 3 s.
export function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((res) => {
    const done = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); res(); } };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(res, 3000);
  });
}

// Posts an SDP offer to a WHIP/WHEP endpoint; returns { answer, location } or throws with the
// problem's code and message.
export async function exchange(url, offer, token) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/sdp", authorization: `Bearer ${token}` }, body: offer });
  if (res.status !== 201) {
    const p = await res.json().catch(() => ({}));
    const err = new Error(ERRORS[p.code] || p.detail || `连接失败（${res.status}）`);
    err.code = p.code; err.status = res.status; err.problem = p;
    throw err;
  }
  return { answer: await res.text(), location: res.headers.get("location") };
}

// The STUN/TURN servers for this user (TURN credentials are personal and expire).
export async function iceServers() {
  try { return (await api(paths.liveIceServers())).ice_servers; } catch { return []; }
}

// Heartbeats of a live HLS viewer (their attendance) every 10 s while playing; `stop` ends the
// session at once.
export function hlsHeartbeats(id, video) {
  let sessionId = null, stopped = false;
  const beat = async (leaving = false) => {
    if (!leaving && (video.paused || stopped)) return;
    const res = await fetch(paths.liveOccurrenceHlsHeartbeats(id), {
      method: "POST", keepalive: leaving,
      headers: { "content-type": "application/json", authorization: `Bearer ${session()?.access}` },
      body: JSON.stringify({ session: sessionId, leaving }),
    }).catch(() => null);
    const data = res?.ok ? await res.json().catch(() => null) : null;
    if (data && !leaving) sessionId = data.session;
  };
  const timer = setInterval(beat, 10000);
  video.addEventListener("playing", () => { if (!sessionId) beat(); });
  return () => { if (stopped) return; stopped = true; clearInterval(timer); if (sessionId) beat(true); };
}

// The live events of an occurrence (state, viewers) through a ticket; reconnects by itself.
export async function liveEvents(id, handlers) {
  let source = null, closed = false;
  const open = async () => {
    if (closed) return;
    try {
      const t = await api(paths.liveOccurrenceTickets(id), { method: "POST", body: {} });
      source = new EventSource(paths.liveOccurrenceEvents(id, `?ticket=${encodeURIComponent(t.ticket)}`));
      source.addEventListener("state", (e) => handlers.state?.(JSON.parse(e.data).state));
      source.addEventListener("viewers", (e) => handlers.viewers?.(JSON.parse(e.data).count));
      source.addEventListener("question", (e) => handlers.question?.(JSON.parse(e.data).question));
      source.addEventListener("message", (e) => handlers.message?.(JSON.parse(e.data).message));
      source.onerror = () => { source.close(); setTimeout(open, 3000); };
    } catch { setTimeout(open, 5000); }
  };
  await open();
  return () => { closed = true; source?.close(); };
}

export async function room(id, ctx) {
  const s = session();
  if (!s) return ctx.go(loginPath(), true);
  const o = await api(paths.liveOccurrence(id));
  const video = h("video", { playsinline: true, "webkit-playsinline": true, autoplay: true, muted: true, controls: true, "aria-label": `直播：${o.title}` });
  const status = h("p", { class: "live-status", role: "status", "aria-live": "polite" });
  const viewers = h("span", { class: "meta" });
  const unmute = h("button", { type: "button", class: "btn", hidden: true, onclick: () => { video.muted = false; video.play(); unmute.hidden = true; } }, "点击开启声音");
  const modeButton = h("button", { type: "button", class: "btn secondary small", hidden: true }, "切换到流畅模式");
  const replay = h("p", { hidden: !o.replay }, o.replay ? h("a", { class: "btn", href: `/courses/${o.replay.course_id}?lesson=${o.replay.lesson_id}`, "data-link": true }, "观看回放") : null);
  const talk = discussion(id);
  // The caller's seat: 报名 where they may enrol, their waitlist place when waiting.
  const seat = h("div", { class: "seat", role: "status", hidden: true });
  const drawSeat = (e) => {
    const st = e && e.state !== "cancelled" ? e.state : null;
    if (o.may_manage || st === "enrolled" || (!st && !enrolOpen({ state }))) { seat.hidden = true; return; }
    seat.hidden = false;
    if (st === "waitlisted") {
      seat.replaceChildren(h("p", {}, `名额已满，你在候补第 ${e.waitlist_position} 位。有人取消报名时，会按顺序为你补上。`));
      return;
    }
    const begun = state !== "scheduled" || new Date(o.starts_at) <= new Date();
    seat.replaceChildren(h("p", {}, begun ? "直播时间已到，还有名额时可以直接报名进入。" : "你还没有报名这场直播。"),
      h("button", { type: "button", class: "btn", onclick: async () => {
        try {
          const r = await enrolIn(o);
          drawSeat({ state: r.state, waitlist_position: r.waitlist_position });
          if (r.state === "enrolled") { o.my_enrolment = { state: "enrolled" }; watch(); }
        } catch (err) { toast(err.message, "error"); }
      } }, "报名"));
  };
  ctx.page(o.title, h("div", { class: "card" },
    h("p", { class: "meta" }, `${fmt(o.starts_at)} · 主讲：${o.lecturer}`),
    h("div", { class: "player live" }, video), unmute, status, seat, h("p", { class: "actions" }, viewers, modeButton), replay), talk.panel,
    ratingCard(paths.liveOccurrenceRating(id), paths.liveOccurrenceRatings(id)));

  // "webrtc" (low delay) or "hls" (any network, any number of viewers).
  let mode = sessionStorage.getItem("ps.liveMode") === "hls" ? "hls" : "webrtc";
  let pc = null, location = null, state = o.state, retry = null, left = false, hls = null, stopBeats = null;
  const ice = await iceServers();
  const say = (text) => { status.textContent = text; };
  const stopHls = () => { hls?.stop(); hls = null; stopBeats?.(); stopBeats = null; };
  const playing = () => video.play().then(() => { unmute.hidden = !video.muted; }).catch(() => { unmute.hidden = false; });
  const stop = async () => {
    clearTimeout(retry);
    stopHls();
    const old = pc; pc = null;
    old?.close();
    if (location) { const l = location; location = null; await fetch(l, { method: "DELETE", headers: { authorization: `Bearer ${session()?.access}` } }).catch(() => {}); }
  };
  const showMode = () => {
    modeButton.hidden = state !== "live" && state !== "paused";
    modeButton.textContent = mode === "hls" ? "切换到低延迟模式" : "切换到流畅模式";
  };
  // Live HLS: the given URL, or the occurrence's once its first pieces are stored.
  const watchHls = async (url, why) => {
    await stop();
    mode = "hls"; showMode();
    if (left || state === "ended" || state === "cancelled") return;
    url ??= (await api(paths.liveOccurrence(id)).catch(() => ({}))).hls_url;
    if (!url) { say("流畅模式正在准备，请稍候……"); retry = setTimeout(() => watchHls(null, why), 3000); return; }
    video.srcObject = null;
    stopBeats = hlsHeartbeats(id, video);
    const renew = async () => (await api(paths.liveOccurrence(id))).hls_url;
    hls = playLive(video, url, { say, renew });
    await hls.ready;
    say(why || "流畅模式（HLS）：延迟约 10 秒");
    playing();
  };
  modeButton.addEventListener("click", () => {
    if (mode === "hls") { mode = "webrtc"; sessionStorage.setItem("ps.liveMode", "webrtc"); stop().then(() => { video.removeAttribute("src"); watch(); showMode(); }); }
    else { sessionStorage.setItem("ps.liveMode", "hls"); watchHls(null); }
  });
  const watch = async () => {
    if (pc || hls || left || state !== "live") return;
    if (!o.may_manage && o.my_enrolment?.state !== "enrolled") {
      say(o.my_enrolment?.state === "waitlisted" ? "候补中：补上名额后即可观看。" : "报名后即可观看。");
      return;
    }
    if (mode === "hls") return watchHls(null);
    say("正在连接直播……");
    pc = new RTCPeerConnection({ iceServers: ice });
    const mine = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; };
    pc.onconnectionstatechange = () => {
      if (mine !== pc) return;
      if (pc.connectionState === "connected") { say("直播中"); playing(); }
      if (pc.connectionState === "failed") { say("网络中断，正在重新连接……"); stop().then(() => { retry = setTimeout(watch, 2000); }); }
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const r = await exchange(paths.liveOccurrenceWhep(id), pc.localDescription.sdp, session()?.access);
      location = r.location;
      if (mine !== pc) return stop();
      await pc.setRemoteDescription({ type: "answer", sdp: r.answer });
      // WeChat on Android and strict school firewalls: no WebRTC within 10 s, HLS instead.
      setTimeout(() => { if (mine === pc && pc.connectionState !== "connected") watchHls(null, "实时连接不通，已切换到流畅模式（HLS）"); }, 10000);
    } catch (err) {
      await stop();
      if (err.code === "webrtc_full") return watchHls(err.problem?.hls_url, "实时观看人数已满，已切换到流畅模式（HLS）");
      say(err.message);
      if (err.code === "no_live_media" || !err.code) retry = setTimeout(watch, 3000);
    }
  };
  const onState = (st) => {
    state = st;
    showMode();
    drawSeat(o.my_enrolment);
    if (st === "live") { watch(); return; }
    if (st === "paused" && hls) return; // the stream resumes by itself when the lecturer returns
    stop();
    if (st === "ended" || st === "cancelled") talk.close();
    say({ scheduled: "直播还没有开始，开始后这里会自动播放。", paused: ERRORS.live_paused, ended: o.replay ? "直播已结束，可以观看回放。" : ERRORS.occurrence_ended, cancelled: "这场直播已取消。" }[st] || "");
    if (st === "ended") api(paths.liveOccurrence(id)).then((x) => {
      if (x.replay) {
        replay.replaceChildren(h("a", { class: "btn", href: `/courses/${x.replay.course_id}?lesson=${x.replay.lesson_id}`, "data-link": true }, "观看回放"));
        say("直播已结束，可以观看回放。");
      }
      replay.hidden = !x.replay;
    }).catch(() => {});
  };
  const closeEvents = await liveEvents(id, { ...talk.handlers, state: onState, viewers: (n) => { viewers.textContent = `${n} 人正在观看`; } });
  onState(state);
  const leave = () => { left = true; closeEvents(); stop(); };
  addEventListener("pagehide", leave, { once: true });
  ctx.onLeave(leave);
}

// Questions (voted, answered) and chat of an occurrence; `manage` adds the expert's buttons.
// Returns the panel and the handlers that keep it current from live events.
export function discussion(id, { manage = false } = {}) {
  const questions = new Map(), messages = new Map();
  // After the lecture: the record stays readable, nothing more is said or voted.
  let closed = false;
  const qList = h("ol", { class: "questions", "aria-label": "问题" });
  const mList = h("ol", { class: "chat", "aria-label": "聊天" });
  const act = (label, fn) => h("button", { type: "button", class: "btn secondary small", onclick: async () => {
    try { await fn(); } catch (err) { toast(err.message, "error"); }
  } }, label);
  const drawQuestions = () => {
    const all = [...questions.values()].filter((q) => manage || !q.hidden)
      .sort((a, b) => (a.answered - b.answered) || (b.votes - a.votes) || a.created_at.localeCompare?.(b.created_at) || 0);
    qList.replaceChildren(...all.map((q) => h("li", { class: `question${q.answered ? " answered" : ""}${q.hidden ? " hidden" : ""}` },
      h("span", { class: "grow" }, q.text), h("span", { class: "meta" }, ` ${q.author} · ${q.votes} 票`),
      q.answered ? h("span", { class: "badge mine" }, "已回答") : null,
      manage ? [
        q.answered ? null : act("标记已回答", () => api(paths.liveOccurrenceQuestion(id, q.id), { method: "PATCH", body: { answered: true } }).then(upQ)),
        act(q.hidden ? "取消隐藏" : "隐藏", () => api(paths.liveOccurrenceQuestion(id, q.id), { method: "PATCH", body: { hidden: !q.hidden } }).then(upQ)),
      ] : (q.voted || q.answered || closed ? null : act("同问 +1", () => api(paths.liveOccurrenceQuestionVotes(id, q.id), { method: "POST", body: {} }).then(upQ))))));
  };
  const drawChat = () => {
    const all = [...messages.values()].filter((m) => manage || !m.hidden).sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
    mList.replaceChildren(...all.slice(-100).map((m) => h("li", { class: m.hidden ? "hidden" : "" },
      h("strong", {}, `${m.author}：`), m.text,
      manage ? act(m.hidden ? "取消隐藏" : "隐藏", () => api(paths.liveOccurrenceMessage(id, m.id), { method: "PATCH", body: { hidden: !m.hidden } }).then(upM)) : null)));
    mList.scrollTop = mList.scrollHeight;
  };
  const upQ = (q) => { const old = questions.get(q.id); questions.set(q.id, { ...q, voted: q.voted || old?.voted }); drawQuestions(); };
  const upM = (m) => { messages.set(m.id, m); drawChat(); };
  const form = (label, path, after) => {
    const input = h("input", { name: "text", maxlength: 300, "aria-label": label, placeholder: label, autocomplete: "off" });
    return h("form", { class: "say", onsubmit: async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      try { after(await api(paths.liveOccurrenceSection(id, path), { method: "POST", body: { text } })); input.value = ""; }
      catch (err) { toast(err.message, "error"); }
    } }, input, h("button", { class: "btn small" }, "发送"));
  };
  const forms = [manage ? null : form("向老师提问", "questions", upQ), form("说点什么", "messages", upM)];
  const panel = h("section", { class: "card discussion" },
    h("h2", {}, "提问"), qList, forms[0],
    h("h2", {}, "聊天"), mList, forms[1]);
  const close = () => {
    if (closed) return;
    closed = true;
    for (const f of forms) f?.remove();
    drawQuestions();
  };
  api(paths.liveOccurrenceQuestions(id)).then((l) => l.forEach(upQ)).catch(() => {});
  api(paths.liveOccurrenceMessages(id)).then((l) => l.forEach(upM)).catch(() => {});
  return { panel, close, handlers: { question: upQ, message: upM } };
}
