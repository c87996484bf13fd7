// A parent's first week, as the parent walks it (issue "a parent's first week"): a late-comer
// enrols in the live room itself after the start, a waitlisted parent is told their place, and
// no page shows an element marked `hidden` or scrolls sideways at 360 px. Screenshots of the
// pages at 390×844 are kept in target/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Server, launch, phone, withShot, login, keepShot, layoutTrouble, apiCall } from "./harness.mjs";

const server = new Server({ postgres: true });
const PASSWORD = "Test-pass-2026";
let browser, base, started, full;

const token = async (phoneNumber) => (await apiCall(base, "/api/v1/auth/login", null, { phone: phoneNumber, password: PASSWORD })).body.access_token;

/// Moves an occurrence's start `minutes` into the past (its end an hour after), as if time passed.
function startedAgo(occ, minutes) {
  const url = new URL(server.pgAdmin);
  url.pathname = `/${server.pgName}`;
  const start = Date.now() - minutes * 60000;
  execFileSync("psql", [url.toString(), "-qc", `UPDATE live_occurrences SET starts_at = ${start}, ends_at = ${start + 3600000} WHERE id = '${occ}'`]);
}

before(async () => {
  await server.provision();
  const province = server.cli("org", "add", "--name", "浙江省妇联", "--kind", "province");
  const school = server.cli("org", "add", "--name", "西湖小学", "--kind", "school", "--parent", province);
  server.cli("user", "add", "--phone", "13600000001", "--password", PASSWORD, "--role", "expert", "--org", school, "--name", "李老师");
  server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "乐乐妈妈");
  server.cli("user", "add", "--phone", "13800000002", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "豆豆爸爸");
  base = await server.start();
  const expert = await token("13600000001");
  const d = new Date(Date.now() + 2 * 86400000 + 8 * 3600000).toISOString().slice(0, 10);
  const series = async (title, capacity) => (await apiCall(base, "/api/v1/live/series", expert, {
    title, rrule: "FREQ=WEEKLY;COUNT=1", starts_at: `${d}T19:30:00+08:00`, duration_minutes: 60, capacity, scope_org_id: school,
  })).body.occurrences[0].id;
  started = await series("周四家庭教育直播", 50);
  full = await series("亲子阅读分享会", 1);
  // 豆豆爸爸 takes the only seat of the second lecture.
  await apiCall(base, `/api/v1/live/occurrences/${full}/enrolments`, await token("13800000002"), {});
  startedAgo(started, 5);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
});

test("a late-comer enrols in the room after the start; a waitlisted parent is told their place", async () => {
  const page = await phone(browser);
  await withShot(page, "walk-in", async () => {
    await login(page, base, "13800000001", PASSWORD);
    // The schedule offers 报名 for a lecture whose start has passed.
    await page.goto(`${base}/live`);
    await page.getByText("周四家庭教育直播").waitFor();
    await keepShot(page, "live-schedule");
    await page.goto(`${base}/live/${started}`);
    await page.getByText("直播时间已到，还有名额时可以直接报名进入。").waitFor();
    await keepShot(page, "live-room-walk-in");
    await page.getByRole("button", { name: "报名" }).click();
    await page.getByText("报名成功").waitFor();
    await page.locator(".seat").waitFor({ state: "hidden" });
    const view = await apiCall(base, `/api/v1/live/occurrences/${started}`, await token("13800000001"));
    assert.equal(view.body.my_enrolment?.state, "enrolled", JSON.stringify(view.body));

    // A full lecture before its start: the parent is waitlisted and told where they stand.
    await page.goto(`${base}/live/${full}`);
    await page.getByText("你还没有报名这场直播。").waitFor();
    await page.getByRole("button", { name: "报名" }).click();
    await page.getByText("名额已满，你在候补第 1 位。有人取消报名时，会按顺序为你补上。").waitFor();
    await keepShot(page, "live-room-waitlisted");
    // A reload keeps telling them, instead of "你还没有报名".
    await page.reload();
    await page.getByText("名额已满，你在候补第 1 位。").waitFor();
    assert.equal(await page.getByText("你还没有报名").count(), 0);
  });
});

test("no page shows a hidden element or scrolls sideways at 360 px", async () => {
  const page = await phone(browser);
  await withShot(page, "layout", async () => {
    await login(page, base, "13800000001", PASSWORD);
    const trouble = [];
    for (const [name, path, ready] of [
      ["home", "/", "main h1"],
      ["search", "/search?q=沟通", "main h1"],
      ["live", "/live", "text=近期直播"],
      ["live-room", `/live/${started}`, "text=提问"],
      ["learning", "/me", "main h1"],
    ]) {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${base}${path}`);
      await page.locator(ready).first().waitFor();
      await keepShot(page, `parent-${name}`);
      await page.setViewportSize({ width: 360, height: 740 });
      await page.waitForTimeout(100);
      trouble.push(...(await layoutTrouble(page)).map((t) => `${path}: ${t}`));
    }
    assert.deepEqual(trouble, []);
  });
});
