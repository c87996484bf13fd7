// The lesson player: the quality, speed and caption choices around the HLS engine (`hls.js`),
// remembered across lessons and visits. Reports played ranges every 15 s and on pause/leave;
// resumes where the user stopped.
import { api, session } from "./api.js";
import { Hls, parseMaster, parseMedia, parseSubtitles, pickEngine } from "./hls.js";
import { h } from "./ui.js";
import { paths } from "./endpoints.js";

const SPEEDS = [0.75, 1, 1.25, 1.5, 2];

export async function mountPlayer(container, assetId, { title = "", lessonId = null } = {}) {
  const video = h("video", { controls: true, playsinline: true, "webkit-playsinline": true, preload: "metadata", "aria-label": `播放：${title}` });
  const quality = h("select", { "aria-label": "清晰度" }, h("option", { value: "auto" }, "自动"));
  // Speed and quality are remembered across lessons and visits, like captions.
  const savedRate = SPEEDS.includes(Number(localStorage.getItem("ps.speed"))) ? Number(localStorage.getItem("ps.speed")) : 1;
  const speed = h("select", { "aria-label": "播放速度" }, SPEEDS.map((r) => h("option", { value: r, selected: r === savedRate }, `${r}×`)));
  const captions = h("select", { "aria-label": "字幕" }, h("option", { value: "" }, "关"));
  const captionsLabel = h("label", { hidden: true }, "字幕 ", captions);
  const status = h("p", { class: "meta", role: "status" });
  container.replaceChildren(h("div", { class: "player" }, video, h("div", { class: "player-bar" }, h("label", {}, "清晰度 ", quality), h("label", {}, "速度 ", speed), captionsLabel), status));
  // A (re)load resets playbackRate to defaultPlaybackRate: set both.
  const setRate = (r) => { video.defaultPlaybackRate = r; video.playbackRate = r; };
  setRate(savedRate);
  speed.addEventListener("change", () => { localStorage.setItem("ps.speed", speed.value); setRate(Number(speed.value)); });
  const engine = pickEngine();
  container.dataset.engine = engine;

  let pb;
  try { pb = await api(paths.assetPlayback(assetId)); }
  catch (err) { status.textContent = err.code === "asset_not_ready" ? "视频正在处理，请稍后再来。" : err.message; return null; }
  const progress = await api(paths.assetProgress(assetId)).catch(() => null);
  if (pb.poster_url) video.poster = pb.poster_url;
  let player = null;
  // While the MSE player reopens its source the element's own clock reads 0: report the
  // position the player is heading for instead.
  const tracker = track(video, assetId, lessonId, status, () => (player ? player.position() : video.currentTime));
  const resumeAt = progress && progress.position_s < (progress.duration_s || Infinity) - 5 ? progress.position_s : 0;

  if (engine === "native") {
    video.addEventListener("loadedmetadata", () => { if (resumeAt > 0) video.currentTime = resumeAt; }, { once: true });
    video.src = pb.url;
    quality.disabled = true;
    return { video, engine, tracker };
  }
  const master = await fetch(pb.url).then((r) => r.text());
  const renditions = parseMaster(master, new URL(pb.url, location.href).href);
  await addCaptions(video, parseSubtitles(master, new URL(pb.url, location.href).href), captions, captionsLabel);
  const ordered = [...renditions.filter((r) => r.name !== "audio"), ...renditions.filter((r) => r.name === "audio")];
  for (const r of ordered) quality.append(h("option", { value: r.name }, r.name === "audio" ? "仅音频（省流量）" : r.name));
  const savedQuality = localStorage.getItem("ps.quality");
  const manual = renditions.some((r) => r.name === savedQuality) ? savedQuality : null;
  if (manual) quality.value = manual;
  player = new Hls(video, { say: (text) => { status.textContent = text; } });
  quality.addEventListener("change", () => { localStorage.setItem("ps.quality", quality.value); player.choose(quality.value); });
  await player.feedRecorded(renditions, resumeAt, manual);
  return { video, engine, tracker, player, quality };
}

// Caption tracks as <track> elements (the WebVTT file behind each subtitle playlist), with an
// on/off choice remembered across lessons.
async function addCaptions(video, subs, select, label) {
  if (!subs.length) return;
  for (const s of subs) {
    const pl = await fetch(s.url).then((r) => (r.ok ? r.text() : "")).catch(() => "");
    const file = parseMedia(pl, s.url).segs[0];
    if (!file) continue;
    video.append(h("track", { kind: "subtitles", srclang: s.lang, label: s.name, src: file.url }));
    select.append(h("option", { value: s.lang }, s.name));
  }
  if (select.options.length < 2) return;
  label.hidden = false;
  const show = (lang) => {
    for (const t of video.textTracks) t.mode = t.language === lang ? "showing" : "disabled";
  };
  const saved = localStorage.getItem("ps.captions") || "";
  if ([...select.options].some((o) => o.value === saved)) { select.value = saved; show(saved); }
  select.addEventListener("change", () => { localStorage.setItem("ps.captions", select.value); show(select.value); });
}

// Played ranges since the last report, sent every 15 s and on pause, seek and leaving.
function track(video, assetId, lessonId, status, position = () => video.currentTime) {
  const sessionId = crypto.randomUUID();
  let ranges = [], from = null, last = 0;
  const close = () => { if (from !== null && last > from) ranges.push([from, last]); from = null; };
  video.addEventListener("playing", () => { from = video.currentTime; last = from; });
  video.addEventListener("timeupdate", () => {
    const t = video.currentTime;
    if (from === null) return;
    if (t < last || t - last > 1.5) { close(); from = t; } // a seek: start a new range
    last = t;
  });
  video.addEventListener("pause", () => { close(); send(); });
  video.addEventListener("seeking", close);
  const send = (keepalive = false) => {
    if (from !== null && last > from) { ranges.push([from, last]); from = last; }
    const segments = ranges.splice(0).filter(([a, b]) => b > a);
    if (!segments.length && !keepalive) return;
    const s = session();
    fetch(paths.assetProgress(assetId), {
      method: "POST", keepalive,
      headers: { "content-type": "application/json", authorization: `Bearer ${s?.access}` },
      body: JSON.stringify({ session_id: sessionId, segments: normalise(segments), position_s: position() || 0, lesson_id: lessonId || undefined }),
    }).then((r) => r.ok && r.json()).then((p) => {
      if (p) { status.dataset.watched = p.watched_s; document.dispatchEvent(new CustomEvent("ps-progress", { detail: p })); }
    }).catch(() => {});
  };
  const timer = setInterval(() => send(), 15000);
  addEventListener("pagehide", () => send(true));
  document.addEventListener("visibilitychange", () => { if (document.hidden) send(true); });
  return { send, stop: () => clearInterval(timer) };
}

// Sort and merge so a report never overlaps itself.
function normalise(segs) {
  const s = segs.map(([a, b]) => [Math.max(0, a), b]).sort((x, y) => x[0] - y[0]);
  const out = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b); else out.push([a, b]);
  }
  return out.map(([a, b]) => [Math.round(a * 1000) / 1000, Math.round(b * 1000) / 1000]);
}
