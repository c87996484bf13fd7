// The lesson player's promises, on SQLite and on PostgreSQL: a parent who comes back to a
// lesson resumes mid-segment and playback goes on (the clock and the decoded frames advance) in
// every rendition, audio only included, on the MSE and the native path; every quality switch,
// to audio only and back and among the video renditions, keeps playing at the new quality; the
// chosen speed and quality are remembered on the next visit.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Server, launch, phone, withShot, login } from "./harness.mjs";

const PASSWORD = "Test-pass-2026";
const PARENT = "13800000002";
const CURATOR = "13700000002";
// 4 s segments: 10.3 s is in the middle of the third one.
const RESUME_AT = 10.3;

// The clock and (for video) the decoded frames advance from now on.
async function advances(page, { frames = true, by = 1 } = {}) {
  const before = await page.evaluate(() => {
    const v = document.querySelector("#stage video");
    return { t: v.currentTime, f: v.getVideoPlaybackQuality().totalVideoFrames };
  });
  await page.waitForFunction(({ t, f, frames, by }) => {
    const v = document.querySelector("#stage video");
    return !v.paused && v.currentTime > t + by && (!frames || v.getVideoPlaybackQuality().totalVideoFrames > f + 10);
  }, { ...before, frames, by }, { timeout: 20000 });
}

// A tap on play; its promise is not awaited (it never settles on a stalled video: the checks
// that follow fail instead).
async function play(page) {
  await page.evaluate(() => { document.querySelector("#stage video").play().catch(() => {}); });
}

async function openLesson(page, url) {
  await page.goto(url);
  await page.locator("#stage video").waitFor();
  await page.waitForFunction(() => document.querySelector("#stage video").readyState >= 1);
}

async function seek(page, t) {
  await page.evaluate((t) => { document.querySelector("#stage video").currentTime = t; }, t);
}

// Pauses at `t` and waits for the player's report, so the server knows the position.
async function leaveAt(page, t) {
  await seek(page, t);
  await page.waitForFunction((t) => Math.abs(document.querySelector("#stage video").currentTime - t) < 0.5 && document.querySelector("#stage video").readyState >= 3, t);
  const reported = page.waitForResponse((r) => r.url().endsWith("/progress") && r.request().method() === "POST");
  await page.evaluate(() => document.querySelector("#stage video").pause());
  await reported;
}

// Reload, at the saved position: the parent taps play and it plays from there.
async function resumes(page, url, { frames = true } = {}) {
  await openLesson(page, url);
  await page.waitForFunction((p) => Math.abs(document.querySelector("#stage video").currentTime - p) < 0.3, RESUME_AT, { timeout: 15000 });
  await play(page);
  await advances(page, { frames });
  const t = await page.evaluate(() => document.querySelector("#stage video").currentTime);
  assert.ok(t > RESUME_AT && t < RESUME_AT + 8, `resumed near the saved position, now at ${t}`);
}

for (const backend of ["sqlite", "postgres"]) {
  describe(`the lesson player on ${backend}`, () => {
    const server = new Server({ postgres: backend === "postgres" });
    let browser, base, lessonUrl;

    before(async () => {
      await server.provision();
      const school = server.cli("org", "add", "--name", "新凤小学", "--kind", "province");
      server.cli("user", "add", "--phone", CURATOR, "--password", PASSWORD, "--role", "curator", "--org", school, "--name", "李老师");
      server.cli("user", "add", "--phone", PARENT, "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "豆豆爸爸");
      // 24 s of 720p with sound: renditions 360p, 540p, 720p and audio.
      execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=24",
        "-f", "lavfi", "-i", "sine=frequency=330:duration=24", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", join(server.dir, "lesson.mp4")]);
      writeFileSync(join(server.dir, "courses.csv"), "编号,标题,年龄段,课时标题,视频文件\nP1,好习惯养成,6-12,第一讲,lesson.mp4\n");
      server.cli("catalog", "import", join(server.dir, "courses.csv"), "--org", school, "--publish");
      base = await server.start();
      // Wait for the transcode through the API, as the studio does.
      const login = await fetch(`${base}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ phone: CURATOR, password: PASSWORD }) }).then((r) => r.json());
      const auth = { authorization: `Bearer ${login.access_token}` };
      const list = await fetch(`${base}/api/v1/courses?q=${encodeURIComponent("好习惯")}`, { headers: auth }).then((r) => r.json());
      const course = await fetch(`${base}/api/v1/courses/${list.items[0].id}`, { headers: auth }).then((r) => r.json());
      const asset = course.lessons[0].asset_id;
      for (let i = 0; ; i++) {
        const a = await fetch(`${base}/api/v1/assets/${asset}`, { headers: auth }).then((r) => r.json());
        if (a.state === "ready") { assert.deepEqual(a.renditions.map((r) => r.name).sort(), ["360p", "540p", "720p", "audio"]); break; }
        assert.equal(a.state, "processing", JSON.stringify(a));
        assert.ok(i < 600, "transcoding took over two minutes");
        await new Promise((r) => setTimeout(r, 200));
      }
      lessonUrl = `${base}/courses/${course.id}`;
      browser = await launch();
    });

    after(async () => {
      await browser?.close();
      await server.stop();
    });

    test("a returning parent resumes mid-segment and it plays, in every rendition and on the native path", async () => {
      const page = await phone(browser);
      await withShot(page, `player-resume-${backend}`, async () => {
        await login(page, base, PARENT, PASSWORD);
        await openLesson(page, lessonUrl);
        assert.equal(await page.locator("#stage").getAttribute("data-engine"), "mse");
        await play(page);
        await advances(page);
        await leaveAt(page, RESUME_AT);
        // Automatic quality, then each rendition chosen before (remembered for) the visit.
        await resumes(page, lessonUrl);
        for (const name of ["360p", "540p", "720p", "audio"]) {
          await leaveAt(page, RESUME_AT);
          await page.evaluate((n) => localStorage.setItem("ps.quality", n), name);
          await resumes(page, lessonUrl, { frames: name !== "audio" });
          assert.equal(await page.getByLabel("清晰度").inputValue(), name);
          const height = await page.evaluate(() => document.querySelector("#stage video").videoHeight);
          assert.equal(height, name === "audio" ? 0 : Number.parseInt(name, 10), `${name} is what plays`);
        }
        await page.evaluate(() => localStorage.removeItem("ps.quality"));
        await leaveAt(page, RESUME_AT);
        await page.goto("about:blank");
        // The native HLS path (iOS, WeChat) resumes and plays too.
        await resumes(page, `${lessonUrl}?engine=native`);
        assert.equal(await page.locator("#stage").getAttribute("data-engine"), "native");
      });
      await page.context().close();
    });

    test("every quality switch keeps playing at the new quality, and speed and quality are remembered", async () => {
      const page = await phone(browser);
      await withShot(page, `player-switch-${backend}`, async () => {
        await login(page, base, PARENT, PASSWORD);
        await openLesson(page, lessonUrl);
        await play(page);
        await advances(page);
        const steps = ["360p", "720p", "audio", "540p", "auto", "audio", "auto", "720p", "360p"];
        for (const [n, name] of steps.entries()) {
          // Mid-segment, at a different place each time.
          await seek(page, 2.5 + (n % 4) * 3.7);
          await page.getByLabel("清晰度").selectOption(name);
          if (name === "audio") {
            await page.getByText("仅音频", { exact: true }).waitFor();
            await page.waitForFunction(() => document.querySelector("#stage video").videoHeight === 0);
            await advances(page, { frames: false });
          } else {
            if (name !== "auto") await page.getByText(`清晰度：${name}`).waitFor();
            await advances(page);
            if (name !== "auto") {
              await page.waitForFunction((h) => document.querySelector("#stage video").videoHeight === h, Number.parseInt(name, 10), { timeout: 15000 });
            }
            await advances(page);
          }
        }
        await page.getByLabel("播放速度").selectOption("1.5");
        await page.getByLabel("清晰度").selectOption("540p");
        await advances(page);
        await openLesson(page, lessonUrl);
        assert.equal(await page.getByLabel("播放速度").inputValue(), "1.5");
        assert.equal(await page.getByLabel("清晰度").inputValue(), "540p");
        await play(page);
        await advances(page);
        assert.equal(await page.evaluate(() => document.querySelector("#stage video").playbackRate), 1.5);
        await page.getByText("清晰度：540p").waitFor();
      });
      await page.context().close();
    });
  });
}
