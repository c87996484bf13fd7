// The one HLS engine of the web app, used by the lesson player and the live room: fMP4 HLS
// through Media Source Extensions (ManagedMediaSource on recent iOS) so quality can be chosen
// and a broken stream recovered; native HLS only where neither exists (iOS WeChat).
//
// `Hls` owns the media element's source: it opens (and reopens) the MediaSource, creates and
// retypes the one SourceBuffer, fetches pieces (a 403 means the signed URL expired), appends
// them (evicting what lies behind the playhead when the buffer is full) and recovers from a
// decode error at most every 10 s. What to fetch next is the feed's choice:
// - `feedRecorded` plays a recorded lesson: the rendition by bandwidth or by hand, ~20 s ahead
//   of the playhead, from any position;
// - `feedLive` follows a live playlist from near its edge, in "sequence" mode so that a new run
//   (another publisher, a restarted encoder) continues where the last one ended.

const MS = window.ManagedMediaSource || window.MediaSource;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// "mse" or "native": forced by `?engine=` or localStorage `ps.engine`, else MSE whenever it
// can play `codecs` (desktop Chromium also claims native HLS, so MSE is preferred).
export function pickEngine(codecs = "avc1.4d401f,mp4a.40.2") {
  const forced = new URLSearchParams(location.search).get("engine") || localStorage.getItem("ps.engine");
  if (forced === "native" || forced === "mse") return forced;
  if (MS && MS.isTypeSupported?.(`video/mp4; codecs="${codecs}"`)) return "mse";
  return "native";
}

function attrs(line) {
  const out = {};
  for (const m of line.matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)) out[m[1]] = m[2].replace(/^"|"$/g, "");
  return out;
}

const lines = (text) => text.split("\n").map((l) => l.trim());

// The variant streams of a master playlist, by bandwidth: [{ name, url, bandwidth, codecs, … }].
export function parseMaster(text, base) {
  const all = lines(text);
  const out = [];
  all.forEach((l, i) => {
    if (!l.startsWith("#EXT-X-STREAM-INF:")) return;
    const a = attrs(l.slice(18));
    const uri = all[i + 1];
    const [w, hgt] = (a.RESOLUTION || "").split("x").map(Number);
    out.push({ name: uri.split("/")[0], url: new URL(uri, base).href, bandwidth: Number(a.BANDWIDTH), codecs: a.CODECS, height: hgt || 0, width: w || 0 });
  });
  return out.sort((a, b) => a.bandwidth - b.bandwidth);
}

// Subtitle renditions of a master playlist: [{ lang, name, url }].
export function parseSubtitles(text, base) {
  return lines(text).filter((l) => l.startsWith("#EXT-X-MEDIA:")).map((l) => attrs(l.slice(13)))
    .filter((a) => a.TYPE === "SUBTITLES" && a.URI).map((a) => ({ lang: a.LANGUAGE, name: a.NAME, url: new URL(a.URI, base).href }));
}

// A media playlist: its segments (each with its time range, sequence number and the
// initialization segment in force), the first initialization segment, the total duration and
// whether the playlist is complete.
export function parseMedia(text, base) {
  const segs = [];
  let init = null, first = null, t = 0, dur = 0, seq = 0, ended = false;
  for (const l of lines(text)) {
    if (l.startsWith("#EXT-X-MEDIA-SEQUENCE:")) seq = Number(l.slice(22)) || 0;
    else if (l.startsWith("#EXT-X-MAP:")) { init = new URL(attrs(l.slice(11)).URI, base).href; first ??= init; }
    else if (l.startsWith("#EXTINF:")) dur = parseFloat(l.slice(8));
    else if (l.startsWith("#EXT-X-ENDLIST")) ended = true;
    else if (l && !l.startsWith("#")) { segs.push({ url: new URL(l, base).href, start: t, end: t + dur, seq: seq++, init }); t += dur; }
  }
  return { init: first, segs, duration: t, ended };
}

// The MSE type of an fMP4 initialization segment: its H.264 profile (avcC) and whether it has
// AAC audio (a lecture may be video only). Live playlists carry no CODECS attribute.
export function initType(buf) {
  const b = new Uint8Array(buf);
  const find = (tag) => {
    const t = [...tag].map((c) => c.charCodeAt(0));
    for (let i = 0; i + 4 <= b.length; i++) if (b[i] === t[0] && b[i + 1] === t[1] && b[i + 2] === t[2] && b[i + 3] === t[3]) return i;
    return -1;
  };
  const codecs = [];
  const avc = find("avcC");
  if (avc >= 0) codecs.push(`avc1.${[b[avc + 5], b[avc + 6], b[avc + 7]].map((x) => x.toString(16).padStart(2, "0")).join("")}`);
  if (find("mp4a") >= 0) codecs.push("mp4a.40.2");
  return `video/mp4; codecs="${codecs.join(",") || "avc1.42e01f"}"`;
}

const kindOf = (r) => (r.name === "audio" ? "audio" : "video");
const mimeOf = (r) => `${kindOf(r)}/mp4; codecs="${r.codecs}"`;

class Expired extends Error {}

export class Hls {
  // `say` shows a status line; `renew` (optional) returns a fresh signed URL after a 403.
  constructor(video, { say = () => {}, renew = null } = {}) {
    this.video = video; this.say = say; this.renew = renew;
    this.ms = null; this.sb = null; this.type = null; this.abort = null;
    this.gen = 0; this.stopped = false; this.lastReopen = 0; this.bandwidth = 0;
    this.said = "";
    this.onError = () => this.recover();
    video.addEventListener("error", this.onError);
  }

  // ---- the core every feed shares ----

  tell(text) { this.said = text; this.say(text); }

  // A new generation: whatever is in flight no longer counts.
  bump() {
    this.gen += 1;
    this.abort?.abort();
    this.abort = null;
    this.ended = false;
    this.expired = false;
    return this.gen;
  }

  // A fresh MediaSource on the element (the old one's URL released); resolves when it opens.
  async openSource() {
    this.ms = new MS();
    this.sb = null; this.type = null;
    if (window.ManagedMediaSource) this.video.disableRemotePlayback = true;
    const old = this.video.src;
    this.video.src = URL.createObjectURL(this.ms);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    await new Promise((res) => this.ms.addEventListener("sourceopen", res, { once: true }));
  }

  // The one SourceBuffer, created with the first type and retyped when a later one differs.
  buffer(type, mode = "segments") {
    if (!this.sb) {
      this.sb = this.ms.addSourceBuffer(type);
      if (mode === "sequence") this.sb.mode = "sequence";
    } else if (type !== this.type && this.sb.changeType) {
      this.sb.changeType(type);
    }
    this.type = type;
    return this.sb;
  }

  // Appends, evicting what lies well behind the playhead once if the buffer is full.
  append(buf, sb = this.sb) {
    return new Promise((res, rej) => {
      const done = () => { sb.removeEventListener("error", fail); res(); };
      const fail = () => { sb.removeEventListener("updateend", done); rej(new Error("append failed")); };
      sb.addEventListener("updateend", done, { once: true });
      sb.addEventListener("error", fail, { once: true });
      try { sb.appendBuffer(buf); } catch (err) {
        sb.removeEventListener("updateend", done); sb.removeEventListener("error", fail);
        const t = this.video.currentTime;
        if (err.name === "QuotaExceededError" && t > 30) this.remove(0, t - 10, sb).then(() => this.append(buf, sb)).then(res, rej);
        else rej(err);
      }
    });
  }

  remove(start, end, sb = this.sb) {
    return new Promise((res, rej) => {
      if (!(end > start)) { res(); return; }
      sb.addEventListener("updateend", () => res(), { once: true });
      try { sb.remove(start, end); } catch (err) { rej(err); }
    });
  }

  // The end of the buffered range holding `t`, or null.
  bufferedEnd(t) {
    const b = this.sb?.buffered;
    if (!b) return null;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= t + 0.25 && b.end(i) > t) return b.end(i);
    return null;
  }

  // The bytes of one piece; `measure` feeds the bandwidth estimate. A 403 throws `Expired`.
  async bytes(url, measure = false) {
    const abort = new AbortController();
    this.abort = abort;
    const t0 = performance.now();
    const res = await fetch(url, { signal: abort.signal });
    if (res.status === 403) throw new Expired("expired");
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const data = await res.arrayBuffer();
    if (measure) {
      const bps = data.byteLength * 8 / Math.max((performance.now() - t0) / 1000, 0.05);
      this.bandwidth = this.bandwidth ? 0.7 * this.bandwidth + 0.3 * bps : bps;
    }
    return data;
  }

  // A decode error leaves the element unusable: the feed reopens (at most every 10 s).
  recover() {
    if (this.stopped || !this.video.error || !this.reopen || Date.now() - this.lastReopen < 10000) return;
    this.tell("播放出错，正在恢复……");
    this.lastReopen = Date.now();
    this.reopen();
  }

  stop() {
    this.stopped = true;
    this.bump();
    this.video.removeEventListener("error", this.onError);
    this.video.removeAttribute("src");
    this.video.load();
  }

  // ---- a recorded lesson ----

  // Plays `renditions` (from `parseMaster`) from `at`, the rendition chosen by bandwidth or
  // `manual`. Every seek, quality choice and reopening starts a new generation: a fetch or
  // append begun in an older one is dropped rather than allowed to move `next`, so a resume or
  // a switch can never skip the segment it needs. Audio-only and video renditions cannot share
  // a SourceBuffer (MSE fixes the track set at the first init segment), so switching between
  // them reopens the MediaSource at the same position; video renditions switch in place.
  async feedRecorded(renditions, at, manual = null) {
    this.renditions = renditions;
    this.videoRenditions = renditions.filter((r) => r.name !== "audio");
    this.manual = manual; this.current = null; this.playlists = {}; this.loaded = {};
    this.next = 0; this.loading = false; this.ended = false; this.pending = null;
    this.forced = false; this.expired = false;
    // While opening, the element is paused by the reload: keep the intent of the open under way.
    this.reopen = () => {
      if (!this.current) return; // opening already
      this.lastReopen = Date.now();
      return this.openRecorded(this.position(), this.pending !== null ? this.playAfterOpen : !this.video.paused);
    };
    this.video.addEventListener("timeupdate", () => this.pump());
    this.video.addEventListener("seeking", () => this.seekTo(this.video.currentTime));
    await this.openRecorded(at, false);
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

  // Where playback is, or is heading while the source reopens (the element's clock reads 0
  // meanwhile).
  position() { return this.pending ?? this.video.currentTime; }

  // (Re)opens a MediaSource for the wanted rendition and seeks to `at`.
  async openRecorded(at, play) {
    const gen = this.bump();
    this.pending = at; this.playAfterOpen = play; this.current = null;
    const r = this.target();
    await this.openSource();
    for (;;) {
      if (gen !== this.gen) return;
      try {
        const pl = await this.playlist(r);
        if (gen !== this.gen) return;
        if (!this.sb) { this.ms.duration = pl.duration; this.buffer(mimeOf(r)); }
        const init = await this.bytes(pl.init);
        if (gen !== this.gen) return;
        await this.append(init);
        break;
      } catch (err) {
        if (gen !== this.gen) return;
        this.tell("网络不稳定，正在重试……");
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
    this.tell(r.name === "audio" ? "仅音频" : `清晰度：${r.name}`);
    document.dispatchEvent(new CustomEvent("ps-rendition", { detail: r.name }));
  }

  // The first segment still needed to play from `t`: the one after what is buffered from there
  // on, or the one holding `t`.
  indexAt(pl, t) {
    const end = this.bufferedEnd(t);
    const i = end === null ? pl.segs.findIndex((s) => s.end > t) : pl.segs.findIndex((s) => s.end > end + 0.3);
    return i < 0 ? pl.segs.length : i;
  }

  seekTo(t) {
    if (!this.current) return; // still opening: openRecorded() seeks itself
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

  // Another video rendition in the same SourceBuffer: its init segment, then its segments.
  // Chosen by hand, it replaces what is buffered after the segment playing now; chosen by
  // bandwidth, it follows what is buffered.
  async switchTo(r, gen, sb) {
    const pl = await this.playlist(r);
    if (gen !== this.gen) return;
    if (r.codecs !== this.current.codecs) this.buffer(mimeOf(r));
    const init = await this.bytes(pl.init);
    if (gen !== this.gen) return;
    await this.append(init, sb);
    if (gen !== this.gen) return;
    if (this.forced) {
      const t = this.video.currentTime;
      const i = pl.segs.findIndex((s) => s.end > t);
      const keep = i < 0 ? pl.duration : pl.segs[i].end;
      const end = this.bufferedEnd(t);
      if (end !== null && end > keep + 0.1) await this.remove(keep, this.ms.duration, sb);
      if (gen !== this.gen) return;
      this.next = i < 0 ? pl.segs.length : (end !== null && end >= keep - 0.3 ? i + 1 : i);
      this.forced = false;
    }
    this.current = r;
    this.announce(r);
  }

  async pump() {
    if (this.stopped || this.loading || this.ended || this.expired || !this.sb || !this.current) return;
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
      await this.append(data, sb);
      if (gen !== this.gen) return;
      this.next = i + 1;
      if (this.said.startsWith("网络")) this.announce(this.current);
    } catch (err) {
      if (gen !== this.gen) return;
      if (err instanceof Expired) { this.expired = true; this.tell("播放链接已过期，请刷新页面继续观看。"); return; }
      this.tell("网络不稳定，正在重试……");
      retry = true;
    } finally {
      this.loading = false;
      if (!retry) setTimeout(() => this.pump(), 0);
    }
    if (retry) { await sleep(1500); this.pump(); }
  }

  // ---- a live lecture ----

  // Follows the live playlist at `url`: starts three pieces before the edge, appends each new
  // piece in order (with its run's init segment), stays within ~12 s of the edge and ends at
  // #EXT-X-ENDLIST. An expired URL is renewed through `renew`.
  async feedLive(url) {
    this.url = url;
    this.reopen = async () => { this.lastReopen = Date.now(); await this.openLive(); this.video.play().catch(() => {}); };
    await this.openLive();
    this.followLive();
  }

  async openLive() {
    this.bump();
    this.last = null; this.init = null;
    await this.openSource();
  }

  async followLive() {
    while (!this.stopped) {
      let wait = 1000;
      const gen = this.gen;
      try {
        const res = await fetch(this.url, { cache: "no-store" });
        if (res.status === 403) {
          const fresh = await this.renew?.().catch(() => null);
          if (!fresh) { this.tell("观看链接已过期，请刷新页面。"); return; }
          this.url = fresh;
          continue;
        }
        const pl = parseMedia(await res.text(), new URL(this.url, location.href).href);
        const todo = this.last === null ? pl.segs.slice(-3) : pl.segs.filter((p) => p.seq > this.last);
        for (const p of todo) {
          if (this.stopped) return;
          if (gen !== this.gen) break; // reopened meanwhile: start again from the edge
          if (p.init !== this.init) {
            const init = await this.bytes(p.init);
            this.buffer(initType(init), "sequence");
            await this.append(init);
            this.init = p.init;
          }
          await this.append(await this.bytes(p.url));
          this.last = p.seq;
        }
        const b = this.sb?.buffered || [];
        if (b.length) {
          const end = b.end(b.length - 1);
          if (this.video.currentTime < b.start(0) || end - this.video.currentTime > 12) this.video.currentTime = Math.max(b.start(0), end - 4);
          if (this.video.currentTime - b.start(0) > 60 && !this.sb.updating) this.sb.remove(0, this.video.currentTime - 30);
        }
        if (pl.ended) { if (this.ms.readyState === "open" && this.sb && !this.sb.updating) this.ms.endOfStream(); return; }
      } catch {
        wait = 2000;
        // The media element gave up on what it was fed: start over from the live edge (at
        // most every 10 s).
        if (!this.stopped && (this.ms.readyState !== "open" || this.video.error) && Date.now() - this.lastReopen > 10000) {
          await this.reopen();
        }
      }
      await sleep(wait);
    }
  }
}

// Plays a live playlist in `video` with the engine `pickEngine` chooses (the native element
// where MSE is missing). The result `stop()`s it; its `ready` settles once the stream is open.
export function playLive(video, url, opts) {
  if (pickEngine("avc1.42e01f,mp4a.40.2") === "native") {
    video.src = url;
    return { ready: Promise.resolve(), stop: () => { video.removeAttribute("src"); video.load(); } };
  }
  const hls = new Hls(video, opts);
  hls.ready = hls.feedLive(url);
  return hls;
}
