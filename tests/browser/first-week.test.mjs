// A parent's first week, as the parent walks it (issue "a parent's first week"): a new parent
// joins with the code the class teacher shares, a late-comer enrols in the live room itself
// after the start, a waitlisted parent is told their place, and no page shows an element marked
// `hidden` or scrolls sideways at 360 px. Screenshots of the
// pages at 390×844 are kept in target/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { Server, launch, phone, withShot, login, keepShot, layoutTrouble, apiCall } from "./harness.mjs";

const server = new Server({ postgres: true });
// The notifier gateway (SMS): with one configured, 忘记密码 sends a code. Texts land here.
const texts = [];
const gateway = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => { texts.push(JSON.parse(body || "{}")); res.writeHead(202).end(); });
});
const PASSWORD = "Test-pass-2026";
let browser, base, started, full, ended, course;

const token = async (phoneNumber) => (await apiCall(base, "/api/v1/auth/login", null, { phone: phoneNumber, password: PASSWORD })).body.access_token;

/// Runs SQL on the server's database (set-up the API does not offer: time passing).
function psql(sql) {
  const url = new URL(server.pgAdmin);
  url.pathname = `/${server.pgName}`;
  execFileSync("psql", [url.toString(), "-qc", sql]);
}

/// Moves an occurrence's start `minutes` into the past (its end an hour after), as if time passed.
function startedAgo(occ, minutes) {
  const start = Date.now() - minutes * 60000;
  psql(`UPDATE live_occurrences SET starts_at = ${start}, ends_at = ${start + 3600000} WHERE id = '${occ}'`);
}

before(async () => {
  await new Promise((r) => gateway.listen(0, "127.0.0.1", r));
  server.env.PARENTSCHOOL__LIVE__NOTIFY_WEBHOOK_URL = `http://127.0.0.1:${gateway.address().port}/texts`;
  await server.provision();
  const province = server.cli("org", "add", "--name", "浙江省妇联", "--kind", "province");
  const school = server.cli("org", "add", "--name", "西湖小学", "--kind", "school", "--parent", province);
  server.cli("user", "add", "--phone", "13600000001", "--password", PASSWORD, "--role", "expert", "--org", school, "--name", "李老师");
  server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "乐乐妈妈");
  server.cli("user", "add", "--phone", "13800000002", "--password", PASSWORD, "--role", "parent", "--org", school, "--name", "豆豆爸爸");
  server.cli("user", "add", "--phone", "13700000001", "--password", PASSWORD, "--role", "curator", "--org", school, "--name", "王老师");
  // A parent who registered but belongs nowhere: the school invites her by phone.
  server.cli("user", "add", "--phone", "13900000011", "--password", PASSWORD, "--role", "parent", "--name", "小雨妈妈");
  base = await server.start();
  // A course for the school's members only, to share as a link.
  const curator = await token("13700000001");
  course = (await apiCall(base, "/api/v1/courses", curator, { title: "陪孩子度过青春期", age_stages: ["12-15"], scope_org_id: school, owner_org_id: school, lessons: [{ title: "第一讲", duration_s: 600 }] })).body.id;
  for (const to of ["in_review", "published"]) await apiCall(base, `/api/v1/courses/${course}/transitions`, curator, { to });
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
  ended = await series("上周的家庭教育讲座", 50);
  await apiCall(base, `/api/v1/live/occurrences/${ended}/enrolments`, await token("13800000001"), {});
  const other = await token("13800000002");
  await apiCall(base, `/api/v1/live/occurrences/${ended}/enrolments`, other, {});
  psql(`UPDATE live_occurrences SET state = 'live', live_since = ${Date.now()}, went_live_at = ${Date.now()} WHERE id = '${ended}'`);
  const q = await apiCall(base, `/api/v1/live/occurrences/${ended}/questions`, other, { text: "孩子不爱读书怎么办？" });
  assert.equal(q.status, 201, JSON.stringify(q.body));
  // It ends in the test "after the lecture…", after a parent chatted in it.
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
  gateway.close();
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

test("a new parent joins the school with the code from the class group; a shared course link asks them to sign in and comes back", async () => {
  const staff = await phone(browser);
  const page = await phone(browser);
  await withShot(staff, "join-code-staff", async () => {
    await login(staff, base, "13700000001", PASSWORD);
    await staff.waitForURL(/\/studio$/);
    const row = staff.locator(".join-code").filter({ hasText: "西湖小学" });
    await row.getByRole("button", { name: "生成加入码" }).click();
    await row.locator(".code").waitFor();
    await keepShot(staff, "studio-join-codes");
  });
  const code = (await staff.locator(".join-code .code").first().textContent()).trim();
  assert.match(code, /^[A-Z0-9]{4,16}$/);
  await withShot(page, "join", async () => {
    // A course link from the class group, opened before signing up.
    await page.goto(`${base}/courses/${course}`);
    await page.getByText("这门课程面向学校或班级的成员，请登录后查看。").waitFor();
    await page.getByRole("link", { name: "注册" }).click();
    await page.getByLabel("手机号", { exact: true }).fill("13900000009");
    await page.getByLabel("称呼", { exact: true }).fill("新来的妈妈");
    await page.getByLabel("密码", { exact: true }).fill(PASSWORD);
    await page.getByRole("checkbox").check();
    await page.getByRole("button", { name: "注册" }).click();
    // Back on the course: not in the school yet, so it is still out of reach.
    await page.waitForURL(new RegExp(`/courses/${course}$`));
    await page.goto(`${base}/`);
    await page.getByRole("heading", { name: "加入孩子的学校或班级" }).waitFor();
    assert.equal(await page.getByText("你所在的学校暂时还没有发布课程清单").count(), 0, "no untrue 'your school' text");
    await keepShot(page, "home-belongs-nowhere");
    // The join link from the class group.
    await page.goto(`${base}/join/${code}`);
    await page.getByLabel("加入码").waitFor();
    assert.equal(await page.getByLabel("加入码").inputValue(), code);
    await keepShot(page, "join");
    await page.getByRole("button", { name: "加入" }).click();
    await page.getByText("已加入「西湖小学」").waitFor();
    // The saved session knows at once, with no new login: no join card, the course opens.
    await page.waitForURL(`${base}/`);
    assert.equal(await page.getByRole("heading", { name: "加入孩子的学校或班级" }).count(), 0);
    const orgs = await page.evaluate(() => JSON.parse(localStorage.getItem("ps.session")).user.organizations.map((o) => o.name));
    assert.deepEqual(orgs, ["西湖小学"]);
    await page.goto(`${base}/courses/${course}`);
    await page.getByRole("heading", { name: "陪孩子度过青春期" }).waitFor();
  });
});

test("staff invite a parent by phone; she declines, is invited again, and accepts on her home page", async () => {
  const staff = await phone(browser);
  const page = await phone(browser);
  const invite = async () => {
    const row = staff.locator(".join-code").filter({ hasText: "西湖小学" });
    const input = row.getByLabel("邀请加入「西湖小学」的手机号");
    if (!(await input.isVisible())) await row.getByText("按手机号邀请").click();
    await input.fill("13900000011");
    await row.getByRole("button", { name: "邀请" }).click();
    await staff.getByText("已向 139****0011 发出邀请。").waitFor();
  };
  await withShot(staff, "invite-staff", async () => {
    await login(staff, base, "13700000001", PASSWORD);
    await staff.waitForURL(/\/studio$/);
    // A wrong number is refused before sending.
    const row = staff.locator(".join-code").filter({ hasText: "西湖小学" });
    await row.getByText("按手机号邀请").click();
    await row.getByLabel("邀请加入「西湖小学」的手机号").fill("1390000");
    await row.getByRole("button", { name: "邀请" }).click();
    await staff.getByText("请填写 11 位手机号。").waitFor();
    await invite();
  });
  await withShot(page, "invitation", async () => {
    await login(page, base, "13900000011", PASSWORD);
    const card = page.getByRole("region", { name: "加入邀请" });
    await card.getByText("王老师 邀请你加入「西湖小学」。").waitFor();
    await keepShot(page, "home-invitation");
    await card.getByRole("button", { name: "拒绝" }).click();
    await page.getByText("已拒绝邀请").waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "加入孩子的学校或班级" }).waitFor();
    assert.equal(await page.getByRole("region", { name: "加入邀请" }).count(), 0, "a declined invitation stays declined");
    await invite();
    await page.reload();
    await page.getByRole("region", { name: "加入邀请" }).getByRole("button", { name: "接受并加入" }).click();
    await page.getByText("已加入「西湖小学」").waitFor();
    // The saved session knows at once: the school-only course opens, with no new login.
    const orgs = await page.evaluate(() => JSON.parse(localStorage.getItem("ps.session")).user.organizations.map((o) => o.name));
    assert.deepEqual(orgs, ["西湖小学"]);
    await page.goto(`${base}/courses/${course}`);
    await page.getByRole("heading", { name: "陪孩子度过青春期" }).waitFor();
  });
  await staff.context().close();
  await page.context().close();
});

test("after the lecture the room keeps the record but takes no more questions, chat or votes", async () => {
  const page = await phone(browser);
  await withShot(page, "ended-room", async () => {
    await login(page, base, "13800000001", PASSWORD);
    // #12: while it is live, a contact detail in the chat is masked for everyone, and stays so.
    await page.goto(`${base}/live/${ended}`);
    await page.getByLabel("说点什么").fill("加我微信 abc123 领资料");
    await page.getByLabel("说点什么").press("Enter");
    await page.getByText("加我微信 ＊＊＊＊＊＊ 领资料").first().waitFor();
    // Chat and questions are limited apart: a question right after a message goes through.
    await page.getByLabel("向老师提问").fill("睡前总要看动画片怎么办？");
    await page.getByLabel("向老师提问").press("Enter");
    await page.getByRole("list", { name: "问题" }).getByText("睡前总要看动画片怎么办？").waitFor();
    assert.equal(await page.locator(".toast").filter({ hasText: /太快|频繁/ }).count(), 0);
    // 16 px text in the room's inputs, so iOS does not zoom in on focus.
    for (const label of ["向老师提问", "说点什么"]) {
      const size = await page.getByLabel(label).evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
      assert.ok(size >= 16, `${label}: ${size}px`);
    }
    psql(`UPDATE live_occurrences SET state = 'ended' WHERE id = '${ended}'`);
    await page.goto(`${base}/live/${ended}`);
    await page.getByText("直播已结束").first().waitFor();
    await page.getByText("孩子不爱读书怎么办？").waitFor();
    assert.equal(await page.getByLabel("说点什么").count(), 0);
    assert.equal(await page.getByLabel("向老师提问").count(), 0);
    assert.equal(await page.getByRole("button", { name: /同问/ }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "报名" }).count(), 0);
    await page.getByText("加我微信 ＊＊＊＊＊＊ 领资料").first().waitFor();
    assert.equal(await page.getByText(/abc123/).count(), 0);
    await keepShot(page, "live-room-ended");
  });
});

test("an expert submits a course for review and is not offered to approve it; no ids in the editor", async () => {
  const page = await phone(browser);
  await withShot(page, "expert-editor", async () => {
    await login(page, base, "13600000001", PASSWORD);
    await page.goto(`${base}/studio/courses/new`);
    await page.getByLabel("课程标题").fill("如何陪孩子写作业");
    await page.getByLabel("6–12 岁").check();
    await page.getByRole("button", { name: "添加课时" }).click();
    await page.getByLabel("课时标题").fill("第一讲");
    await page.getByLabel("时长（分钟）").fill("10");
    assert.equal(await page.getByLabel("视频编号").count(), 0, "no raw video id field");
    await page.getByRole("button", { name: "创建课程" }).click();
    await page.waitForURL(/\/studio\/courses\/[0-9a-f-]{36}$/);
    await page.getByRole("button", { name: "提交审核" }).click();
    await page.getByText("已提交审核，等待工作人员审核。").waitFor();
    assert.equal(await page.getByRole("button", { name: "审核通过并发布" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "退回修改" }).count(), 0);
    await keepShot(page, "studio-expert-submitted");
  });
});

test("search keeps the typed words across age chips, and 全部 clears the age", async () => {
  const page = await phone(browser);
  await withShot(page, "search-chips", async () => {
    await login(page, base, "13800000001", PASSWORD);
    const chips = page.getByRole("navigation", { name: "按孩子年龄段浏览" });
    await page.goto(`${base}/search`);
    await page.getByRole("searchbox", { name: "搜索课程" }).fill("青春期");
    await page.getByRole("button", { name: "搜索" }).click();
    await page.getByText("陪孩子度过青春期").waitFor();
    await chips.getByRole("link", { name: "孕期" }).click();
    await page.getByText("没有找到相关课程").waitFor();
    assert.equal(await page.getByRole("searchbox", { name: "搜索课程" }).inputValue(), "青春期", "the words stay");
    await chips.getByRole("link", { name: "全部", exact: true }).click();
    await page.getByText("陪孩子度过青春期").waitFor();
    assert.equal(new URL(page.url()).searchParams.get("q"), "青春期");
    assert.equal(new URL(page.url()).searchParams.get("age_stage"), null);
    // The chosen chip, tapped again, clears the age too.
    await chips.getByRole("link", { name: "12–15 岁" }).click();
    await page.getByText("陪孩子度过青春期").waitFor();
    await chips.getByRole("link", { name: "12–15 岁" }).click();
    await page.waitForURL((u) => !u.searchParams.get("age_stage"));
    await keepShot(page, "search-chips");
  });
});

test("an expired login says so in plain words, offers 登录, and the bar stops looking signed in", async () => {
  const page = await phone(browser);
  await withShot(page, "expired", async () => {
    await page.goto(`${base}/`);
    await page.evaluate(() => localStorage.setItem("ps.session", JSON.stringify({ access: "expired.token.value", refresh: "gone", user: { display_name: "乐乐妈妈", role: "parent", organizations: [] } })));
    await page.goto(`${base}/me`);
    await page.getByText("登录已过期，请重新登录。").waitFor();
    assert.equal(await page.getByText(/刷新令牌/).count(), 0, "no developer words");
    await page.locator("main").getByRole("link", { name: "登录" }).waitFor();
    await page.locator("header.top").getByRole("link", { name: "登录" }).waitFor();
    await page.locator("main").getByRole("link", { name: "登录" }).click();
    await page.getByLabel("手机号").fill("13800000001");
    await page.getByLabel("密码").fill(PASSWORD);
    await page.getByRole("button", { name: "登录" }).click();
    // Back on the page the expired login stopped.
    await page.waitForURL(/\/me$/);
  });
});

test("forms say in Chinese, beside the field, what is missing or wrong", async () => {
  const page = await phone(browser);
  await withShot(page, "forms", async () => {
    // Registration sent empty: each field says what it needs (not only the consent toast).
    await page.goto(`${base}/register`);
    await page.getByRole("button", { name: "注册" }).click();
    for (const text of ["请填写手机号。", "请填写称呼。", "请填写密码。", "请先勾选同意。"]) await page.getByText(text).waitFor();
    // #14: the consent links to real 隐私政策 and 用户协议 pages; login offers 忘记密码.
    for (const [link, heading] of [["《隐私政策》", "我们收集什么"], ["《用户协议》", "使用规范"]]) {
      const [tab] = await Promise.all([page.context().waitForEvent("page"), page.getByRole("link", { name: link }).click()]);
      await tab.getByRole("heading", { name: heading }).waitFor();
      await keepShot(tab, link === "《隐私政策》" ? "privacy" : "terms");
      await tab.close();
    }
    await page.goto(`${base}/login`);
    await page.getByRole("link", { name: "忘记密码" }).click();
    // With the gateway this server has: an SMS code, and the staff as the other way.
    await page.getByRole("button", { name: "获取验证码" }).waitFor();
    await page.getByText("收不到短信？也可以请孩子所在学校或班级的老师在工作台为你重置密码。").waitFor();
    // A series without a start time: checked before sending, in Chinese.
    await login(page, base, "13600000001", PASSWORD);
    await page.goto(`${base}/studio/live`);
    await page.getByText("新建每周直播").click();
    await page.getByLabel("标题", { exact: true }).fill("周五亲子阅读");
    await page.getByRole("button", { name: "创建" }).click();
    await page.getByText("请填写首次开播（北京时间）。").waitFor();
    assert.equal(await page.getByText(/deserialize|Failed|component/).count(), 0);
    await keepShot(page, "studio-live-form-errors");
  });
});

test("the staff top bar never wraps at 360 px; parents get a bottom tab bar", async () => {
  const page = await phone(browser);
  await withShot(page, "bars", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await login(page, base, "13700000001", PASSWORD);
    await page.waitForURL(/\/studio$/);
    const bar = async () => page.locator("header.top").evaluate((el) => ({
      height: el.getBoundingClientRect().height,
      // Every link or button of the bar on one line, none broken into characters.
      lines: [...el.querySelectorAll("#nav > a, #nav > button, .brand")].map((a) => Math.round(a.getBoundingClientRect().height)),
    }));
    const staff = await bar();
    assert.ok(staff.height <= 64 && staff.lines.every((h) => h <= 48), JSON.stringify(staff));
    await page.getByRole("button", { name: "菜单" }).click();
    await page.locator("#staff-menu").getByRole("link", { name: "直播", exact: true }).click();
    await page.waitForURL(/\/live$/);
    assert.deepEqual(await layoutTrouble(page), []);
    for (const path of ["/studio", "/studio/live", "/studio/reports"]) {
      await page.goto(`${base}${path}`);
      await page.locator("main h1").waitFor();
      await page.waitForTimeout(300);
      if (path === "/studio/reports") {
        // #10: the period reads as two dates.
        const summary = page.getByText(/^\d{4}\/\d{1,2}\/\d{1,2} 至 \d{4}\/\d{1,2}\/\d{1,2}：已列出/);
        await summary.waitFor();
        assert.doesNotMatch(await summary.textContent(), /Invalid/);
      }
      assert.deepEqual((await layoutTrouble(page)).map((t) => `${path}: ${t}`), []);
      await keepShot(page, `staff${path.replaceAll("/", "-")}`);
    }
    assert.equal(await page.locator("#tabs").isVisible(), false, "no tab bar for staff");

    const parent = await phone(browser);
    await parent.setViewportSize({ width: 360, height: 740 });
    await login(parent, base, "13800000001", PASSWORD);
    const tabs = parent.getByRole("navigation", { name: "底部导航" });
    for (const name of ["首页", "直播", "我的学习", "我的"]) await tabs.getByRole("link", { name, exact: true }).waitFor();
    await tabs.getByRole("link", { name: "我的", exact: true }).click();
    await parent.getByRole("heading", { name: "我的学校和班级" }).waitFor();
    assert.equal(await tabs.getByRole("link", { name: "我的", exact: true }).getAttribute("aria-current"), "page");
    assert.ok((await parent.locator("header.top").evaluate((el) => el.getBoundingClientRect().height)) <= 64);
    await keepShot(parent, "parent-account");
  });
});

test("on a slow network a tap made before the home page has loaded opens the page tapped", async () => {
  const page = await phone(browser);
  await withShot(page, "slow-home", async () => {
    // The course lists answer late (weak 4G), so the home page is still loading when she taps.
    let answered;
    const late = new Promise((r) => { answered = r; });
    await page.route(/\/api\/v1\/lists(\?|$)/, async (route) => {
      const res = await route.fetch();
      await new Promise((r) => setTimeout(r, 1500));
      await route.fulfill({ response: res });
      answered();
    });
    await login(page, base, "13800000001", PASSWORD);
    await page.getByText("正在加载课程清单……").waitFor();
    const tabs = page.getByRole("navigation", { name: "底部导航" });
    await tabs.getByRole("link", { name: "我的", exact: true }).click();
    await page.getByRole("heading", { name: "我的学校和班级" }).waitFor();
    await late;
    // The home page's late answer changes nothing: the page she opened stays, with no error.
    await page.waitForTimeout(500);
    assert.equal(await page.locator("main h1").first().textContent(), "我的");
    await page.getByRole("heading", { name: "我的学校和班级" }).waitFor({ timeout: 1000 });
    assert.equal(await page.getByText("出错了").count(), 0);
    assert.equal(await page.getByText(/^你好，/).count(), 0);
    // Back on the home page, the lists arrive and are drawn.
    await tabs.getByRole("link", { name: "首页", exact: true }).click();
    await page.getByRole("heading", { name: /^你好，/ }).waitFor();
    await page.getByText("正在加载课程清单……").waitFor({ state: "detached" });
  });
});

test("a parent keeps a course (收藏) and finds it in 我的学习", async () => {
  const page = await phone(browser);
  await withShot(page, "favourites", async () => {
    await login(page, base, "13800000001", PASSWORD);
    await page.goto(`${base}/courses/${course}`);
    const keep = page.getByRole("button", { name: "☆ 收藏" });
    await keep.click();
    const kept = page.getByRole("button", { name: "★ 已收藏" });
    await kept.waitFor();
    assert.equal(await kept.getAttribute("aria-pressed"), "true");
    await page.getByRole("navigation", { name: "底部导航" }).getByRole("link", { name: "我的学习" }).click();
    const list = page.getByRole("region", { name: "我的收藏" });
    await list.getByRole("link", { name: /陪孩子度过青春期/ }).click();
    await page.waitForURL(new RegExp(`/courses/${course}$`));
    // Kept across visits; a second tap lets it go.
    await page.getByRole("button", { name: "★ 已收藏" }).click();
    await page.getByRole("button", { name: "☆ 收藏" }).waitFor();
    await page.goto(`${base}/me`);
    await page.getByRole("region", { name: "我的收藏" }).getByText("还没有收藏课程。").waitFor();
    await keepShot(page, "parent-learning-favourites");
  });
});

test("the home page counts down to the parent's next lecture", async () => {
  const page = await phone(browser);
  await withShot(page, "next-lecture", async () => {
    await login(page, base, "13800000002", PASSWORD);
    const card = page.getByRole("region", { name: "下一场直播" });
    await card.getByRole("link", { name: "亲子阅读分享会" }).waitFor();
    assert.match(await card.getByRole("timer").textContent(), /^还有 [12] 天 \d+ 小时$/);
    // The ended lecture they were enrolled in is not "next".
    assert.equal(await card.getByText("上周的家庭教育讲座").count(), 0);
    await keepShot(page, "home-next-lecture");
    await card.getByRole("link", { name: "亲子阅读分享会" }).click();
    await page.waitForURL(new RegExp(`/live/${full}$`));
  });
});

test("直播管理 on a phone: one card per series, reports only where a lecture took place, edit and stop", async () => {
  const page = await phone(browser);
  await withShot(page, "studio-live", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await login(page, base, "13600000001", PASSWORD);
    await page.goto(`${base}/studio/live`);
    const card = page.getByRole("region", { name: "亲子阅读分享会" });
    await card.getByRole("heading", { name: "亲子阅读分享会" }).waitFor();
    // The form for a new series is folded away when there are series; the list comes first.
    assert.equal(await page.locator("details.create").evaluate((d) => d.open), false);
    await page.getByRole("region", { name: "周四家庭教育直播" }).getByRole("link", { name: "开播" }).waitFor();
    // No attendance report for a lecture still to come; the ended series keeps its report.
    await card.getByText(/^全部场次/).click();
    await card.getByText("未开始").first().waitFor();
    assert.equal(await card.getByRole("link", { name: "出勤报表" }).count(), 0);
    const ended = page.locator("section", { has: page.getByRole("heading", { name: "已结束的系列" }) });
    await ended.getByText("上周的家庭教育讲座").waitFor();
    assert.equal(await ended.getByRole("link", { name: "出勤报表" }).count(), 1);
    assert.deepEqual(await layoutTrouble(page), []);
    await keepShot(page, "studio-live-series");

    // Edit: a larger room and the age stage, from the card.
    await card.getByText("修改系列").click();
    await card.getByLabel("人数上限").fill("3");
    await card.getByLabel("12–15 岁").check();
    await card.getByRole("button", { name: "保存修改" }).click();
    await page.getByText("系列已保存").waitFor();
    const expert = await token("13600000001");
    const seriesId = (await apiCall(base, `/api/v1/live/occurrences/${full}`, expert)).body.series_id;
    const edited = (await apiCall(base, `/api/v1/live/series/${seriesId}`, expert)).body;
    assert.equal(edited.capacity, 3);
    assert.deepEqual(edited.age_stages, ["12-15"]);

    // Stop: asked first, then every future date is cancelled and the card goes.
    let asked = "";
    page.once("dialog", (d) => { asked = d.message(); d.accept(); });
    await page.getByRole("region", { name: "亲子阅读分享会" }).getByRole("button", { name: "停止系列" }).click();
    await page.getByText("系列已停止，已通知报名的家长").waitFor();
    assert.match(asked, /已报名的家长会收到通知/);
    // The page is drawn again from the server: the stopped series' card goes, the others stay.
    await page.getByRole("region", { name: "亲子阅读分享会" }).waitFor({ state: "detached" });
    await page.getByRole("region", { name: "周四家庭教育直播" }).waitFor();
    assert.equal((await apiCall(base, `/api/v1/live/occurrences/${full}`, expert)).body.state, "cancelled");
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
      ["account", "/account", "main h1"],
      ["join", "/join", "main h1"],
      ["privacy", "/privacy", "main h1"],
      ["forgot", "/forgot", "main h1"],
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

test("a curator picks the lecturer by name, never by id, when creating a series", async () => {
  const page = await phone(browser);
  await withShot(page, "lecturer-picker", async () => {
    await login(page, base, "13700000001", PASSWORD);
    await page.goto(`${base}/studio/live`);
    await page.getByText("新建每周直播").click();
    await page.getByLabel("标题", { exact: true }).fill("寒假亲子共读");
    await page.getByLabel("首次开播（北京时间）").fill("2027-01-07T19:30");
    await page.getByLabel("共几次").fill("2");
    // No user-id field; an empty pick is caught before sending.
    assert.equal(await page.getByText(/用户编号/).count(), 0);
    // The audience: what the curator manages, found by name, preselected when it is the one.
    await page.getByLabel("查找面向（所选组织及下级）").fill("西湖");
    const audience = page.getByLabel("面向（所选组织及下级）", { exact: true });
    await audience.locator("option", { hasText: "西湖小学（学校）" }).waitFor({ state: "attached" });
    assert.equal(await audience.locator("option:checked").textContent(), "西湖小学（学校）");
    await page.getByLabel("查找专家").fill("李");
    const pick = page.getByLabel("主讲专家");
    await pick.locator("option", { hasText: "李老师（西湖小学 · 136****0001）" }).waitFor({ state: "attached" });
    assert.notEqual(await pick.inputValue(), "", "the only match is chosen");
    await keepShot(page, "studio-live-lecturer-picker");
    await page.getByRole("button", { name: "创建" }).click();
    await page.getByText("已创建 2 场直播").waitFor();
    const card = page.getByRole("region", { name: "寒假亲子共读" });
    await card.waitFor();
    const curator = await token("13700000001");
    const occ = (await apiCall(base, "/api/v1/live/occurrences?from=2027-01-01T00:00:00Z&to=2027-01-31T00:00:00Z", curator)).body
      .find((o) => o.title === "寒假亲子共读");
    assert.equal(occ?.lecturer, "李老师", JSON.stringify(occ));
    assert.equal((await apiCall(base, `/api/v1/organizations/${occ.scope_org_id}`, curator)).body.name, "西湖小学");
    // The join codes card and the report find schools by name too.
    await page.goto(`${base}/studio`);
    await page.getByLabel("查找学校或班级").fill("没有这个学校");
    await page.getByText("没有找到这个名称的学校或班级。").waitFor();
    await page.getByLabel("查找学校或班级").fill("西湖");
    await page.locator(".join-code").filter({ hasText: "西湖小学" }).waitFor();
    await page.goto(`${base}/studio/reports`);
    await page.getByLabel("查找组织").fill("西湖");
    await page.getByLabel("组织", { exact: true }).locator("option", { hasText: "西湖小学（学校）" }).waitFor({ state: "attached" });
  });
});

test("staff print a join poster whose QR code opens the school's join link", async () => {
  const page = await phone(browser);
  await withShot(page, "join-poster", async () => {
    await login(page, base, "13700000001", PASSWORD);
    await page.waitForURL(/\/studio$/);
    const row = page.locator(".join-code").filter({ hasText: "西湖小学" });
    const make = row.getByRole("button", { name: /加入码/ });
    await make.waitFor();
    if (!(await row.locator(".code").count())) await make.click();
    const code = (await row.locator(".code").textContent()).trim();
    await row.getByRole("link", { name: "二维码海报" }).click();
    const poster = page.getByRole("region", { name: "加入海报" });
    await poster.getByText(code, { exact: true }).waitFor();
    const qr = poster.getByRole("img", { name: /加入「西湖小学」的二维码/ });
    await qr.waitFor();
    await page.waitForFunction(() => document.querySelector(".poster .qr")?.naturalWidth > 0);
    // The code read back from the picture, as a parent's phone would: the school's join link.
    const png = `${server.dir}/poster-qr.png`;
    await qr.screenshot({ path: png });
    const decoded = execFileSync("zbarimg", ["--raw", "-q", png]).toString().trim();
    assert.equal(decoded, `${base}/join/${code}`);
    await keepShot(page, "studio-join-poster");
    // Printed, it is the poster alone: no bars or buttons.
    await page.emulateMedia({ media: "print" });
    assert.equal(await page.locator("header.top").isVisible(), false);
    assert.equal(await page.getByRole("button", { name: "打印海报" }).isVisible(), false);
    assert.ok(await qr.isVisible());
    await keepShot(page, "studio-join-poster-print");
  });
});

test("a parent who forgot the password gets a code by SMS and is signed in with a new one", async () => {
  await apiCall(base, "/api/v1/auth/register", null, { phone: "13900000077", password: PASSWORD, display_name: "忘了密码的妈妈", accept_privacy_notice: true });
  const page = await phone(browser);
  await withShot(page, "forgot-sms", async () => {
    await page.goto(`${base}/login`);
    await page.getByRole("link", { name: "忘记密码" }).click();
    // The login form's own 手机号 stays until the page has asked whether SMS is on: fill the
    // new page's field, not the old one.
    await page.getByRole("button", { name: "获取验证码" }).waitFor();
    await page.getByLabel("手机号").fill("13900000077");
    await page.getByRole("button", { name: "获取验证码" }).click();
    await page.getByText(/验证码已发出，10 分钟内有效/).waitFor();
    await page.getByRole("button", { name: /秒后可重新获取/ }).waitFor();
    for (let i = 0; i < 50 && !texts.some((t) => t.kind === "password_reset_code"); i++) await page.waitForTimeout(100);
    const text = texts.find((t) => t.kind === "password_reset_code" && t.phone === "+8613900000077");
    assert.ok(text, JSON.stringify(texts));
    const code = text.text.match(/\d{6}/)[0];
    // A wrong code is said beside the field, in Chinese.
    await page.getByLabel("短信验证码").fill(code === "000000" ? "000001" : "000000");
    await page.getByLabel("新密码").fill("Brand-new-2026");
    await page.getByRole("button", { name: "重置密码并登录" }).click();
    await page.getByText("验证码不正确或已过期，请重新获取。").waitFor();
    await keepShot(page, "forgot-sms");
    await page.getByLabel("短信验证码").fill(code);
    await page.getByRole("button", { name: "重置密码并登录" }).click();
    await page.waitForURL(`${base}/`);
    await page.getByRole("heading", { name: "你好，忘了密码的妈妈" }).waitFor();
    const login = await apiCall(base, "/api/v1/auth/login", null, { phone: "13900000077", password: "Brand-new-2026" });
    assert.equal(login.status, 200);
  });
});
