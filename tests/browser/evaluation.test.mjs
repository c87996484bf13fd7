// 数字化评价 as people click it: a curator writes a lesson's quiz on the course page; a parent
// takes it (the key never reaches the browser), fails, then passes; after an offline activity
// the parent rates it with stars and a comment, changes it, and the curator reads the average
// and the comment on the activity page; the curator's 评价看板 shows the class's coverage and
// score, drills down to it, exports the CSV and changes the indicators.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Server, launch, phone, withShot, login, apiCall, keepShot, layoutTrouble } from "./harness.mjs";

const server = new Server();
const PASSWORD = "Test-pass-2026";
let browser, base, course, activity;

const token = async (phoneNumber) => (await apiCall(base, "/api/v1/auth/login", null, { phone: phoneNumber, password: PASSWORD })).body.access_token;

before(async () => {
  await server.provision();
  const province = server.cli("org", "add", "--name", "浙江省妇联", "--kind", "province");
  const school = server.cli("org", "add", "--name", "西湖小学", "--kind", "school", "--parent", province);
  const klass = server.cli("org", "add", "--name", "三年级一班", "--kind", "class", "--parent", school);
  server.cli("user", "add", "--phone", "13800000001", "--password", PASSWORD, "--role", "parent", "--org", klass, "--name", "乐乐妈妈");
  server.cli("user", "add", "--phone", "13700000001", "--password", PASSWORD, "--role", "curator", "--org", school, "--name", "西湖小学王老师");
  base = await server.start();
  const curator = await token("13700000001");
  const parent = await token("13800000001");
  const c = (await apiCall(base, "/api/v1/courses", curator, { title: "读懂孩子的情绪", age_stages: ["6-12"], scope_org_id: school, owner_org_id: school,
    lessons: [{ title: "第一讲：接纳情绪", duration_s: 600 }] })).body;
  for (const to of ["in_review", "published"]) await apiCall(base, `/api/v1/courses/${c.id}/transitions`, curator, { to });
  course = c.id;
  const at = (min) => new Date(Date.now() + min * 60000).toISOString();
  activity = (await apiCall(base, "/api/v1/activities", curator, { title: "亲子阅读会", kind: "parent_child", place: "学校图书馆",
    starts_at: at(10), ends_at: at(70), capacity: 30, scope_org_id: school, host_org_id: school, credit_minutes: 60 })).body.id;
  assert.equal((await apiCall(base, `/api/v1/activities/${activity}/enrolments`, parent, {})).status, 200);
  const me = (await apiCall(base, "/api/v1/me", parent)).body.id;
  const checked = await apiCall(base, `/api/v1/activities/${activity}/check-ins/${me}`, curator, {}, "PUT");
  assert.equal(checked.status, 200, JSON.stringify(checked.body));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
});

test("a curator writes a lesson's quiz; a parent fails it, then passes, and never sees the key", async () => {
  const staff = await phone(browser);
  await withShot(staff, "quiz-editor", async () => {
    await login(staff, base, "13700000001", PASSWORD);
    await staff.goto(`${base}/courses/${course}`);
    await staff.getByRole("button", { name: "添加小测" }).click();
    const editor = staff.getByRole("form", { name: "编辑课后小测" });
    // A single choice with two right options is refused, said by question.
    await editor.getByLabel("题干").fill("孩子发脾气时，家长首先应该？");
    await editor.getByLabel("选项（每行一个，2–8 个）").fill("立刻批评\n先接纳情绪\n不理睬");
    await editor.getByLabel("正确选项（填序号，多选用逗号隔开，如 1,3）").fill("1,2");
    await editor.getByRole("button", { name: "保存小测" }).click();
    await editor.getByRole("alert").filter({ hasText: "第 1 题：单选题需要恰好一个正确选项" }).waitFor();
    await editor.getByLabel("正确选项（填序号，多选用逗号隔开，如 1,3）").fill("2");
    await editor.getByRole("button", { name: "添加一题" }).click();
    const second = editor.locator("fieldset.question").nth(1);
    await second.getByLabel("题干").fill("哪些做法有助于孩子表达情绪？");
    await second.getByLabel("题型").selectOption("multiple");
    await second.getByLabel("选项（每行一个，2–8 个）").fill("说出感受\n画情绪脸谱\n压抑不说");
    await second.getByLabel("正确选项（填序号，多选用逗号隔开，如 1,3）").fill("1，2");
    await editor.getByRole("checkbox", { name: "完成本课程须通过此小测（计入证书）" }).check();
    await editor.getByRole("button", { name: "保存小测" }).click();
    await staff.getByText("小测已保存").waitFor();
  });
  await staff.context().close();

  const page = await phone(browser);
  await withShot(page, "quiz-parent", async () => {
    let keyed = false;
    page.on("response", async (r) => {
      if (r.url().includes("/quiz") && r.request().method() === "GET") keyed ||= JSON.stringify(await r.json().catch(() => ({}))).includes('"answer"');
    });
    await login(page, base, "13800000001", PASSWORD);
    await page.goto(`${base}/courses/${course}`);
    await page.getByRole("button", { name: "课后小测" }).click();
    const quiz = page.getByRole("form", { name: "课后小测" });
    await quiz.getByText("共 2 题，60 分及格，可多次作答。通过后才算完成本课程。").waitFor();
    await quiz.getByRole("radio", { name: "立刻批评" }).check();
    await quiz.getByRole("button", { name: "提交答案" }).click();
    await quiz.getByText("第 2 题还没有作答。").waitFor();
    await quiz.getByRole("checkbox", { name: "说出感受" }).check();
    await quiz.getByRole("button", { name: "提交答案" }).click();
    await quiz.getByText("得分 0 分，未通过（60 分及格），可以再试一次。").waitFor();
    await quiz.getByRole("radio", { name: "先接纳情绪" }).check();
    await quiz.getByRole("checkbox", { name: "画情绪脸谱" }).check();
    await quiz.getByRole("button", { name: "提交答案" }).click();
    await quiz.getByText("得分 100 分，已通过。").waitFor();
    assert.equal(await quiz.locator('fieldset[data-correct="true"]').count(), 2);
    // Back on the page later: the standing is kept.
    await page.reload();
    await page.getByRole("button", { name: "课后小测" }).click();
    await page.getByText("已作答 2 次，最高 100 分，已通过。").waitFor();
    assert.equal(keyed, false, "the answer key reached the parent's browser");
  });
  await page.context().close();
});

test("after an activity a parent rates it, changes it, and the curator reads it", async () => {
  const page = await phone(browser);
  await withShot(page, "rating", async () => {
    await login(page, base, "13800000001", PASSWORD);
    await page.goto(`${base}/activities/${activity}`);
    const card = page.getByRole("region", { name: "评价", exact: true });
    await card.getByRole("button", { name: "提交评价" }).click();
    await card.getByRole("alert").filter({ hasText: "请选择星级" }).waitFor();
    await card.getByRole("radio", { name: "★★★ 一般" }).check();
    await card.getByLabel("留言（选填，最多 300 字）").fill("时间有点短");
    await card.getByRole("button", { name: "提交评价" }).click();
    await page.getByText("谢谢你的评价！").waitFor();
    await card.getByRole("radio", { name: "★★★★★ 很好" }).check();
    await card.getByLabel("留言（选填，最多 300 字）").fill("孩子很喜欢，下次还来");
    // The change is saved before the page is left.
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/rating") && r.request().method() === "PUT" && r.ok()),
      card.getByRole("button", { name: "修改评价" }).click(),
    ]);
    await page.reload();
    assert.equal(await page.getByRole("region", { name: "评价", exact: true }).getByRole("radio", { name: "★★★★★ 很好" }).isChecked(), true);
  });
  await page.context().close();

  const staff = await phone(browser);
  await withShot(staff, "ratings-staff", async () => {
    await login(staff, base, "13700000001", PASSWORD);
    await staff.goto(`${base}/activities/${activity}`);
    const summary = staff.getByRole("region", { name: "家长评价" });
    await summary.getByText("5.0 分").waitFor();
    await summary.getByText("孩子很喜欢，下次还来").waitFor();
    await summary.getByText(/^乐\*+ · /).waitFor();
  });
  await staff.context().close();
});

test("the curator's 评价看板: the class's figures, drill-down, CSV and the indicators", async () => {
  const staff = await phone(browser);
  await withShot(staff, "dashboard", async () => {
    await login(staff, base, "13700000001", PASSWORD);
    await staff.goto(`${base}/studio`);
    await staff.getByRole("link", { name: "评价看板" }).click();
    await staff.getByRole("heading", { name: "评价看板：西湖小学" }).waitFor();
    // The parent's hour at the activity: the class is fully covered.
    const row = staff.getByRole("row", { name: /三年级一班/ });
    await row.waitFor();
    assert.match(await row.innerText(), /三年级一班\s+1\s+1\s+100\.0%\s+1\.00\s+1\.00\s+0\.0%\s+100\.0%/);
    await staff.getByRole("img", { name: /各单位综合得分：三年级一班 \d/ }).waitFor();
    await staff.getByRole("img", { name: /综合得分趋势/ }).waitFor();
    await staff.setViewportSize({ width: 360, height: 740 });
    assert.deepEqual(await layoutTrouble(staff), []);
    await keepShot(staff, "dashboard-school");
    const [download] = await Promise.all([staff.waitForEvent("download"), staff.getByRole("button", { name: "导出 CSV（Excel）" }).click()]);
    const file = join(server.dir, "evaluation.csv");
    await download.saveAs(file);
    const csv = readFileSync(file, "utf8");
    assert.ok(csv.startsWith("\ufeff单位,家庭数,活跃家庭,覆盖率"), csv);
    assert.match(csv, /\n三年级一班,1,1,100\.0%,1\.00,/);
    // The indicators: count coverage only, and the formula says so.
    await staff.getByText("调整评价指标（指标、目标与权重）").click();
    for (const name of ["avg_hours", "live_rate", "offline_rate"]) await staff.locator(`input[name="${name}.on"]`).uncheck();
    await staff.getByRole("button", { name: "保存指标" }).click();
    await staff.getByText(/综合得分 = \[40 × min\(覆盖率 ÷ 80%, 1\)\] ÷ 40 × 100.*（本组织设定）/).waitFor();
    await staff.getByRole("img", { name: /三年级一班 100 分/ }).waitFor();
    // Drill down into the class.
    await staff.getByRole("link", { name: "三年级一班" }).click();
    await staff.getByRole("heading", { name: "评价看板：三年级一班" }).waitFor();
    // A class has no units below it: its own families make its one row.
    await staff.getByRole("row", { name: /三年级一班（直属）/ }).waitFor();
    await staff.getByText(/沿用上级组织的设定/).waitFor();
  });
  await staff.context().close();
});
