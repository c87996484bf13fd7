// The lesson player: HLS (fMP4) through Media Source Extensions (or ManagedMediaSource on
// recent iOS) so quality can be chosen, native HLS only where neither exists (iOS WeChat).
// Reports played ranges every 15 s and on pause/leave; resumes where the user stopped.
import { api, session } from "./api.js";
import { h } from "./ui.js";

const MS = window.ManagedMediaSource || window.MediaSource;

function attrs(line) {
  const out = {};
  for (const m of line.matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)) out[m[1]] = m[2].replace(/^"|"$/g, "");
  return out;
}

export function parseMaster(text, base) {
  const lines = text.split("\n").map((l) => l.trim());
  const out = [];
  lines.forEach((l, i) => {
    if (!l.startsWith("#EXT-X-STREAM-INF:")) return;
    const a = attrs(l.slice(18));
    const uri = lines[i + 1];
    const [w, hgt] = (a.RESOLUTION || "").split("x").map(Number);
    out.push({ name: uri.split("/")[0], url: new URL(uri, base).href, bandwidth: Number(a.BANDWIDTH), codecs: a.CODECS, height: hgt || 0, width: w || 0 });
  });
  return out.sort((a, b) => a.bandwidth - b.bandwidth);
}

// Subtitle renditions of a master playlist: [{ lang, name, url }].
export function parseSubtitles(text, base) {
  return text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("#EXT-X-MEDIA:")).map((l) => attrs(l.slice(13)))
    .filter((a) => a.TYPE === "SUBTITLES" && a.URI).map((a) => ({ lang: a.LANGUAGE, name: a.NAME, url: new URL(a.URI, base).href }));
}

export function parseMedia(text, base) {
  const segs = [];
  let init = null, t = 0, dur = 0;
  for (const l of text.split("\n").map((x) => x.trim())) {
    if (l.startsWith("#EXT-X-MAP:")) init = new URL(attrs(l.slice(11)).URI, base).href;
    else if (l.startsWith("#EXTINF:")) dur = parseFloat(l.slice(8));
    else if (l && !l.startsWith("#")) { segs.push({ url: new URL(l, base).href, start: t, end: t + dur }); t += dur; }
  }
  return { init, segs, duration: t };
}

function pickEngine() {
  const forced = new URLSearchParams(location.search).get("engine") || localStorage.getItem("ps.engine");
  if (forced === "native" || forced === "mse") return forced;
  // Desktop Chromium also claims native HLS, so prefer MSE whenever it can play our codecs.
  if (MS && MS.isTypeSupported?.('video/mp4; codecs="avc1.4d401f,mp4a.40.2"')) return "mse";
  return "native";
}

export async function mountPlayer(container, assetId, { title = "" } = {}) {
  const video = h("video", { controls: true, playsinline: true, "webkit-playsinline": true, preload: "metadata", "aria-label": `播放：${title}` });
  const quality = h("select", { "aria-label": "清晰度" }, h("option", { value: "auto" }, "自动"));
  const speed = h("select", { "aria-label": "播放速度" }, [0.75, 1, 1.25, 1.5, 2].map((r) => h("option", { value: r, selected: r === 1 }, `${r}×`)));
  const captions = h("select", { "aria-label": "字幕" }, h("option", { value: "" }, "关"));
  const captionsLabel = h("label", { hidden: true }, "字幕 ", captions);
  const status = h("p", { class: "meta", role: "status" });
  container.replaceChildren(h("div", { class: "player" }, video, h("div", { class: "player-bar" }, h("label", {}, "清晰度 ", quality), h("label", {}, "速度 ", speed), captionsLabel), status));
  speed.addEventListener("change", () => { video.playbackRate = Number(speed.value); });
  const engine = pickEngine();
  container.dataset.engine = engine;

  let pb;
  try { pb = await api(`/api/v1/assets/${assetId}/playback`); }
  catch (err) { status.textContent = err.code === "asset_not_ready" ? "视频正在处理，请稍后再来。" : err.message; return null; }
  const progress = await api(`/api/v1/assets/${assetId}/progress`).catch(() => null);
  if (pb.poster_url) video.poster = pb.poster_url;
  const tracker = track(video, assetId, status);
  const resumeAt = progress && progress.position_s < (progress.duration_s || Infinity) - 5 ? progress.position_s : 0;
  video.addEventListener("loadedmetadata", () => { if (resumeAt > 0) video.currentTime = resumeAt; }, { once: true });

  if (engine === "native") {
    video.src = pb.url;
    quality.disabled = true;
    return { video, engine, tracker };
  }
  const master = await fetch(pb.url).then((r) => r.text());
  const renditions = parseMaster(master, new URL(pb.url, location.href).href);
  await addCaptions(video, parseSubtitles(master, new URL(pb.url, location.href).href), captions, captionsLabel);
  const ordered = [...renditions.filter((r) => r.name !== "audio"), ...renditions.filter((r) => r.name === "audio")];
  for (const r of ordered) quality.append(h("option", { value: r.name }, r.name === "audio" ? "仅音频（省流量）" : r.name));
  const player = new MsePlayer(video, renditions, status);
  quality.addEventListener("change", () => player.choose(quality.value));
  await player.start();
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

class MsePlayer {
  constructor(video, renditions, status) {
    this.video = video; this.renditions = renditions; this.status = status;
    this.videoRenditions = renditions.filter((r) => r.name !== "audio");
    this.manual = null; this.bandwidth = 0; this.current = null; this.playlists = {};
    this.next = 0; this.loading = false; this.ended = false;
  }

  async playlist(r) {
    this.playlists[r.name] ??= fetch(r.url).then((res) => res.text()).then((t) => parseMedia(t, r.url));
    return this.playlists[r.name];
  }

  target() {
    if (this.manual) return this.renditions.find((r) => r.name === this.manual);
    const list = this.videoRenditions.length ? this.videoRenditions : this.renditions;
    let best = list[0];
    for (const r of list) if (this.bandwidth && r.bandwidth < this.bandwidth * 0.7) best = r;
    return best;
  }

  async start() {
    this.ms = new MS();
    if (window.ManagedMediaSource) this.video.disableRemotePlayback = true;
    this.video.src = URL.createObjectURL(this.ms);
    await new Promise((res) => this.ms.addEventListener("sourceopen", res, { once: true }));
    const first = this.target();
    const pl = await this.playlist(first);
    this.ms.duration = pl.duration;
    this.sb = this.ms.addSourceBuffer(`${first.name === "audio" ? "audio" : "video"}/mp4; codecs="${first.codecs}"`);
    await this.switchTo(first);
    this.video.addEventListener("timeupdate", () => this.pump());
    this.video.addEventListener("seeking", () => { this.seekTo(this.video.currentTime); });
    this.pump();
  }

  append(buf) {
    return new Promise((res, rej) => {
      this.sb.addEventListener("updateend", res, { once: true });
      this.sb.addEventListener("error", rej, { once: true });
      this.sb.appendBuffer(buf);
    });
  }

  async switchTo(r) {
    const pl = await this.playlist(r);
    if (this.current && this.current.codecs !== r.codecs && this.sb.changeType) {
      this.sb.changeType(`${r.name === "audio" ? "audio" : "video"}/mp4; codecs="${r.codecs}"`);
    }
    this.current = r;
    await this.append(await fetch(pl.init).then((x) => x.arrayBuffer()));
    this.status.textContent = r.name === "audio" ? "仅音频" : `清晰度：${r.name}`;
    document.dispatchEvent(new CustomEvent("ps-rendition", { detail: r.name }));
  }

  async choose(name) {
    this.manual = name === "auto" ? null : name;
    this.seekTo(this.video.currentTime, true);
  }

  async seekTo(time, force = false) {
    const pl = await this.playlist(this.current);
    const i = pl.segs.findIndex((s) => s.end > time + 0.05);
    this.next = i < 0 ? pl.segs.length : i;
    this.ended = false;
    this.forceSwitch = force;
    this.pump();
  }

  async pump() {
    if (this.loading || this.ended || !this.sb) return;
    const b = this.sb.buffered, t = this.video.currentTime;
    let ahead = 0;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= t + 0.5 && b.end(i) > t) ahead = b.end(i) - t;
    if (ahead > 20 && !this.forceSwitch) return;
    this.loading = true;
    try {
      const want = this.target();
      if (want && (want.name !== this.current.name)) await this.switchTo(want);
      this.forceSwitch = false;
      const pl = await this.playlist(this.current);
      const seg = pl.segs[this.next];
      if (!seg) {
        if (this.ms.readyState === "open" && !this.sb.updating) this.ms.endOfStream();
        this.ended = true;
        return;
      }
      const t0 = performance.now();
      const res = await fetch(seg.url);
      if (res.status === 403) { this.status.textContent = "播放链接已过期，请刷新页面继续观看。"; return; }
      const data = await res.arrayBuffer();
      const secs = Math.max((performance.now() - t0) / 1000, 0.05);
      this.bandwidth = this.bandwidth ? 0.7 * this.bandwidth + 0.3 * (data.byteLength * 8 / secs) : data.byteLength * 8 / secs;
      await this.append(data);
      this.next += 1;
    } catch (err) {
      this.status.textContent = "网络不稳定，正在重试……";
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      this.loading = false;
    }
    this.pump();
  }
}

// Played ranges since the last report, sent every 15 s and on pause, seek and leaving.
function track(video, assetId, status) {
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
    fetch(`/api/v1/assets/${assetId}/progress`, {
      method: "POST", keepalive,
      headers: { "content-type": "application/json", authorization: `Bearer ${s?.access}` },
      body: JSON.stringify({ session_id: sessionId, segments: normalise(segments), position_s: video.currentTime || 0 }),
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
