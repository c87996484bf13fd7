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
  try { pb = await api(`/api/v1/assets/${assetId}/playback`); }
  catch (err) { status.textContent = err.code === "asset_not_ready" ? "视频正在处理，请稍后再来。" : err.message; return null; }
  const progress = await api(`/api/v1/assets/${assetId}/progress`).catch(() => null);
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
  player = new MsePlayer(video, renditions, status, manual);
  quality.addEventListener("change", () => { localStorage.setItem("ps.quality", quality.value); player.choose(quality.value); });
  await player.start(resumeAt);
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

const kindOf = (r) => (r.name === "audio" ? "audio" : "video");
const mimeOf = (r) => `${kindOf(r)}/mp4; codecs="${r.codecs}"`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Fetches segments one at a time into one SourceBuffer, keeping ~20 s ahead. Every seek,
// quality choice and reopening starts a new generation (`gen`): a fetch or append begun
// in an older one is dropped rather than allowed to move `next`, so a resume or a switch
// can never skip the segment it needs. Audio-only and video renditions cannot share a
// SourceBuffer (MSE fixes the track set at the first init segment), so switching between
// them reopens the MediaSource at the same position; video renditions switch in place.
class MsePlayer {
  constructor(video, renditions, status, manual) {
    this.video = video; this.renditions = renditions; this.status = status;
    this.videoRenditions = renditions.filter((r) => r.name !== "audio");
    this.manual = manual; this.bandwidth = 0; this.current = null; this.playlists = {}; this.loaded = {};
    this.next = 0; this.loading = false; this.ended = false; this.gen = 0; this.pending = null;
    this.forced = false; this.expired = false; this.lastReopen = 0; this.abort = null;
  }

  playlist(r) {
    this.playlists[r.name] ??= fetch(r.url).then((res) => {
      if (!res.ok) throw new Error(`playlist ${res.status}`);
      return res.text();
    }).then((t) => (this.loaded[r.name] = parseMedia(t, r.url))).catch((err) => { delete this.playlists[r.name]; throw err; });
    return this.playlists[r.name];
  }

  target() {
    if (this.manual) return this.renditions.find((r) => r.name === this.manual) || this.renditions[0];
    const list = this.videoRenditions.length ? this.videoRenditions : this.renditions;
    let best = list[0];
    for (const r of list) if (this.bandwidth && r.bandwidth < this.bandwidth * 0.7) best = r;
    return best;
  }

  // Where playback is, or is heading while the source reopens.
  position() { return this.pending ?? this.video.currentTime; }

  async start(at) {
    this.video.addEventListener("timeupdate", () => this.pump());
    this.video.addEventListener("seeking", () => this.seekTo(this.video.currentTime));
    this.video.addEventListener("error", () => this.recover());
    await this.open(at, false);
  }

  // A new generation: what is in flight no longer counts.
  bump() {
    this.gen += 1;
    this.abort?.abort();
    this.abort = null;
    this.ended = false;
    this.expired = false;
  }

  // (Re)opens a MediaSource for the wanted rendition and seeks to `at`.
  async open(at, play) {
    this.bump();
    const gen = this.gen;
    this.pending = at; this.playAfterOpen = play; this.current = null; this.sb = null;
    const r = this.target();
    const ms = new MS();
    this.ms = ms;
    if (window.ManagedMediaSource) this.video.disableRemotePlayback = true;
    const old = this.video.src;
    this.video.src = URL.createObjectURL(ms);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    await new Promise((res) => ms.addEventListener("sourceopen", res, { once: true }));
    for (;;) {
      if (gen !== this.gen) return;
      try {
        const pl = await this.playlist(r);
        if (gen !== this.gen) return;
        if (!this.sb) { ms.duration = pl.duration; this.sb = ms.addSourceBuffer(mimeOf(r)); }
        const init = await this.bytes(pl.init);
        if (gen !== this.gen) return;
        await appendTo(this.sb, init);
        break;
      } catch (err) {
        if (gen !== this.gen) return;
        this.status.textContent = "网络不稳定，正在重试……";
        await sleep(1500);
      }
    }
    if (gen !== this.gen) return;
    this.current = r;
    this.announce(r);
    this.next = this.indexAt(this.loaded[r.name], at);
    this.pending = null;
    // The metadata is there now; the seek completes when the segment holding `at` arrives.
    if (at > 0) this.video.currentTime = at;
    if (play) this.video.play().catch(() => {});
    this.pump();
  }

  announce(r) {
    this.status.textContent = r.name === "audio" ? "仅音频" : `清晰度：${r.name}`;
    document.dispatchEvent(new CustomEvent("ps-rendition", { detail: r.name }));
  }

  // The end of the buffered range holding `t`, or null.
  bufferedEnd(t) {
    const b = this.sb?.buffered;
    if (!b) return null;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= t + 0.25 && b.end(i) > t) return b.end(i);
    return null;
  }

  // The first segment still needed to play from `t`: the one after what is buffered from there
  // on, or the one holding `t`.
  indexAt(pl, t) {
    const end = this.bufferedEnd(t);
    const i = end === null ? pl.segs.findIndex((s) => s.end > t) : pl.segs.findIndex((s) => s.end > end + 0.3);
    return i < 0 ? pl.segs.length : i;
  }

  seekTo(t) {
    if (!this.current) return; // still opening: open() seeks itself
    this.bump();
    this.next = this.indexAt(this.loaded[this.current.name], t);
    this.pump();
  }

  choose(name) {
    this.manual = name === "auto" ? null : name;
    if (!this.current) return; // opening: the next pump switches
    if (kindOf(this.target()) !== kindOf(this.current)) { this.reopen(); return; }
    this.bump();
    this.forced = true;
    this.pump();
  }

  reopen() {
    this.lastReopen = Date.now();
    // While opening, the element is paused by the reload: keep the intent of the open under way.
    return this.open(this.position(), this.pending !== null ? this.playAfterOpen : !this.video.paused);
  }

  // A decode error leaves the element unusable: reopen where it stopped (at most every 10 s).
  recover() {
    if (!this.video.error || !this.current || Date.now() - this.lastReopen < 10000) return;
    this.status.textContent = "播放出错，正在恢复……";
    this.reopen();
  }

  async bytes(url, measure = false) {
    const abort = new AbortController();
    this.abort = abort;
    const t0 = performance.now();
    const res = await fetch(url, { signal: abort.signal });
    if (res.status === 403) { this.expired = true; throw new Error("expired"); }
    if (!res.ok) throw new Error(`segment ${res.status}`);
    const data = await res.arrayBuffer();
    if (measure) {
      const bps = data.byteLength * 8 / Math.max((performance.now() - t0) / 1000, 0.05);
      this.bandwidth = this.bandwidth ? 0.7 * this.bandwidth + 0.3 * bps : bps;
    }
    return data;
  }

  // Another video rendition in the same SourceBuffer: its init segment, then its segments.
  // Chosen by hand, it replaces what is buffered after the segment playing now; chosen by
  // bandwidth, it follows what is buffered.
  async switchTo(r, gen, sb) {
    const pl = await this.playlist(r);
    if (gen !== this.gen) return;
    if (r.codecs !== this.current.codecs && sb.changeType) sb.changeType(mimeOf(r));
    const init = await this.bytes(pl.init);
    if (gen !== this.gen) return;
    await appendTo(sb, init);
    if (gen !== this.gen) return;
    if (this.forced) {
      const t = this.video.currentTime;
      const i = pl.segs.findIndex((s) => s.end > t);
      const keep = i < 0 ? pl.duration : pl.segs[i].end;
      const end = this.bufferedEnd(t);
      if (end !== null && end > keep + 0.1) await removeFrom(sb, keep, this.ms.duration);
      if (gen !== this.gen) return;
      this.next = i < 0 ? pl.segs.length : (end !== null && end >= keep - 0.3 ? i + 1 : i);
      this.forced = false;
    }
    this.current = r;
    this.announce(r);
  }

  async pump() {
    if (this.loading || this.ended || this.expired || !this.sb || !this.current) return;
    const { gen, sb, ms } = this;
    const t = this.video.currentTime;
    const want = this.target();
    const switching = want.name !== this.current.name;
    const end = this.bufferedEnd(t);
    if (!switching && end !== null && end - t > 20) return;
    if (switching && kindOf(want) !== kindOf(this.current)) { this.reopen(); return; }
    this.loading = true;
    let retry = false;
    try {
      if (switching) await this.switchTo(want, gen, sb);
      if (gen !== this.gen) return;
      const pl = this.loaded[this.current.name];
      const i = this.next;
      const seg = pl.segs[i];
      if (!seg) {
        if (ms.readyState === "open" && !sb.updating) ms.endOfStream();
        this.ended = true;
        return;
      }
      const data = await this.bytes(seg.url, true);
      if (gen !== this.gen) return;
      await appendTo(sb, data, () => this.evict(sb, t));
      if (gen !== this.gen) return;
      this.next = i + 1;
      if (this.status.textContent.startsWith("网络")) this.announce(this.current);
    } catch (err) {
      if (gen !== this.gen) return;
      if (this.expired) { this.status.textContent = "播放链接已过期，请刷新页面继续观看。"; return; }
      this.status.textContent = "网络不稳定，正在重试……";
      retry = true;
    } finally {
      this.loading = false;
      if (!retry) setTimeout(() => this.pump(), 0);
    }
    if (retry) { await sleep(1500); this.pump(); }
  }

  // A full buffer: drop what lies well behind the playhead.
  async evict(sb, t) {
    if (t > 30) await removeFrom(sb, 0, t - 10);
  }
}

function appendTo(sb, buf, onFull) {
  return new Promise((res, rej) => {
    const done = () => { sb.removeEventListener("error", fail); res(); };
    const fail = () => { sb.removeEventListener("updateend", done); rej(new Error("append failed")); };
    sb.addEventListener("updateend", done, { once: true });
    sb.addEventListener("error", fail, { once: true });
    try { sb.appendBuffer(buf); } catch (err) {
      sb.removeEventListener("updateend", done); sb.removeEventListener("error", fail);
      if (err.name === "QuotaExceededError" && onFull) onFull().then(() => appendTo(sb, buf)).then(res, rej);
      else rej(err);
    }
  });
}

function removeFrom(sb, start, end) {
  return new Promise((res, rej) => {
    if (!(end > start)) { res(); return; }
    sb.addEventListener("updateend", () => res(), { once: true });
    try { sb.remove(start, end); } catch (err) { rej(err); }
  });
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
    fetch(`/api/v1/assets/${assetId}/progress`, {
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
