// WebRTC end to end, run inside a network namespace with only loopback (`unshare -n`, see
// scripts/test): an expert goes live from the studio page with Chromium's fake camera and
// microphone (WHIP), an enrolled parent enrols on the schedule page and watches in another
// context (WHEP) through the one shared UDP port; getStats() shows decoded video frames and
// arriving audio. The parent asks a question, which the studio sees, gets a vote and is marked
// answered. A second parent, over the WebRTC viewer limit, is switched to live HLS by the room
// and counted in attendance. The expert's network "drops" and an H.264 + Opus publisher using
// the stream key (as OBS would) replaces the stale session while the first parent's picture
// goes on. After the end, the replay plays as a lesson with the chat and the answered question
// as a chapter beside it, and the live minutes already count on it.
import { test, before, after } from "node:test";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { join } from "node:path";
import assert from "node:assert/strict";
import { Server, launch, phone, withShot, login, keepShot, layoutTrouble, WEBRTC_FLAGS, apiCall as harnessApiCall } from "./harness.mjs";

// On PostgreSQL through its Unix socket when scripts/test found one (the namespace has no
// route to the host's 127.0.0.1), else on SQLite; PARENTSCHOOL_WEBRTC_DB=sqlite forces SQLite
// (scripts/test runs it both ways). The SQLite run is also the newcomer's: the binary in a fresh
// folder with the default relative data dir, where the replay must still become playable.
const onPostgres = process.env.PARENTSCHOOL_TEST_PG_SOCKET_URL && process.env.PARENTSCHOOL_WEBRTC_DB !== "sqlite";
const server = new Server({ postgres: onPostgres ? "socket" : false, newcomer: !onPostgres });
// The notice gateway: reminders and "replay ready" notices arrive here.
const notices = [];
const gateway = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => { notices.push({ key: req.headers["idempotency-key"], ...JSON.parse(body) }); res.writeHead(202).end(); });
});
let browser, base, occ, occ2, expertToken, parent2Token, parent2, schoolId;
// The shared WebRTC media port.
const UDP_PORT = 30000 + Math.floor(Math.random() * 20000);
const PASSWORD = "Test-pass-2026";

// Publishes the fake camera and microphone with H.264 + Opus to a WHIP URL with a stream key,
// as OBS would (runs in a page).
const PUBLISH_WITH_KEY = async ({ url, key }) => {
  window.__obs?.close();
  const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  const pc = new RTCPeerConnection();
  window.__obs = pc;
  for (const track of stream.getTracks()) {
    const t = pc.addTransceiver(track, { direction: "sendonly" });
    if (track.kind === "video") t.setCodecPreferences(RTCRtpSender.getCapabilities("video").codecs.filter((c) => /h264/i.test(c.mimeType)));
  }
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => { if (pc.iceGatheringState === "complete") r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 3000); });
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/sdp", authorization: `Bearer ${key}` }, body: pc.localDescription.sdp });
  const answer = await res.text();
  if (res.status !== 201) return { status: res.status, answer };
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  return { status: 201, h264: /H264/i.test(answer) };
};

// A WHEP offer that is never completed (its answer is never applied, so ICE never finishes), as
// a hostile or broken client makes (runs in a page).
const GHOST_OFFER = async ({ url, token }) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => { if (pc.iceGatheringState === "complete") r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 3000); });
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/sdp", authorization: `Bearer ${token}` }, body: pc.localDescription.sdp });
  (window.__ghosts ||= []).push(pc);
  const body = await res.text();
  return { status: res.status, code: res.status === 201 ? null : JSON.parse(body).code };
};

// Every RTCPeerConnection a page makes, for getStats().
const RECORD_PCS = () => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
};

// The harness's call, which must succeed here; returns the body.
async function apiCall(path, token, body, method = body ? "POST" : "GET") {
  const res = await harnessApiCall(base, path, token, body, method);
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

before(async () => {
  await new Promise((r) => gateway.listen(0, "127.0.0.1", r));
  Object.assign(server.env, {
    PARENTSCHOOL__LIVE__NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${gateway.address().port}/notices`,
    PARENTSCHOOL__LIVE__REMINDER_CHECK_SECONDS: "1",
    PARENTSCHOOL__LIVE__MEDIA_ADDRS: '["127.0.0.1:0"]',
    PARENTSCHOOL__LIVE__ATTENDANCE_FLUSH_SECONDS: "1",
    PARENTSCHOOL__LIVE__WEBRTC_VIEWER_LIMIT: "1",
    PARENTSCHOOL__LIVE__UDP_PORT: String(UDP_PORT),
    PARENTSCHOOL__LIVE__UDP_PUBLIC_IP: "127.0.0.1",
  });
  await server.provision();
  const province = server.cli("org", "add", "--name", "浙江省妇联", "--kind", "province");
  const school = server.cli("org", "add", "--name", "西湖小学", "--kind", "school", "--parent", province);
  server.cli("user", "add", "--phone", "13600000001", "--password", PASSWORD, "--role", "expert", "--org", school, "--name", "李老师");
  server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "乐乐妈妈");
  server.cli("user", "add", "--phone", "13800000002", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "乐乐爸爸");
  server.cli("user", "add", "--phone", "13700000001", "--password", PASSWORD, "--role", "curator", "--org", school, "--name", "王老师");
  schoolId = school;
  base = await server.start();
  expertToken = (await apiCall("/api/v1/auth/login", null, { phone: "13600000001", password: PASSWORD })).access_token;
  // Tomorrow evening; going live early is allowed.
  const d = new Date(Date.now() + 86400000 + 8 * 3600000).toISOString().slice(0, 10);
  const series = await apiCall("/api/v1/live/series", expertToken, {
    title: "青春期亲子沟通", description: "第一讲", rrule: "FREQ=WEEKLY;COUNT=2", starts_at: `${d}T19:30:00+08:00`,
    duration_minutes: 60, capacity: 100, scope_org_id: school, age_stages: ["12-15", "15-18"],
  });
  occ = series.occurrences[0].id;
  occ2 = series.occurrences[1].id;
  parent2Token = (await apiCall("/api/v1/auth/login", null, { phone: "13800000002", password: PASSWORD })).access_token;
  await apiCall(`/api/v1/live/occurrences/${occ}/enrolments`, parent2Token, {});
  browser = await launch(WEBRTC_FLAGS);
});

after(async () => {
  await browser?.close();
  await server.stop();
  gateway.close();
});

test("an expert goes live, an enrolled parent watches, attendance is recorded", async () => {
  const expert = await phone(browser);
  await expert.context().grantPermissions(["camera", "microphone"]).catch(() => {});
  await expert.addInitScript(RECORD_PCS);
  const parent = await phone(browser);
  await parent.addInitScript(RECORD_PCS);
  await withShot(expert, "live-expert", async () => {
    await withShot(parent, "live-parent", async () => {
      // The parent enrols on the schedule page and sees the room say it has not started.
      await login(parent, base, "13800000001", PASSWORD);
      await parent.getByRole("link", { name: "直播" }).click();
      await parent.getByRole("button", { name: "报名" }).first().click();
      await parent.getByText("已报名").first().waitFor();
      await parent.getByRole("link", { name: "查看" }).first().click();
      await parent.getByText("直播还没有开始").waitFor();

      // The expert goes live from the studio.
      await login(expert, base, "13600000001", PASSWORD);
      await expert.goto(`${base}/studio/live/${occ}`);
      await expert.waitForFunction(() => document.querySelector("video")?.srcObject, null, { timeout: 15000 });
      await expert.getByRole("button", { name: "开始直播" }).click();
      await expert.getByText("直播中", { exact: true }).waitFor({ timeout: 20000 });
      const liveAt = Date.now();

      // The parent's open room switches to the stream by itself (Server-Sent Events).
      await parent.waitForFunction(async () => {
        for (const pc of window.__pcs || []) {
          const stats = await pc.getStats();
          let frames = 0, audio = 0;
          stats.forEach((s) => {
            if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
            if (s.type === "inbound-rtp" && s.kind === "audio") audio += s.packetsReceived || 0;
          });
          if (frames > 10 && audio > 20) return true;
        }
        return false;
      }, null, { timeout: 30000, polling: 500 });
      await expert.getByText("1 人正在观看").waitFor({ timeout: 15000 });

      // A second publisher is refused with a clear message while the first is live.
      const second = await fetch(`${base}/api/v1/live/occurrences/${occ}/whip`, {
        method: "POST", headers: { "content-type": "application/sdp", authorization: `Bearer ${expertToken}` },
        // A WebRTC offer in shape (ICE credentials, a DTLS fingerprint), as a second browser sends.
        body: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
          + "a=fingerprint:sha-256 AB:CD:EF\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n",
      });
      assert.equal(second.status, 409);
      assert.equal((await second.json()).code, "publisher_active");
      // A question reaches the studio, gets a vote and is marked answered, live both ways.
      await parent.getByLabel("向老师提问").fill("孩子总玩手机怎么办？");
      await parent.getByLabel("向老师提问").press("Enter");
      const asked = expert.locator(".question", { hasText: "孩子总玩手机怎么办？" });
      await asked.waitFor({ timeout: 10000 });
      await parent.getByRole("button", { name: "同问 +1" }).click();
      await asked.getByText("1 票").waitFor({ timeout: 10000 });
      await asked.getByRole("button", { name: "标记已回答" }).click();
      await parent.locator(".question", { hasText: "孩子总玩手机怎么办？" }).getByText("已回答").waitFor({ timeout: 10000 });
      await parent.waitForTimeout(4000); // a few more seconds of attendance

      // Media flows through the one shared UDP port.
      const remotePort = await parent.evaluate(async () => {
        for (const pc of window.__pcs) {
          const stats = await pc.getStats();
          let pair = null;
          stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
          if (pair) return stats.get(pair.remoteCandidateId)?.port;
        }
        return null;
      });
      assert.equal(remotePort, UDP_PORT);

      // A second parent is over the WebRTC limit (1): the room switches to live HLS by itself,
      // plays, and its heartbeats count as attendance.
      parent2 = await phone(browser);
      await withShot(parent2, "live-parent-hls", async () => {
        await login(parent2, base, "13800000002", PASSWORD);
        await parent2.goto(`${base}/live/${occ}`);
        await parent2.getByText("实时观看人数已满，已切换到流畅模式（HLS）").waitFor({ timeout: 30000 });
        await parent2.waitForFunction(() => {
          const v = document.querySelector("video");
          return v && v.getVideoPlaybackQuality().totalVideoFrames > 10 && !v.paused;
        }, null, { timeout: 40000, polling: 500 });
        await expert.getByText("2 人正在观看").waitFor({ timeout: 15000 });
        await parent2.waitForTimeout(3000);
      });
      // What the room was told: 503 webrtc_full with the signed live playlist.
      const full = await fetch(`${base}/api/v1/live/occurrences/${occ}/whep`, {
        method: "POST", headers: { "content-type": "application/sdp", authorization: `Bearer ${parent2Token}` },
        body: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
          + "a=fingerprint:sha-256 AB:CD:EF\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\n",
      });
      assert.equal(full.status, 503);
      const fullBody = await full.json();
      assert.equal(fullBody.code, "webrtc_full");
      assert.match(fullBody.hls_url, new RegExp(`^/live-hls/${occ}/.+/index\\.m3u8$`));

      // The expert's network drops (nothing more is sent); a publisher with the stream key, as
      // OBS would use it (H.264 + Opus), replaces the stale session. The first parent keeps
      // their connection and the picture goes on.
      const { stream_key, whip_url } = await apiCall(`/api/v1/live/occurrences/${occ}/stream-key`, expertToken, {});
      assert.match(whip_url, new RegExp(`/api/v1/live/occurrences/${occ}/whip$`));
      await expert.evaluate(async () => { for (const pc of window.__pcs) for (const s of pc.getSenders()) await s.replaceTrack(null); });
      await expert.waitForTimeout(3500);
      const frames = () => parent.evaluate(async () => {
        let n = 0;
        for (const pc of window.__pcs) (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") n += s.framesDecoded || 0; });
        return n;
      });
      const before = await frames();
      const obs = await expert.context().newPage();
      await obs.goto(`${base}/`);
      const published = await obs.evaluate(PUBLISH_WITH_KEY, { url: whip_url, key: stream_key });
      assert.deepEqual(published, { status: 201, h264: true });
      await parent.waitForFunction(async (n) => {
        let f = 0;
        for (const pc of window.__pcs) (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") f += s.framesDecoded || 0; });
        return f > n + 30;
      }, before, { timeout: 20000, polling: 500 });
      // The recording resumes with the new publisher: the HLS viewer's picture goes on too.
      const hlsFrames = await parent2.evaluate(() => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames);
      await parent2.waitForFunction((n) => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames > n + 60,
        hlsFrames, { timeout: 30000, polling: 500 });
      assert.equal((await apiCall(`/api/v1/live/occurrences/${occ}`, expertToken)).state, "live");

      // ffmpeg dies mid-way: the recorder starts it again and the HLS picture goes on.
      execFileSync("pkill", ["-KILL", "-f", "ffmpeg.*live/.*/in[.]sdp"]);
      const afterKill = await parent2.evaluate(() => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames);
      await parent2.waitForFunction((n) => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames > n + 60,
        afterKill, { timeout: 30000, polling: 500 });

      // A crash during the lecture: the server is killed and restarts on the same data. The
      // lecture is paused until the publisher comes back; recording resumes into the same replay.
      const crashedAt = Date.now();
      await server.restart();
      let stateAfter;
      for (let i = 0; i < 20 && stateAfter !== "paused"; i++) {
        stateAfter = (await apiCall(`/api/v1/live/occurrences/${occ}`, expertToken)).state;
        if (stateAfter !== "paused") await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(stateAfter, "paused");
      const republished = await obs.evaluate(PUBLISH_WITH_KEY, { url: whip_url, key: stream_key });
      assert.equal(republished.status, 201, JSON.stringify(republished));
      const resumedAt = Date.now();
      const afterCrash = await parent2.evaluate(() => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames);
      await parent2.waitForFunction((n) => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames > n + 90,
        afterCrash, { timeout: 40000, polling: 500 });

      // The parent leaves; the report counts their minutes.
      await parent.getByRole("link", { name: "我的学习" }).click();
      let report;
      for (let i = 0; i < 20; i++) {
        report = await apiCall(`/api/v1/live/occurrences/${occ}/attendance`, expertToken);
        if (report.people[0]?.minutes > 0) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const person = report.people.find((p) => p.display_name === "乐乐妈妈");
      assert.ok(person && person.minutes >= 0.05, JSON.stringify(report));
      assert.equal(person.enrolment, "enrolled");
      assert.equal(person.phone, "138****0001");
      assert.equal(report.enrolled, 2);

      // The HLS viewer is in the report too.
      const hlsViewer = report.people.find((p) => p.display_name === "乐乐爸爸");
      assert.ok(hlsViewer && hlsViewer.minutes >= 0.05, JSON.stringify(report));

      // The report page shows it; the expert ends the lecture.
      await expert.goto(`${base}/studio/live/${occ}/report`);
      await expert.getByRole("row", { name: /乐乐妈妈/ }).waitFor();
      await expert.getByText("报名 2 人").waitFor();
      await apiCall(`/api/v1/live/occurrences/${occ}/end`, expertToken, {});
      const endedAt = Date.now();

      // The recording becomes a replay lesson; once transcoded it plays with the chat beside it
      // and the answered question as a chapter. What the parent watched live already counts.
      let replay = null;
      for (let i = 0; i < 120 && !replay; i++) {
        replay = (await apiCall(`/api/v1/live/occurrences/${occ}`, expertToken)).replay;
        if (!replay) await new Promise((r) => setTimeout(r, 1000));
      }
      assert.ok(replay, "the replay was attached");
      const parentToken = (await apiCall("/api/v1/auth/login", null, { phone: "13800000001", password: PASSWORD })).access_token;
      for (let i = 0; i < 180; i++) {
        const res = await fetch(`${base}/api/v1/assets/${replay.asset_id}/playback`, { headers: { authorization: `Bearer ${parentToken}` } });
        if (res.ok) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      // The replay holds the lecture from before the crash and after it (a few seconds of
      // each run are lost at most: ffmpeg's start and the piece being written).
      const asset = await apiCall(`/api/v1/assets/${replay.asset_id}`, expertToken);
      const lived = (crashedAt - liveAt + endedAt - resumedAt) / 1000;
      assert.ok(asset.duration_s > lived * 0.5 && asset.duration_s < lived + 5, `${asset.duration_s} s of ${lived} s live`);
      const seeded = await apiCall(`/api/v1/assets/${replay.asset_id}/progress`, parentToken);
      assert.ok(seeded.watched_s > 1, JSON.stringify(seeded));
      // Both enrolled parents are told once that the replay is ready (and were reminded once).
      for (let i = 0; i < 60 && notices.filter((n) => n.kind === "replay_ready").length < 2; i++) await new Promise((r) => setTimeout(r, 500));
      const ready = notices.filter((n) => n.kind === "replay_ready");
      assert.equal(ready.length, 2, JSON.stringify(notices));
      assert.deepEqual(ready.map((n) => n.phone).sort(), ["+8613800000001", "+8613800000002"]);
      assert.ok(ready.every((n) => n.key === n.id && n.occurrence_id === occ && n.text.includes("回放")));
      const reminders = notices.filter((n) => n.kind === "reminder");
      assert.equal(new Set(reminders.map((n) => n.id)).size, reminders.length, "no reminder twice");
      // The replay course is for the series' age stages, not every stage.
      const course = await apiCall(`/api/v1/courses/${replay.course_id}`, parentToken);
      assert.deepEqual(course.age_stages, ["12-15", "15-18"], JSON.stringify(course));
      // The ended room offers the replay, and no longer says it is still being prepared.
      await parent.goto(`${base}/live/${occ}`);
      await parent.getByRole("link", { name: "观看回放" }).waitFor();
      await parent.getByText("直播已结束，可以观看回放。").waitFor();
      assert.equal(await parent.getByText(/回放整理好后/).count(), 0);
      await parent.goto(`${base}/courses/${replay.course_id}?lesson=${replay.lesson_id}`);
      await parent.getByRole("button", { name: /孩子总玩手机怎么办？/ }).waitFor({ timeout: 20000 });
      await parent.locator(".replay-chat").waitFor();
      await parent.waitForFunction(() => {
        const v = document.querySelector(".stage video");
        if (v && v.paused) v.play().catch(() => {});
        return v && v.getVideoPlaybackQuality().totalVideoFrames > 10;
      }, null, { timeout: 30000, polling: 500 });
    });
  });
  await parent.context().close();
  await expert.context().close();
});

// 数字化评价 end to end: a curator defines a certificate rule in the studio (live time, an hour
// offline, a course of the school's list completed); the parent who watched the lecture above
// watches that course to its end and checks in at an activity by the host screen's QR code; the
// curator issues; the parent's certificate picture reads back (QR code: the verify link; OCR:
// the Chinese); the verify page says valid, and revoked once the curator revokes it.
test("a parent earns a certificate by watching, a live lecture and a check-in; anyone verifies it until it is revoked", async () => {
  const curatorToken = (await apiCall("/api/v1/auth/login", null, { phone: "13700000001", password: PASSWORD })).access_token;
  const parentToken = (await apiCall("/api/v1/auth/login", null, { phone: "13800000001", password: PASSWORD })).access_token;
  // A course of one short video in the school's list, and an activity starting soon.
  const course = await apiCall("/api/v1/courses", curatorToken, { title: "好家长必修课", age_stages: ["6-12"], owner_org_id: schoolId, scope_org_id: schoolId });
  const clip = join(server.dir, "lesson.mp4");
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4",
    "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", clip]);
  server.cli("media", "upload", clip, "--course", course.id, "--title", "第一讲：好习惯");
  for (const to of ["in_review", "published"]) await apiCall(`/api/v1/courses/${course.id}/transitions`, curatorToken, { to });
  const list = await apiCall("/api/v1/lists", curatorToken, { title: "西湖小学必修课", year: 2026, owner_org_id: schoolId, scope_org_id: schoolId });
  await apiCall(`/api/v1/lists/${list.id}/items`, curatorToken, { course_ids: [course.id], version: list.version }, "PUT");
  const at = (min) => new Date(Date.now() + min * 60000).toISOString();
  const activity = (await apiCall("/api/v1/activities", curatorToken, { title: "家长课堂：读懂孩子", kind: "lecture", place: "学校礼堂",
    starts_at: at(10), ends_at: at(70), capacity: 50, scope_org_id: schoolId, host_org_id: schoolId, credit_minutes: 60 })).id;
  await apiCall(`/api/v1/activities/${activity}/enrolments`, parentToken, {});
  const lesson = (await apiCall(`/api/v1/courses/${course.id}`, curatorToken)).lessons[0];
  for (let i = 0; i < 120; i++) {
    if ((await apiCall(`/api/v1/assets/${lesson.asset_id}`, curatorToken)).state === "ready") break;
    await new Promise((r) => setTimeout(r, 500));
  }

  const curator = await phone(browser);
  const parent = await phone(browser);
  const stranger = await phone(browser);
  const RULE = "2026 年秋季学期家长学校结业证书";
  await withShot(curator, "certificate-curator", async () => {
    await withShot(parent, "certificate-parent", async () => {
      // The curator defines the rule in the studio.
      await login(curator, base, "13700000001", PASSWORD);
      await curator.goto(`${base}/studio`);
      await curator.getByRole("link", { name: "证书管理" }).click();
      const form = curator.getByRole("form", { name: "新建证书规则" });
      await form.getByRole("button", { name: "创建规则" }).click();
      await form.getByRole("alert").filter({ hasText: "请填写" }).first().waitFor();
      await form.getByLabel("证书名称").fill(RULE);
      await form.getByLabel("其中直播不少于（小时）").fill("0.0005");
      await form.getByLabel("其中线下活动不少于（小时）").fill("1");
      await form.getByLabel("课程清单").selectOption({ label: "西湖小学必修课（1 门）" });
      await form.getByLabel("至少完成几门（留空：全部）").fill("1");
      await form.getByRole("button", { name: "创建规则" }).click();
      await curator.getByText(RULE).waitFor();

      // The parent watches the course to its end…
      await login(parent, base, "13800000001", PASSWORD);
      await parent.goto(`${base}/courses/${course.id}`);
      await parent.locator(".stage video").waitFor();
      await parent.waitForFunction(() => {
        const v = document.querySelector(".stage video");
        if (v && v.paused && !v.ended) v.play().catch(() => {});
        return v && v.ended;
      }, null, { timeout: 30000, polling: 250 });
      for (let i = 0; i < 40; i++) {
        const p = await apiCall(`/api/v1/assets/${lesson.asset_id}/progress`, parentToken);
        if (p.completed) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      // …and checks in at the activity with the code on the host's screen.
      await curator.goto(`${base}/activities/${activity}/screen`);
      const qr = curator.getByRole("img", { name: "签到二维码" });
      await curator.waitForFunction(() => document.querySelector("img.qr")?.complete && document.querySelector("img.qr").naturalWidth > 0);
      const shot = join(server.dir, "check-in-qr.png");
      await qr.screenshot({ path: shot });
      const checkIn = execFileSync("zbarimg", ["--raw", "-q", shot]).toString().trim();
      await parent.goto(checkIn.replace(/^https?:\/\/[^/]+/, base));
      await parent.getByRole("status").filter({ hasText: "签到成功" }).waitFor();

      // The curator issues now; the parent finds it in 我的证书.
      await curator.goto(`${base}/studio/certificates`);
      await curator.getByRole("button", { name: "立即发证" }).first().click();
      await curator.getByText("已开始检查").waitFor();
      let found = false;
      for (let i = 0; i < 40 && !found; i++) {
        await parent.goto(`${base}/me/certificates`);
        await parent.getByRole("heading", { name: "我的证书" }).waitFor();
        found = (await parent.getByRole("heading", { name: RULE }).count()) > 0;
        if (!found) await parent.waitForTimeout(500);
      }
      assert.ok(found, "no certificate in 我的证书");
      await parent.getByRole("img", { name: new RegExp(`^${RULE}，乐乐妈妈`) }).waitFor();
      await parent.setViewportSize({ width: 360, height: 740 });
      assert.deepEqual(await layoutTrouble(parent), []);
      await keepShot(parent, "certificate-mine");
      const [download] = await Promise.all([parent.waitForEvent("download"), parent.getByRole("button", { name: "下载图片" }).click()]);
      const picture = join(server.dir, "certificate.png");
      await download.saveAs(picture);
      const link = execFileSync("zbarimg", ["--raw", "-q", picture]).toString().trim();
      assert.match(link, /\/verify\/[A-Z2-9]{12}$/);
      const read = execFileSync("tesseract", [picture, "-", "-l", "chi_sim"]).toString().replace(/\s/g, "");
      for (const said of ["2026年秋季学期家长学校结业证书", "乐乐妈妈", "在西湖小学完成规定的家庭教育学习"]) {
        assert.ok(read.includes(said), `OCR lacks ${said}: ${read}`);
      }

      // Anyone with the link: valid, the name masked.
      const verify = link.replace(/^https?:\/\/[^/]+/, base);
      await stranger.goto(verify);
      await stranger.getByText("✓ 证书有效").waitFor();
      await stranger.getByText("乐***").waitFor();
      await keepShot(stranger, "certificate-verify");

      // The curator revokes it with a reason; the page now says so.
      await curator.goto(`${base}/studio/certificates`);
      await curator.getByRole("button", { name: "查看证书" }).first().click();
      await curator.getByLabel(/撤销 乐乐妈妈 的证书的原因/).fill("学时记录有误");
      await curator.getByRole("button", { name: "撤销", exact: true }).click();
      await curator.getByText("已撤销：学时记录有误").waitFor();
      await keepShot(curator, "certificate-studio");
      await stranger.reload();
      await stranger.getByText("✗ 证书已撤销").waitFor();
      await stranger.getByText(/原因：学时记录有误/).waitFor();
    });
  });
  await stranger.context().close();
  await parent.context().close();
  await curator.context().close();
});

test("one viewer cannot hold a lecture's WebRTC slots", async () => {
  // The second lecture of the series goes live (OBS-style, with a stream key); the WebRTC limit
  // is one viewer.
  const page = await phone(browser);
  await withShot(page, "live-slots", async () => {
    await page.goto(`${base}/`);
    const { stream_key, whip_url } = await apiCall(`/api/v1/live/occurrences/${occ2}/stream-key`, expertToken, {});
    const published = await page.evaluate(PUBLISH_WITH_KEY, { url: whip_url, key: stream_key });
    assert.equal(published.status, 201, JSON.stringify(published));
    await apiCall(`/api/v1/live/occurrences/${occ2}/enrolments`, parent2Token, {});
    const whep = `${base}/api/v1/live/occurrences/${occ2}/whep`;
    const ghost = (token) => page.evaluate(GHOST_OFFER, { url: whep, token });

    // A parent's offer that never connects holds the slot for a while: nobody else gets it…
    assert.deepEqual(await ghost(parent2Token), { status: 201, code: null });
    assert.deepEqual(await ghost(expertToken), { status: 503, code: "webrtc_full" });
    // …but the same parent's newer session takes over their own (a phone changing networks).
    assert.deepEqual(await ghost(parent2Token), { status: 201, code: null });
    // Unconnected, it frees the slot after `live.viewer_connect_seconds` (10 s).
    let freed;
    for (let i = 0; i < 30; i++) {
      await page.waitForTimeout(1000);
      freed = await ghost(expertToken);
      if (freed.status === 201) break;
      assert.deepEqual(freed, { status: 503, code: "webrtc_full" });
    }
    assert.deepEqual(freed, { status: 201, code: null });
  });
  await page.context().close();
});
