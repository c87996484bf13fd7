// 证书 pages: 我的证书 (the picture to long-press and share in WeChat, PNG and PDF downloads),
// the public verification page a certificate's QR code opens (/verify/CODE), and the studio's
// 证书管理 for curators: the issuer's seal, rules with their conditions, 立即发证, the issued
// certificates and revoking one with a reason.
import { api, qs, session, loginPath, imageUrl, download } from "./api.js";
import { h, toast, fieldErrors, checkRequired } from "./ui.js";
import { orgPicker } from "./pickers.js";
import { paths } from "./endpoints.js";

const day = (ts) => new Date(ts).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" });

export async function myCertificates({ page, go }) {
  if (!session()) return go(loginPath(), true);
  const list = await api(paths.meCertificates());
  page("我的证书",
    list.length ? h("ul", { class: "plain certificates" }, list.map((c) => {
      const img = h("img", { class: "certificate", alt: `${c.title}，${c.name}，${c.hours} 学时，${c.issuer}颁发`, width: 1600, height: 1130 });
      imageUrl(paths.certificateFile(`${c.code}.png`)).then((u) => { img.src = u; }).catch(() => img.remove());
      return h("li", { class: "card" },
        h("h2", {}, c.title),
        c.revoked ? h("p", { class: "err", role: "status" }, `已撤销：${c.revoked_reason || ""}`) : null,
        img,
        h("p", { class: "meta" }, `${c.issuer} · ${day(c.issued_at)} · ${c.hours} 学时 · 编号 ${c.code}`),
        h("p", { class: "meta" }, "在微信里可长按图片保存或发送给朋友。"),
        h("p", { class: "actions" },
          h("button", { type: "button", class: "btn", onclick: () => download(paths.certificateFile(`${c.code}.png`), `${c.title}.png`).catch((e) => toast(e.message, "error")) }, "下载图片"),
          h("button", { type: "button", class: "btn secondary", onclick: () => download(paths.certificateFile(`${c.code}.pdf`), `${c.title}.pdf`).catch((e) => toast(e.message, "error")) }, "下载 PDF"),
          h("a", { class: "btn secondary", href: c.verify_url, "data-link": true }, "验证页面")));
    })) : h("p", { class: "empty" }, "还没有证书。学时和课程达到学校的要求后，证书会自动发到这里。"));
}

// Anyone may open it: what the code stands for, the name masked.
export async function verifyPage(code, { page, go }) {
  const form = h("form", { class: "card form", "aria-label": "验证证书" },
    h("label", {}, "证书编号", h("input", { name: "code", value: code || "", required: true, autocomplete: "off", placeholder: "12 位编号" })),
    h("button", { class: "btn" }, "验证"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (checkRequired(form)) go(`/verify/${encodeURIComponent(form.code.value.trim())}`);
  });
  if (!code) return page("验证证书", form);
  let v;
  try { v = await api(paths.certificateVerify(code)); } catch (err) {
    return page("验证证书", h("p", { class: "err", role: "alert" }, err.message), form);
  }
  page("验证证书",
    h("section", { class: `card verdict ${v.valid ? "valid" : "revoked"}`, role: "status" },
      h("p", { class: "verdict-word" }, v.valid ? "✓ 证书有效" : "✗ 证书已撤销"),
      v.valid ? null : h("p", {}, `撤销时间：${day(v.revoked_at)}；原因：${v.revoked_reason || "未说明"}`),
      h("dl", { class: "facts" },
        h("dt", {}, "证书"), h("dd", {}, v.title),
        h("dt", {}, "持证人"), h("dd", {}, v.name),
        h("dt", {}, "学时"), h("dd", {}, `${v.hours} 小时`),
        h("dt", {}, "颁发单位"), h("dd", {}, v.issuer),
        h("dt", {}, "颁发日期"), h("dd", {}, day(v.issued_at)),
        h("dt", {}, "编号"), h("dd", {}, v.code))),
    h("p", { class: "meta" }, "为保护隐私，持证人姓名只显示第一个字。"), form);
}

// The current school term in China: autumn from 1 August, spring from 1 February.
function term() {
  const now = new Date(Date.now() + 8 * 3600000);
  const y = now.getUTCFullYear(), m = now.getUTCMonth() + 1;
  if (m >= 8) return [`${y}-08-01`, `${y + 1}-01-31`];
  if (m === 1) return [`${y - 1}-08-01`, `${y}-01-31`];
  return [`${y}-02-01`, `${y}-07-31`];
}

const hoursText = (r) => [
  r.min_hours && `总学时 ≥ ${r.min_hours} 小时`, r.min_live_hours && `直播 ≥ ${r.min_live_hours} 小时`,
  r.min_offline_hours && `线下 ≥ ${r.min_offline_hours} 小时`,
  r.list_id && `完成清单课程${r.min_courses ? ` ${r.min_courses} 门` : "全部"}${r.require_quizzes ? "并通过小测" : ""}`,
].filter(Boolean).join("，");

export async function certificatesStudio(ctx) {
  const picker = orgPicker({ name: "scope_org_id", label: "发证组织", kinds: ["province", "city", "county", "school", "class"] });
  await picker.ready;
  if (!picker.select.value) return ctx.page("证书管理", h("p", { class: "empty" }, "你还没有管理的组织。"));
  const rules = h("div", { "aria-live": "polite" });
  const seal = h("section", { class: "card", "aria-label": "公章" });
  const load = async () => {
    const org = picker.select.value;
    if (!org) return;
    const list = await api(paths.certificateRules(qs({ org_id: org }))).catch((e) => { toast(e.message, "error"); return []; });
    rules.replaceChildren(h("h2", {}, "证书规则"), list.length ? h("ul", { class: "plain rules" }, list.map(ruleItem)) : h("p", { class: "empty" }, "还没有证书规则。"));
    drawSeal(seal, org);
  };
  picker.select.addEventListener("change", load);
  const [from, to] = term();
  const lists = await api(paths.lists(qs({ limit: 100 }))).catch(() => ({ items: [] }));
  const num = (name, label) => h("label", {}, label, h("input", { name, type: "number", min: 0, step: "any", inputmode: "decimal" }));
  const form = h("form", { class: "card form", "aria-label": "新建证书规则", novalidate: true },
    h("h2", {}, "新建证书规则"),
    h("label", {}, "证书名称", h("input", { name: "name", required: true, maxlength: 40, placeholder: "如：2026 年秋季学期家长学校结业证书" })),
    picker.el,
    h("label", {}, "开始日期", h("input", { name: "from", type: "date", value: from, required: true })),
    h("label", {}, "结束日期（含）", h("input", { name: "to", type: "date", value: to, required: true })),
    h("fieldset", {}, h("legend", {}, "条件（至少一项）"),
      num("min_hours", "总学时不少于（小时）"), num("min_live_hours", "其中直播不少于（小时）"), num("min_offline_hours", "其中线下活动不少于（小时）"),
      h("label", {}, "课程清单", h("select", { name: "list_id" }, h("option", { value: "" }, "不要求"), lists.items.map((l) => h("option", { value: l.id }, `${l.title}（${l.course_count} 门）`)))),
      num("min_courses", "至少完成几门（留空：全部）"),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "require_quizzes" }), h("span", {}, "课程的课后小测也要通过"))),
    h("button", { class: "btn" }, "创建规则"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const f = new FormData(form);
    const n = (k) => (f.get(k) === "" ? undefined : Number(f.get(k)));
    const body = {
      name: f.get("name"), scope_org_id: f.get("scope_org_id"),
      from: `${f.get("from")}T00:00:00+08:00`,
      to: new Date(new Date(`${f.get("to")}T00:00:00+08:00`).getTime() + 86400000).toISOString(),
      min_hours: n("min_hours"), min_live_hours: n("min_live_hours"), min_offline_hours: n("min_offline_hours"),
      list_id: f.get("list_id") || undefined, min_courses: n("min_courses"), require_quizzes: f.get("require_quizzes") === "on",
    };
    try {
      await api(paths.certificateRules(), { method: "POST", body });
      toast("规则已创建，正在为达标的家长发证");
      form.reset();
      await load();
    } catch (err) { fieldErrors(form, err); }
  });
  ctx.page("证书管理", seal, rules, form,
    h("p", { class: "actions" }, h("a", { class: "btn secondary", href: "/studio", "data-link": true }, "返回工作台")));
  await load();

  function ruleItem(r) {
    const issued = h("div");
    return h("li", { class: "rule" },
      h("strong", {}, r.name),
      h("p", { class: "meta" }, `${day(r.from)} 至 ${day(new Date(r.to).getTime() - 1)} · ${hoursText(r)} · 已发 ${r.issued} 张`),
      issued,
      h("p", { class: "actions" },
        h("button", { type: "button", class: "btn secondary small", onclick: async () => {
          try { await api(paths.certificateRuleRuns(r.id), { method: "POST", body: {} }); toast("已开始检查，达标的家长会收到证书"); setTimeout(load, 1500); } catch (err) { toast(err.message, "error"); }
        } }, "立即发证"),
        h("button", { type: "button", class: "btn secondary small", onclick: () => showIssued(r, issued) }, "查看证书")));
  }

  async function showIssued(r, into) {
    const page = await api(paths.certificateRuleCertificates(r.id, qs({ limit: 100 })));
    into.replaceChildren(page.items.length ? h("ul", { class: "plain", "aria-label": `${r.name}的证书` }, page.items.map((c) => {
      const reason = h("input", { name: "reason", maxlength: 200, "aria-label": `撤销 ${c.name} 的证书的原因`, placeholder: "撤销原因" });
      const revoke = h("form", { class: "inline", novalidate: true }, reason, h("button", { class: "btn secondary small" }, "撤销"));
      revoke.addEventListener("submit", async (e) => {
        e.preventDefault();
        try {
          await api(paths.certificateRevocation(c.code), { method: "POST", body: { reason: reason.value } });
          toast("证书已撤销");
          await showIssued(r, into);
        } catch (err) { fieldErrors(revoke, err); }
      });
      return h("li", {}, h("span", { class: "grow" }, `${c.name} · ${c.hours} 学时 · ${c.code}`),
        c.revoked ? h("span", { class: "badge" }, `已撤销：${c.revoked_reason}`) : revoke);
    })) : h("p", { class: "empty" }, "还没有发出证书。"));
  }
}

async function drawSeal(el, org) {
  const input = h("input", { type: "file", accept: "image/png", "aria-label": "选择公章图片（PNG）" });
  const preview = h("img", { class: "seal", alt: "公章", hidden: true, width: 120, height: 120 });
  imageUrl(paths.organizationSeal(org)).then((u) => { preview.src = u; preview.hidden = false; }).catch(() => {});
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    try {
      await api(paths.organizationSeal(org), { method: "PUT", raw: file });
      toast("公章已上传，之后的证书都会盖上");
      drawSeal(el, org);
    } catch (err) { toast(err.message, "error"); }
  });
  el.replaceChildren(h("h2", {}, "公章"), preview,
    h("p", { class: "meta" }, "上传透明背景的 PNG 图片（不超过 1 MB），发出的证书都会盖上。"), h("label", {}, "上传公章", input));
}
