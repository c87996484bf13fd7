// WebRTC end to end, run inside a network namespace with only loopback (`unshare -n`, see
// scripts/test): an expert goes live from the studio page with Chromium's fake camera and
// microphone (WHIP), an enrolled parent enrols on the schedule page and watches in another
// context (WHEP); getStats() shows decoded video frames and arriving audio; after the parent
// leaves, the attendance report and its page show their minutes. On the way the parent asks a
// question, which the studio sees, gets a vote and is marked answered.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Server, launch, phone, withShot, login, WEBRTC_FLAGS } from "./harness.mjs";

// On PostgreSQL through its Unix socket when scripts/test found one (the namespace has no
// route to the host's 127.0.0.1), else on SQLite.
const server = new Server({ postgres: process.env.PARENTSCHOOL_TEST_PG_SOCKET_URL ? "socket" : false });
let browser, base, occ, expertToken;
const PASSWORD = "Test-pass-2026";

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

async function apiCall(path, token, body, method = body ? "POST" : "GET") {
  const res = await fetch(`${base}${path}`, {
    method, headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => null);
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

before(async () => {
  Object.assign(server.env, {
    PARENTSCHOOL__LIVE__MEDIA_ADDRS: '["127.0.0.1:0"]',
    PARENTSCHOOL__LIVE__ATTENDANCE_FLUSH_SECONDS: "1",
  });
  await server.provision();
  const province = server.cli("org", "add", "--name", "浙江省妇联", "--kind", "province");
  const school = server.cli("org", "add", "--name", "西湖小学", "--kind", "school", "--parent", province);
  server.cli("user", "add", "--phone", "13600000001", "--password", PASSWORD, "--role", "expert", "--org", school, "--name", "李老师");
  server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "乐乐妈妈");
  base = await server.start();
  expertToken = (await apiCall("/api/v1/auth/login", null, { phone: "13600000001", password: PASSWORD })).access_token;
  // Tomorrow evening; going live early is allowed.
  const d = new Date(Date.now() + 86400000 + 8 * 3600000).toISOString().slice(0, 10);
  const series = await apiCall("/api/v1/live/series", expertToken, {
    title: "青春期亲子沟通", description: "第一讲", rrule: "FREQ=WEEKLY;COUNT=2", starts_at: `${d}T19:30:00+08:00`,
    duration_minutes: 60, capacity: 100, scope_org_id: school,
  });
  occ = series.occurrences[0].id;
  browser = await launch(WEBRTC_FLAGS);
});

after(async () => {
  await browser?.close();
  await server.stop();
});

test("an expert goes live, an enrolled parent watches, attendance is recorded", async () => {
  const expert = await phone(browser);
  await expert.context().grantPermissions(["camera", "microphone"]).catch(() => {});
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
        body: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n",
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
      assert.equal(report.enrolled, 1);

      // The report page shows it; the expert ends the lecture.
      await expert.goto(`${base}/studio/live/${occ}/report`);
      await expert.getByRole("row", { name: /乐乐妈妈/ }).waitFor();
      await expert.getByText("报名 1 人").waitFor();
    });
  });
  await parent.context().close();
  await expert.context().close();
});
