// On PostgreSQL and S3: a curator uploads a generated video through the course editor (progress bar moves), it
// transcodes and gets captions, a parent plays it in Chromium through MSE (frames decode), switches
// quality, turns captions on, resumes after a reload, and sees the study time on "my learning";
// the native-HLS path is forced too; the curator's study report shows the parent and exports CSV.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Server, launch, phone, withShot, login, layoutTrouble } from "./harness.mjs";

/// Presses play. The player may reopen its source (its first quality switch) just then, which
/// rejects this one play() call with AbortError while playback goes on; the callers then wait
/// for the clock to advance, which is the promise.
const pressPlay = () => document.querySelector("video").play().catch((e) => { if (e.name !== "AbortError") throw e; });

// Once on the production pair: PostgreSQL and S3.
const server = new Server({ postgres: true, s3: true });
let browser, base, clip, courseUrl;
const PASSWORD = "Test-pass-2026";
const TITLE = "陪孩子读绘本";

before(async () => {
  await server.provision();
  const province = server.cli("org", "add", "--name", "浙江省妇联", "--kind", "province");
  server.cli("user", "add", "--phone", "13700000001", "--password", PASSWORD, "--role", "curator", "--org", province, "--name", "王老师");
  server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", province, "--name", "乐乐妈妈");
  clip = join(server.dir, "lecture.mp4");
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=25:duration=12",
    "-f", "lavfi", "-i", "sine=frequency=440:duration=12", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", clip]);
  base = await server.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
});

test("a curator uploads a video through the course editor and publishes it", async () => {
  const page = await phone(browser);
  await withShot(page, "media-curator", async () => {
    await login(page, base, "13700000001", PASSWORD);
    await page.getByRole("link", { name: "新建课程" }).click();
    await page.getByLabel("课程标题").fill(TITLE);
    await page.getByLabel("3–6 岁").check();
    await page.getByRole("button", { name: "添加课时" }).click();
    await page.getByLabel("课时标题").fill("第一讲：一起读");
    const bar = page.getByLabel("上传进度");
    // Every transcoding percentage the editor shows, as the curator would see it change.
    await page.evaluate(() => {
      window.shown = [];
      new MutationObserver(() => {
        const m = document.querySelector(".uploader")?.textContent.match(/转码中 (\d+)%/);
        if (m && window.shown.at(-1) !== Number(m[1])) window.shown.push(Number(m[1]));
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.getByLabel("上传视频").setInputFiles(clip);
    await page.getByText(/上传中|转码中/).first().waitFor();
    await page.getByText("视频已就绪").waitFor({ timeout: 120000 });
    assert.equal(await bar.evaluate((b) => b.value), 100);
    // The percentage moved while it ran, not 0 % and then ready.
    const shown = await page.evaluate(() => window.shown);
    assert.ok(shown.some((p) => p > 0 && p < 100), `transcoding progress shown: ${JSON.stringify(shown)}`);
    // The asset id is kept out of sight (no UUIDs in forms), and the lesson says it has a video.
    assert.ok((await page.locator("[name=lesson_asset]").inputValue()).length > 30, "the asset id was filled in");
    assert.equal(await page.locator("[name=lesson_asset]").getAttribute("type"), "hidden");
    await page.getByText("已上传新视频（保存后生效）").waitFor();
    // Leaving before the video is saved to the course asks first; staying keeps the work.
    let asked = "";
    page.once("dialog", (d) => { asked = d.message(); d.dismiss(); });
    await page.getByRole("link", { name: "工作台" }).click();
    assert.match(asked, /还没有保存到课程/);
    assert.match(page.url(), /\/studio\/courses\/new$/);
    await page.getByText("已上传新视频（保存后生效）").waitFor();
    const srt = join(server.dir, "lecture.srt");
    writeFileSync(srt, "1\r\n00:00:00,000 --> 00:00:11,000\r\n大家好，今天我们一起读绘本。\r\n");
    await page.getByLabel("上传字幕（SRT 或 WebVTT）").setInputFiles(srt);
    await page.getByText("字幕已保存（中文，1 条）").waitFor();
    await page.getByRole("button", { name: "创建课程" }).click();
    await page.waitForURL(/\/studio\/courses\/[0-9a-f-]{36}$/);
    courseUrl = page.url().replace("/studio/courses/", "/courses/");
    await page.getByRole("button", { name: "提交审核" }).click();
    await page.getByText("状态：待审核").waitFor();
    await page.getByRole("button", { name: "审核通过并发布" }).click();
    await page.getByText("状态：已发布").waitFor();
  });
  await page.context().close();
});

async function playing(page, seconds) {
  await page.waitForFunction((s) => {
    const v = document.querySelector("video");
    return v && v.currentTime > s && v.getVideoPlaybackQuality().totalVideoFrames > 5;
  }, seconds, { timeout: 30000 });
}

test("a parent plays it through MSE, switches quality, resumes after reload, and sees study time", async () => {
  const page = await phone(browser);
  await withShot(page, "media-parent", async () => {
    await login(page, base, "13800000001", PASSWORD);
    await page.goto(courseUrl);
    await page.locator("#stage video").waitFor();
    assert.equal(await page.locator("#stage").getAttribute("data-engine"), "mse");
    await page.evaluate(pressPlay);
    await playing(page, 1.5);
    const options = await page.getByLabel("清晰度").locator("option").allTextContents();
    assert.deepEqual(options, ["自动", "360p", "540p", "仅音频（省流量）"]);
    await page.getByLabel("清晰度").selectOption("540p");
    await page.getByText("清晰度：540p").waitFor();
    assert.deepEqual(await page.getByLabel("字幕").locator("option").allTextContents(), ["关", "中文"]);
    await page.getByLabel("字幕").selectOption("zh");
    await page.waitForFunction(() => {
      const t = document.querySelector("video").textTracks[0];
      return t && t.mode === "showing" && t.activeCues?.length && t.activeCues[0].text.includes("读绘本");
    }, null, { timeout: 15000 });
    const framesBefore = await page.evaluate(() => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames);
    await page.waitForFunction((n) => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames > n + 10, framesBefore);
    await playing(page, 4);
    const position = await page.evaluate(() => { const v = document.querySelector("video"); v.pause(); return v.currentTime; });
    if (process.env.PARENTSCHOOL_SHOTS) await page.screenshot({ path: `${process.env.PARENTSCHOOL_SHOTS}/player.png`, fullPage: true });
    await page.waitForTimeout(500); // the pause report is on its way
    await page.reload();
    await page.locator("#stage video").waitFor();
    await page.waitForFunction((p) => Math.abs(document.querySelector("video").currentTime - p) < 1.5, position, { timeout: 15000 });
    await page.getByRole("link", { name: "我的学习" }).click();
    await page.getByRole("link", { name: TITLE }).waitFor();
    const row = await page.getByText(/已完成 \d\/1 节/).textContent();
    assert.ok(!/· 0 秒/.test(row), `study time was credited: ${row}`);
    // 继续学习 on the home page opens the lesson where it was left, and it plays on from there.
    await page.getByRole("link", { name: "首页" }).click();
    const resume = page.getByRole("region", { name: "继续学习" });
    await resume.getByRole("link", { name: `${TITLE} · 第一讲：一起读` }).click();
    await page.waitForURL(/\/courses\/[0-9a-f-]{36}\?lesson=[0-9a-f-]{36}$/);
    await page.locator("#stage video").waitFor();
    await page.waitForFunction((p) => Math.abs(document.querySelector("video").currentTime - p) < 1.5, position, { timeout: 15000 });
    await page.evaluate(pressPlay);
    const frames = await page.evaluate(() => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames);
    await page.waitForFunction(([p, n]) => {
      const v = document.querySelector("video");
      return v.currentTime > p + 1 && v.getVideoPlaybackQuality().totalVideoFrames > n + 10;
    }, [position, frames], { timeout: 15000 });
    if (process.env.PARENTSCHOOL_SHOTS) await page.screenshot({ path: `${process.env.PARENTSCHOOL_SHOTS}/learning.png`, fullPage: true });
  });
  await page.context().close();
});

test("the curator reuses the uploaded video in a second course, picked by name, and it plays there", async () => {
  const page = await phone(browser);
  await withShot(page, "media-reuse", async () => {
    await login(page, base, "13700000001", PASSWORD);
    await page.getByRole("link", { name: "新建课程" }).click();
    await page.getByLabel("课程标题").fill("绘本共读进阶");
    await page.getByLabel("6–12 岁").check();
    await page.getByRole("button", { name: "添加课时" }).click();
    await page.getByLabel("课时标题").fill("复习：一起读");
    // A second lesson, its video still to come: the course has two lessons.
    await page.getByRole("button", { name: "添加课时" }).click();
    await page.getByLabel("课时标题").nth(1).fill("延伸阅读（待上传）");
    await page.getByLabel("时长（分钟）").nth(1).fill("10");
    await page.getByText("选择已上传的视频").first().click();
    await page.getByLabel("查找已上传的视频").first().fill("lecture");
    await page.getByRole("button", { name: "选择 lecture.mp4" }).click();
    await page.getByText("已选择「lecture.mp4」（保存后生效）").waitFor();
    // Its duration comes with it (the 12 s clip), not a guess.
    assert.equal(await page.getByLabel("时长（分钟）").first().inputValue(), "0.2");
    await page.getByRole("button", { name: "创建课程" }).click();
    await page.waitForURL(/\/studio\/courses\/[0-9a-f-]{36}$/);
    await page.getByRole("button", { name: "提交审核" }).click();
    await page.getByText("状态：待审核").waitFor();
    await page.getByRole("button", { name: "审核通过并发布" }).click();
    await page.getByText("状态：已发布").waitFor();
    await page.goto(page.url().replace("/studio/courses/", "/courses/"));
    await page.locator("#stage video").waitFor();
    await page.evaluate(pressPlay);
    await playing(page, 1);
  });
  await page.context().close();
});

test("我的学习 counts a shared video in the course it was watched in, with all its lessons", async () => {
  const page = await phone(browser);
  await withShot(page, "media-learning-shared", async () => {
    await login(page, base, "13800000001", PASSWORD);
    // Watched only in the first course: the second, which shares the video, is not studied.
    await page.goto(`${base}/me`);
    await page.getByRole("link", { name: TITLE }).waitFor();
    assert.equal(await page.getByRole("link", { name: "绘本共读进阶" }).count(), 0);
    // Watched a little in the second one too: it appears, counting both of its lessons.
    await page.goto(`${base}/search?q=${encodeURIComponent("绘本共读进阶")}`);
    await page.getByRole("link", { name: /绘本共读进阶/ }).click();
    await page.locator("#stage video").waitFor();
    const from = await page.evaluate(() => document.querySelector("video").currentTime);
    await page.evaluate(pressPlay);
    await page.waitForFunction((t) => document.querySelector("video").currentTime > t + 1, from, { timeout: 15000 });
    await page.evaluate(() => document.querySelector("video").pause());
    await page.waitForTimeout(500); // the pause report is on its way
    await page.goto(`${base}/me`);
    const row = page.locator("li", { has: page.getByRole("link", { name: "绘本共读进阶" }) });
    assert.match(await row.textContent(), /已完成 [01]\/2 节/);
  });
  await page.context().close();
});

test("the native HLS path plays when forced", async () => {
  const page = await phone(browser);
  await withShot(page, "media-native", async () => {
    await login(page, base, "13800000001", PASSWORD);
    await page.goto(`${courseUrl}?engine=native`);
    await page.locator("#stage video").waitFor();
    assert.equal(await page.locator("#stage").getAttribute("data-engine"), "native");
    const canNative = await page.evaluate(() => document.createElement("video").canPlayType("application/vnd.apple.mpegurl"));
    assert.ok(canNative, "this Chromium has no native HLS to test");
    // The element is on the page before the player has given it its source; playing then would
    // be interrupted by the load, so press play once the source is set, as a parent would.
    await page.waitForFunction(() => document.querySelector("#stage video")?.getAttribute("src"));
    await page.evaluate(pressPlay);
    await playing(page, 1);
  });
  await page.context().close();
});

test("the curator's study report lists the parent and exports CSV for Excel", async () => {
  const page = await phone(browser);
  await withShot(page, "media-report", async () => {
    await login(page, base, "13700000001", PASSWORD);
    await page.getByRole("link", { name: "学习报表" }).click();
    const row = page.getByRole("row", { name: /乐乐妈妈/ });
    await row.waitFor();
    assert.match(await row.textContent(), /138\*\*\*\*0001/);
    // At 390 px a row is a card: the name on one line, not one character per line.
    const nameHeight = await row.locator("td").first().evaluate((td) => td.getBoundingClientRect().height);
    assert.ok(nameHeight < 40, `the name cell is ${nameHeight}px tall`);
    assert.deepEqual(await layoutTrouble(page), []);
    await page.locator(".bar-row", { hasText: "乐乐妈妈" }).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "导出 CSV（Excel）" }).click()]);
    const csv = readFileSync(await download.path(), "utf8");
    assert.ok(csv.startsWith("\ufeff姓名,手机号,所在组织,课程学习（分钟）,直播学习（分钟）,线下活动（分钟）,完成课时\r\n"), csv);
    assert.match(csv, /乐乐妈妈,138\*\*\*\*0001,浙江省妇联,\d+\.\d,0\.0,0\.0,[01]/);
    if (process.env.PARENTSCHOOL_SHOTS) await page.screenshot({ path: `${process.env.PARENTSCHOOL_SHOTS}/report.png`, fullPage: true });
  });
  await page.context().close();
});
