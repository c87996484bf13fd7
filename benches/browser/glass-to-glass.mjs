// Glass-to-glass latency on loopback, in Debian's Chromium: a canvas stamped with the time
// (the low 24 bits of Date.now() in milliseconds, as black and white blocks) is the camera;
// viewers read the stamp off the frames they show, every 50 ms, and subtract it from the time
// they show it (one machine, one clock).
//
//   reference: the same canvas sent peer to peer between two pages, without the server;
//   WebRTC:    published with WHIP (H.264) and watched with WHEP through the SFU;
//   live HLS:  the same lecture through the recorder's 2-second pieces and the room's HLS player.
//
// Run inside a network namespace with only loopback, after `cargo build --release`:
//   cd tests/browser && npm ci && PARENTSCHOOL_BIN=../../target/release/parentschool \
//     unshare -n sh -c 'ip link set lo up && node ../../benches/browser/glass-to-glass.mjs [seconds]'
import { Server, launch, WEBRTC_FLAGS } from "../../tests/browser/harness.mjs";

const SECONDS = Number(process.argv[2] || 15);
const PASSWORD = "Bench-pass-2026";

// In the page: a 640×360 canvas redrawn 30 times a second with the stamp; its stream.
const STAMP_SOURCE = () => {
  const c = document.createElement("canvas");
  c.width = 640; c.height = 360;
  const g = c.getContext("2d");
  setInterval(() => {
    const t = Date.now() % 16777216;
    g.fillStyle = "#808080"; g.fillRect(0, 0, 640, 360);
    for (let i = 0; i < 24; i++) {
      g.fillStyle = (t >> i) & 1 ? "#ffffff" : "#000000";
      g.fillRect(8 + i * 26, 150, 24, 48);
    }
  }, 33);
  document.body.append(c);
  window.__stamp = c.captureStream(30);
};

// In the page: samples the stamp off a <video> for `seconds`; the latencies in ms.
const SAMPLE = async ({ selector, seconds }) => {
  const v = document.querySelector(selector);
  const c = document.createElement("canvas");
  c.width = 640; c.height = 360;
  const g = c.getContext("2d", { willReadFrequently: true });
  const out = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    if (v.readyState < 2 || !v.videoWidth) continue;
    g.drawImage(v, 0, 0, 640, 360);
    let t = 0;
    for (let i = 0; i < 24; i++) {
      const [r] = g.getImageData(8 + i * 26 + 12, 174, 1, 1).data;
      if (r > 128) t |= 1 << i;
    }
    const lat = (Date.now() % 16777216 - t + 16777216) % 16777216;
    if (lat < 60000) out.push(lat);
  }
  return out;
};

const WAIT_GATHERED = `new Promise((r) => { if (pc.iceGatheringState === "complete") r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 3000); })`;

function stats(name, xs) {
  const s = [...xs].sort((a, b) => a - b);
  const p = (q) => (s.length ? s[Math.round((s.length - 1) * q)] : NaN);
  return `| ${name} | ${s.length} | ${p(0.5)} | ${p(0.95)} | ${p(0.05)} |`;
}

async function api(base, path, token, body, method = body ? "POST" : "GET") {
  const res = await fetch(`${base}${path}`, { method, headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

const server = new Server();
Object.assign(server.env, { PARENTSCHOOL__LIVE__MEDIA_ADDRS: '["127.0.0.1:0"]' });
await server.provision();
const province = server.cli("org", "add", "--name", "浙江省妇联", "--kind", "province");
const school = server.cli("org", "add", "--name", "西湖小学", "--kind", "school", "--parent", province);
server.cli("user", "add", "--phone", "13600000001", "--password", PASSWORD, "--role", "expert", "--org", school, "--name", "李老师");
server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "家长");
const base = await server.start();
const browser = await launch(WEBRTC_FLAGS);
try {
  const expert = (await api(base, "/api/v1/auth/login", null, { phone: "13600000001", password: PASSWORD })).access_token;
  const parent = (await api(base, "/api/v1/auth/login", null, { phone: "13800000001", password: PASSWORD })).access_token;
  const d = new Date(Date.now() + 86400000 + 8 * 3600000).toISOString().slice(0, 10);
  const series = await api(base, "/api/v1/live/series", expert, { title: "延迟测试", rrule: "FREQ=WEEKLY;COUNT=1",
    starts_at: `${d}T19:30:00+08:00`, duration_minutes: 60, capacity: 100, scope_org_id: school });
  const occ = series.occurrences[0].id;
  await api(base, `/api/v1/live/occurrences/${occ}/enrolments`, parent, {});

  const page = async () => { const p = await (await browser.newContext()).newPage(); await p.goto(`${base}/`); return p; };

  // Reference: peer to peer between two pages, the same source and codec.
  const a = await page(), b = await page();
  await a.evaluate(STAMP_SOURCE);
  const offer = await a.evaluate(async (wait) => {
    const pc = new RTCPeerConnection(); window.__pc = pc;
    for (const t of window.__stamp.getTracks()) {
      const tr = pc.addTransceiver(t, { direction: "sendonly" });
      tr.setCodecPreferences(RTCRtpSender.getCapabilities("video").codecs.filter((c) => /h264/i.test(c.mimeType)));
    }
    await pc.setLocalDescription(await pc.createOffer());
    await eval(wait);
    return pc.localDescription.sdp;
  }, WAIT_GATHERED);
  const answer = await b.evaluate(async ({ offer, wait }) => {
    const pc = new RTCPeerConnection(); window.__pc = pc;
    const v = document.createElement("video"); v.id = "v"; v.muted = true; v.autoplay = true; v.playsInline = true; document.body.append(v);
    pc.ontrack = (e) => { v.srcObject = e.streams[0] || new MediaStream([e.track]); v.play().catch(() => {}); };
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer());
    await eval(wait);
    return pc.localDescription.sdp;
  }, { offer, wait: WAIT_GATHERED });
  await a.evaluate((sdp) => window.__pc.setRemoteDescription({ type: "answer", sdp }), answer);
  await b.waitForFunction(() => document.querySelector("#v").readyState >= 2, null, { timeout: 20000 });
  const reference = await b.evaluate(SAMPLE, { selector: "#v", seconds: SECONDS });
  await a.context().close(); await b.context().close();

  // Through the SFU: WHIP with H.264, WHEP.
  const pub = await page();
  await pub.evaluate(STAMP_SOURCE);
  const status = await pub.evaluate(async ({ url, token, wait }) => {
    const pc = new RTCPeerConnection(); window.__pc = pc;
    for (const t of window.__stamp.getTracks()) {
      const tr = pc.addTransceiver(t, { direction: "sendonly" });
      tr.setCodecPreferences(RTCRtpSender.getCapabilities("video").codecs.filter((c) => /h264/i.test(c.mimeType)));
    }
    await pc.setLocalDescription(await pc.createOffer());
    await eval(wait);
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/sdp", authorization: `Bearer ${token}` }, body: pc.localDescription.sdp });
    if (res.status !== 201) return res.status;
    await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    return 201;
  }, { url: `${base}/api/v1/live/occurrences/${occ}/whip`, token: expert, wait: WAIT_GATHERED });
  if (status !== 201) throw new Error(`WHIP answered ${status}`);
  const viewer = await page();
  await viewer.evaluate(async ({ url, token, wait }) => {
    const v = document.createElement("video"); v.id = "v"; v.muted = true; v.autoplay = true; v.playsInline = true; document.body.append(v);
    for (let attempt = 0; attempt < 20; attempt++) {
      const pc = new RTCPeerConnection();
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.ontrack = (e) => { v.srcObject = new MediaStream([e.track]); v.play().catch(() => {}); };
      await pc.setLocalDescription(await pc.createOffer());
      await eval(wait);
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/sdp", authorization: `Bearer ${token}` }, body: pc.localDescription.sdp });
      if (res.status === 201) { await pc.setRemoteDescription({ type: "answer", sdp: await res.text() }); return; }
      pc.close();
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error("WHEP did not answer");
  }, { url: `${base}/api/v1/live/occurrences/${occ}/whep`, token: parent, wait: WAIT_GATHERED });
  await viewer.waitForFunction(() => document.querySelector("#v").readyState >= 2, null, { timeout: 20000 });
  const webrtc = await viewer.evaluate(SAMPLE, { selector: "#v", seconds: SECONDS });

  // Live HLS of the same lecture, with the room's player.
  let hlsUrl = null;
  for (let i = 0; i < 60 && !hlsUrl; i++) {
    hlsUrl = (await api(base, `/api/v1/live/occurrences/${occ}`, parent)).hls_url;
    if (!hlsUrl) await new Promise((r) => setTimeout(r, 500));
  }
  if (!hlsUrl) throw new Error("no live HLS");
  const hls = await page();
  await hls.evaluate(async (url) => {
    const v = document.createElement("video"); v.id = "v"; v.muted = true; v.autoplay = true; v.playsInline = true; document.body.append(v);
    const { LiveHls } = await import("/js/live.js");
    await new LiveHls(v, url, () => {}).start();
    v.play().catch(() => {});
  }, hlsUrl);
  await hls.waitForFunction(() => document.querySelector("#v").readyState >= 2, null, { timeout: 30000 });
  const live = await hls.evaluate(SAMPLE, { selector: "#v", seconds: SECONDS });

  console.log(`\n## Glass-to-glass latency (loopback, Chromium ${browser.version()}, 640×360 H.264, ${SECONDS} s of samples each)\n`);
  console.log("| path | samples | p50 ms | p95 ms | p5 ms |");
  console.log("|---|---:|---:|---:|---:|");
  console.log(stats("reference: peer to peer, no server", reference));
  console.log(stats("WebRTC through the SFU (WHIP → WHEP)", webrtc));
  console.log(stats("live HLS (2 s pieces, room player)", live));
} finally {
  await browser.close();
  await server.stop();
}
