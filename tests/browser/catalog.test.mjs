// A curator creates, publishes and lists a course; a parent in scope finds it on the home page
// and by a two-character search; a parent out of scope does not.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Server, launch, phone, withShot, login } from "./harness.mjs";

const server = new Server();
let browser;
let base;
const PASSWORD = "Test-pass-2026";
const TITLE = "如何与青春期孩子有效沟通";
const LIST = "2025 年度家庭教育优秀课程";

before(async () => {
  const province = server.cli("org", "add", "--name", "浙江省妇联", "--kind", "province");
  const city = server.cli("org", "add", "--name", "杭州市妇联", "--kind", "city", "--parent", province);
  const countyA = server.cli("org", "add", "--name", "西湖区妇联", "--kind", "county", "--parent", city);
  const countyB = server.cli("org", "add", "--name", "上城区妇联", "--kind", "county", "--parent", city);
  const schoolA = server.cli("org", "add", "--name", "西湖小学", "--kind", "school", "--parent", countyA);
  const schoolB = server.cli("org", "add", "--name", "上城小学", "--kind", "school", "--parent", countyB);
  server.cli("user", "add", "--phone", "13700000001", "--password", PASSWORD, "--role", "curator", "--org", countyA, "--name", "西湖区妇联王老师");
  server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", schoolA, "--name", "乐乐妈妈");
  server.cli("user", "add", "--phone", "13800000002", "--password", PASSWORD, "--role", "parent", "--org", schoolB, "--name", "豆豆爸爸");
  base = await server.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
});

test("a curator creates, publishes and lists a course", async () => {
  const page = await phone(browser);
  await withShot(page, "curator", async () => {
    await login(page, base, "13700000001", PASSWORD);
    await page.waitForURL(/\/studio$/);
    await page.getByRole("link", { name: "新建课程" }).click();
    await page.getByLabel("课程标题").fill(TITLE);
    await page.getByLabel("简介").fill("倾听、共情与规则：帮助家长和青春期的孩子好好说话。");
    await page.getByLabel("主讲人").fill("李老师");
    await page.getByLabel("12–15 岁").check();
    await page.getByLabel("亲子沟通").check();
    await page.getByRole("button", { name: "添加课时" }).click();
    await page.getByLabel("课时标题").fill("第一讲：先听后说");
    await page.getByLabel("时长（分钟）").fill("12");
    await page.getByRole("button", { name: "创建课程" }).click();
    await page.waitForURL(/\/studio\/courses\/[0-9a-f-]{36}$/);
    await page.getByRole("button", { name: "提交审核" }).click();
    await page.getByText("状态：待审核").waitFor();
    await page.getByRole("button", { name: "审核通过并发布" }).click();
    await page.getByText("状态：已发布").waitFor();
    await page.getByText("草稿 → 待审核").waitFor();

    await page.goto(`${base}/studio`);
    await page.getByRole("link", { name: "新建清单" }).click();
    await page.getByLabel("清单标题").fill(LIST);
    await page.getByRole("button", { name: "创建清单" }).click();
    await page.waitForURL(/\/studio\/lists\/[0-9a-f-]{36}$/);
    await page.getByLabel("搜索要加入的课程").fill("沟通");
    await page.getByRole("button", { name: "查找" }).click();
    await page.getByRole("button", { name: "加入" }).first().click();
    // The count in the header follows what was added (#7 of the first-week issue).
    await page.getByRole("heading", { name: "清单课程（1）" }).waitFor();
    await page.getByRole("button", { name: "保存课程与顺序" }).click();
    await page.getByText("课程顺序已保存").waitFor();
  });
  await page.context().close();
});

test("a parent in scope finds the course on the home page and by a two-character search", async () => {
  const page = await phone(browser);
  await withShot(page, "parent-in-scope", async () => {
    await login(page, base, "13800000001", PASSWORD);
    await page.getByRole("heading", { name: LIST }).waitFor();
    await page.getByRole("link", { name: new RegExp(TITLE) }).first().waitFor();
    await page.getByRole("link", { name: "6–12 岁" }).waitFor();

    await page.getByRole("link", { name: "搜索" }).click();
    await page.getByLabel("搜索课程").fill("沟通");
    await page.getByRole("button", { name: "搜索" }).click();
    await page.locator("#results").getByText(TITLE).waitFor();

    await page.locator("#results").getByText(TITLE).click();
    await page.getByRole("heading", { name: TITLE }).waitFor();
    await page.getByText("第一讲：先听后说").waitFor();
    // Nothing overflows the phone's width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport`);
  });
  await page.context().close();
});

test("a parent out of scope sees neither the list nor the course", async () => {
  const page = await phone(browser);
  await withShot(page, "parent-out-of-scope", async () => {
    await login(page, base, "13800000002", PASSWORD);
    await page.getByText("你所在的学校暂时还没有发布课程清单。").waitFor();
    assert.equal(await page.getByText(LIST).count(), 0);
    await page.goto(`${base}/search?q=${encodeURIComponent("沟通")}`);
    await page.getByText("没有找到相关课程").waitFor();
    assert.equal(await page.getByText(TITLE).count(), 0);
  });
  await page.context().close();
});

test("without an SMS gateway, 忘记密码 sends people to their school's staff", async () => {
  const page = await phone(browser);
  await withShot(page, "forgot-staff", async () => {
    await page.goto(`${base}/login`);
    await page.getByRole("link", { name: "忘记密码" }).click();
    await page.getByText("请联系孩子所在学校或班级的老师，请他们在工作台为你重置密码。", { exact: false }).waitFor();
    assert.equal(await page.getByRole("button", { name: "获取验证码" }).count(), 0);
  });
  await page.context().close();
});
