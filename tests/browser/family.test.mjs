// 线上+线下 and 教联体, the parts a family and a county curator walk: a parent adds two children
// (by grade and by birth month), the home page then shows a row per child with the school's own
// list first, 我的孩子 filters the search, and a child's data goes at a tap; a county curator
// adds a museum to the tree and chooses the school it serves; at an offline activity the host's
// screen shows a QR code, a parent's phone opens what it encodes, signs in, is checked in, and
// the host's count goes up. At 360 px, nothing sideways.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Server, launch, phone, withShot, login, keepShot, layoutTrouble, apiCall } from "./harness.mjs";

const server = new Server();
const PASSWORD = "Test-pass-2026";
let browser, base, school, activity;

const token = async (phoneNumber) => (await apiCall(base, "/api/v1/auth/login", null, { phone: phoneNumber, password: PASSWORD })).body.access_token;

async function publish(curator, title, stage, org) {
  const c = (await apiCall(base, "/api/v1/courses", curator, { title, age_stages: [stage], scope_org_id: org, owner_org_id: org,
    lessons: [{ title: "第一讲", duration_s: 600 }] })).body;
  for (const to of ["in_review", "published"]) await apiCall(base, `/api/v1/courses/${c.id}/transitions`, curator, { to });
  return c.id;
}

before(async () => {
  await server.provision();
  const province = server.cli("org", "add", "--name", "重庆市妇联", "--kind", "province");
  // 渝中区 sits right under the municipality.
  const district = server.cli("org", "add", "--name", "渝中区妇联", "--kind", "county", "--parent", province);
  school = server.cli("org", "add", "--name", "新凤小学", "--kind", "school", "--parent", district);
  server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "乐乐妈妈");
  server.cli("user", "add", "--phone", "13700000001", "--password", PASSWORD, "--role", "curator", "--org", district, "--name", "区妇联王老师");
  server.cli("user", "add", "--phone", "13700000002", "--password", PASSWORD, "--role", "curator", "--org", province, "--name", "市妇联李老师");
  base = await server.start();
  const ours = await token("13700000001");
  const region = await token("13700000002");
  const own = await publish(ours, "新凤小学：作业不拖拉", "6-12", school);
  const wide = await publish(region, "重庆市：亲子沟通", "6-12", province);
  await publish(region, "重庆市：入园准备", "3-6", province);
  await publish(region, "重庆市：青春期", "12-15", province);
  for (const [who, org, title, ids] of [[region, province, "重庆市年度课程", [wide]], [ours, school, "新凤小学必修课", [own]]]) {
    const l = (await apiCall(base, "/api/v1/lists", who, { title, year: 2026, theme: "家庭教育", scope_org_id: org, owner_org_id: org })).body;
    await apiCall(base, `/api/v1/lists/${l.id}/items`, who, { course_ids: ids, version: l.version }, "PUT");
  }
  // An activity of the school starting in ten minutes (check-in opens 30 minutes before).
  const at = (min) => new Date(Date.now() + min * 60000).toISOString();
  activity = (await apiCall(base, "/api/v1/activities", ours, { title: "亲子自然观察", kind: "parent_child", place: "学校礼堂",
    starts_at: at(10), ends_at: at(130), capacity: 30, scope_org_id: school, host_org_id: school, credit_minutes: 90 })).body.id;
  const enrolled = await apiCall(base, `/api/v1/activities/${activity}/enrolments`, await token("13800000001"), {});
  assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
});

test("a parent adds two children; the home page recommends a row for each, the school's list first", async () => {
  const page = await phone(browser);
  await withShot(page, "children", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await login(page, base, "13800000001", PASSWORD);
    // Before any child: the home page offers to add one.
    await page.getByRole("link", { name: "添加孩子" }).click();
    await page.waitForURL(/\/children$/);
    await page.getByText("还没有添加孩子").waitFor();
    // Nothing sent without a nickname, said beside the field.
    await page.getByRole("button", { name: "添加" }).click();
    await page.getByRole("alert").filter({ hasText: "请填写昵称" }).waitFor();
    await page.getByLabel("昵称").fill("哥哥");
    await page.getByRole("radio", { name: "年级" }).check();
    await page.locator('select[name="grade"]').selectOption({ label: "三年级" });
    await page.getByRole("button", { name: "添加" }).click();
    await page.getByText("三年级 · 6–12 岁").waitFor();
    const born = new Date(Date.now() + 8 * 3600000);
    born.setUTCFullYear(born.getUTCFullYear() - 4);
    await page.getByLabel("昵称").fill("妹妹");
    await page.getByLabel("出生年月（怀孕中填预产期）").fill(born.toISOString().slice(0, 7));
    await page.getByRole("button", { name: "添加" }).click();
    await page.getByText(/出生 · 3–6 岁/).waitFor();
    assert.deepEqual(await layoutTrouble(page), []);
    await keepShot(page, "children");

    await page.goto(`${base}/`);
    const brother = page.getByRole("region", { name: "为哥哥推荐" });
    const titles = brother.locator(".course-title");
    await titles.first().waitFor();
    assert.deepEqual(await titles.allTextContents(), ["新凤小学：作业不拖拉", "重庆市：亲子沟通"]);
    await brother.getByText("来自：新凤小学必修课").waitFor();
    const sister = page.getByRole("region", { name: "为妹妹推荐" });
    assert.deepEqual(await sister.locator(".course-title").allTextContents(), ["重庆市：入园准备"]);
    assert.deepEqual(await layoutTrouble(page), []);
    await keepShot(page, "home-recommendations");

    // 我的孩子 in the search: either child's stage, not the teenager's course.
    await page.goto(`${base}/search`);
    await page.getByRole("link", { name: "我的孩子" }).click();
    await page.getByText(/找到 3 门课程/).waitFor();
    assert.equal(await page.getByText("重庆市：青春期").count(), 0);

    // Removing a child's data: asked once, gone at once, and the row with it.
    await page.goto(`${base}/children`);
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "删除妹妹的信息" }).click();
    await page.getByText(/出生 · 3–6 岁/).waitFor({ state: "detached" });
    await page.goto(`${base}/`);
    await page.getByRole("region", { name: "为哥哥推荐" }).waitFor();
    assert.equal(await page.getByRole("region", { name: "为妹妹推荐" }).count(), 0);
  });
});

test("a district curator adds a museum to the tree and chooses the school it serves", async () => {
  const page = await phone(browser);
  await withShot(page, "partner", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await login(page, base, "13700000001", PASSWORD);
    await page.goto(`${base}/studio`);
    await page.getByRole("link", { name: "组织架构" }).click();
    await page.waitForURL(/\/studio\/orgs$/);
    await page.getByLabel("名称").fill("重庆自然博物馆");
    // (A label around a select takes the chosen option into its name: the selects by name.)
    await page.locator('select[name="kind"]').selectOption({ label: "教联体成员单位" });
    await page.locator('select[name="partner_type"]').selectOption({ label: "博物馆/科技馆" });
    await page.getByRole("button", { name: "创建" }).click();
    const museum = page.locator("li.org.partner", { hasText: "重庆自然博物馆" });
    await museum.getByText("教联体成员单位 · 博物馆/科技馆").waitFor();
    await museum.getByText("还没有服务对象").waitFor();
    await museum.getByText("设置服务对象").click();
    await museum.getByLabel("新凤小学").check();
    await museum.getByRole("button", { name: "保存服务对象" }).click();
    await museum.getByText("服务：新凤小学").waitFor();
    assert.deepEqual(await layoutTrouble(page), []);
    await keepShot(page, "studio-org-tree");
    // The tree keeps it on the next visit.
    await page.reload();
    await page.locator("li.org.partner", { hasText: "重庆自然博物馆" }).getByText("服务：新凤小学").waitFor();
  });
});

test("the host's screen shows a QR code; a parent's phone opens it, signs in, is checked in, and the count goes up", async () => {
  const host = await phone(browser);
  const parent = await phone(browser);
  await withShot(host, "check-in-host", async () => {
    await login(host, base, "13700000001", PASSWORD);
    await host.goto(`${base}/activities/${activity}`);
    await host.getByRole("link", { name: "打开签到屏" }).click();
    await host.waitForURL(/\/screen$/);
    const count = host.getByRole("status").filter({ hasText: "已签到" });
    await count.filter({ hasText: "已签到 0 人" }).waitFor();
    const qr = host.getByRole("img", { name: "签到二维码" });
    await qr.waitFor();
    await host.waitForFunction(() => document.querySelector("img.qr")?.complete && document.querySelector("img.qr").naturalWidth > 0);
    // What a phone camera reads: decode the code as shown.
    const file = join(server.dir, "qr.png");
    await qr.screenshot({ path: file });
    const url = execFileSync("zbarimg", ["--raw", "-q", file]).toString().trim();
    assert.match(url, new RegExp(`/activities/${activity}/check-in\\?purpose=in&code=\\d+\\.[\\w-]+$`));
    await keepShot(host, "activity-check-in-screen");

    await withShot(parent, "check-in-parent", async () => {
      // Not signed in on this phone: the link asks to sign in and comes back to check in.
      await parent.goto(url.replace(/^https?:\/\/[^/]+/, base));
      await parent.waitForURL(/\/login/);
      await parent.getByLabel("手机号").fill("13800000001");
      await parent.getByLabel("密码").fill(PASSWORD);
      await parent.getByRole("button", { name: "登录" }).click();
      await parent.getByRole("status").filter({ hasText: "签到成功" }).waitFor();
      await parent.getByText("已记入学时 90 分钟").waitFor();
      assert.deepEqual(await layoutTrouble(parent), []);
      await keepShot(parent, "activity-check-in-result");
      // Scanning again says so, in Chinese.
      await parent.goto(url.replace(/^https?:\/\/[^/]+/, base));
      await parent.getByRole("alert").filter({ hasText: "你已经签到过了" }).waitFor();
    });
    await count.filter({ hasText: "已签到 1 人" }).waitFor();
    await host.getByText(/乐乐妈妈 签到/).waitFor();
    // The enrolment list shows her checked in (nothing left to do by hand).
    await host.getByText("报名名单（手动签到）").click();
    await host.locator(".roster").getByText(/已签到$/).waitFor();
    assert.equal(await host.getByRole("button", { name: "手动签到" }).count(), 0);
  });
  // The credit shows in the parent's record, and its print view keeps only the record.
  await withShot(parent, "learning-record", async () => {
    await parent.goto(`${base}/me`);
    await parent.getByText(/线下活动 1\.5 小时/).waitFor();
    await parent.getByRole("link", { name: "我的学习档案" }).click();
    await parent.waitForURL(/\/me\/record$/);
    const row = parent.getByRole("row", { name: /亲子自然观察/ });
    await row.getByText("线下活动").waitFor();
    await row.getByText("1 小时 30 分钟").waitFor();
    assert.deepEqual(await layoutTrouble(parent), []);
    await keepShot(parent, "learning-record");
    await parent.emulateMedia({ media: "print" });
    assert.equal(await parent.locator("header.top").isVisible(), false, "the app bar is not printed");
    assert.equal(await parent.getByRole("button", { name: "打印（A4）" }).isVisible(), false);
    await parent.getByRole("row", { name: /亲子自然观察/ }).waitFor();
    const pdf = join(server.dir, "record.pdf");
    await parent.pdf({ path: pdf, format: "A4" });
  });
});

test("a curator creates an offline activity in the studio and it joins the 活动与直播 schedule", async () => {
  const page = await phone(browser);
  await withShot(page, "new-activity", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await login(page, base, "13700000001", PASSWORD);
    await page.goto(`${base}/studio/live`);
    await page.getByRole("region", { name: "线下活动" }).getByRole("link", { name: "新建线下活动" }).click();
    await page.waitForURL(/\/studio\/activities\/new$/);
    await page.getByRole("button", { name: "创建活动" }).click();
    await page.getByRole("alert").filter({ hasText: "请填写活动名称" }).waitFor();
    await page.getByLabel("活动名称").fill("家长会：新学期");
    await page.locator('select[name="kind"]').selectOption({ label: "家长会" });
    await page.getByLabel("地点").fill("三楼会议室");
    await page.locator('select[name="host_org_id"]').selectOption({ label: "新凤小学" });
    await page.locator('select[name="scope_org_id"]').selectOption({ label: "新凤小学" });
    assert.deepEqual(await layoutTrouble(page), []);
    await keepShot(page, "studio-new-activity");
    await page.getByRole("button", { name: "创建活动" }).click();
    await page.waitForURL(/\/activities\/[\w-]+$/);
    await page.getByRole("heading", { name: "家长会：新学期" }).waitFor();
    await page.getByText("家长会", { exact: true }).waitFor();
    await page.getByRole("link", { name: "打开签到屏" }).waitFor();
  });
  // A parent of the school finds it in the one schedule, marked 线下活动, and enrols there.
  const parent = await phone(browser);
  await withShot(parent, "schedule-activity", async () => {
    await login(parent, base, "13800000001", PASSWORD);
    await parent.goto(`${base}/live`);
    const item = parent.locator("li.occurrence", { hasText: "家长会：新学期" });
    await item.getByText("线下活动").waitFor();
    await item.getByRole("link", { name: "活动详情" }).click();
    await parent.getByRole("heading", { name: "家长会：新学期" }).waitFor();
    await parent.getByRole("button", { name: "报名", exact: true }).click();
    await parent.getByText("已报名").waitFor();
    await keepShot(parent, "activity-page");
  });
});
