// 组织架构 in the studio: the organizations a curator manages in tree order, with each kind and
// each 教联体 partner unit's type and what it serves; adding an organization (a municipality's
// districts right under it, partners under a region), and choosing what a partner serves.
import { api, qs } from "./api.js";
import { h, toast, fieldErrors, checkRequired } from "./ui.js";
import { paths } from "./endpoints.js";

const KINDS = { province: "省级", city: "市级", county: "县/区", school: "学校", class: "班级", partner: "教联体成员单位" };
const TYPES = [["museum", "博物馆/科技馆"], ["hospital", "医院/卫生院"], ["police", "公安/派出所"], ["library", "图书馆"],
  ["sports", "体育场馆"], ["community", "社区/街道"], ["university", "高校/研究机构"], ["other", "其他"]];
const typeLabel = (t) => (TYPES.find(([c]) => c === t) || [t, t])[1];
const SERVABLE = ["city", "county", "school"];

async function managed() {
  const out = [];
  let cursor = null;
  do {
    const page = await api(paths.organizations(qs({ limit: 100, cursor })));
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < 2000);
  const byId = new Map(out.map((o) => [o.id, o]));
  const depth = (o) => { let d = 0; for (let p = byId.get(o.parent_id); p; p = byId.get(p.parent_id)) d++; return d; };
  return out.map((o) => ({ ...o, depth: depth(o) }));
}

export async function orgTree(ctx) {
  const orgs = await managed();
  const tree = h("ul", { class: "plain org-tree" });
  for (const o of orgs) {
    const what = o.kind === "partner" ? `${KINDS.partner} · ${typeLabel(o.partner_type)}` : KINDS[o.kind];
    const serves = h("span", { class: "meta serves" });
    const li = h("li", { class: `org ${o.kind}`, style: `padding-left:${o.depth * 16}px`, "data-org": o.id },
      h("strong", {}, o.name), h("span", { class: "meta" }, ` · ${what}`), " ", serves);
    if (o.kind === "partner") {
      const draw = (list) => { serves.textContent = list.length ? `服务：${list.map((s) => s.name).join("、")}` : "还没有服务对象"; };
      api(paths.organizationServes(o.id)).then((r) => draw(r.organizations)).catch(() => {});
      const boxes = orgs.filter((x) => SERVABLE.includes(x.kind)).map((x) =>
        h("label", { class: "inline" }, h("input", { type: "checkbox", value: x.id }), ` ${x.name}`));
      const form = h("form", { class: "serves-form", novalidate: true },
        h("fieldset", {}, h("legend", {}, `「${o.name}」服务的市、县/区和学校`), ...boxes),
        h("button", { class: "btn small" }, "保存服务对象"));
      const details = h("details", {}, h("summary", {}, "设置服务对象"), form);
      details.addEventListener("toggle", async () => {
        if (!details.open) return;
        const now = (await api(paths.organizationServes(o.id))).organizations.map((s) => s.id);
        for (const b of form.querySelectorAll("input[type=checkbox]")) b.checked = now.includes(b.value);
      });
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const ids = [...form.querySelectorAll("input:checked")].map((b) => b.value);
        try {
          const r = await api(paths.organizationServes(o.id), { method: "PUT", body: { org_ids: ids } });
          draw(r.organizations);
          toast("服务对象已保存");
          details.open = false;
        } catch (err) { fieldErrors(form, err); }
      });
      li.append(details);
    }
    tree.append(li);
  }
  ctx.page("组织架构",
    h("section", { class: "card" }, orgs.length ? tree : h("p", { class: "empty" }, "你还没有管理的组织。")),
    addForm(orgs, ctx));
}

function addForm(orgs, ctx) {
  const name = h("input", { name: "name", required: true, maxlength: 64 });
  const kind = h("select", { name: "kind" }, ["school", "class", "partner", "county", "city"]
    .map((k) => h("option", { value: k }, KINDS[k])));
  const type = h("select", { name: "partner_type" }, TYPES.map(([c, label]) => h("option", { value: c }, label)));
  const typeField = h("label", { hidden: true }, "单位类型", type);
  const parent = h("select", { name: "parent_id" }, orgs.filter((o) => o.kind !== "class" && o.kind !== "partner")
    .map((o) => h("option", { value: o.id }, `${"　".repeat(o.depth)}${o.name}`)));
  kind.addEventListener("change", () => { typeField.hidden = kind.value !== "partner"; });
  const form = h("form", { class: "card form", novalidate: true }, h("h2", {}, "新建组织"),
    h("label", {}, "名称", name), h("label", {}, "类型", kind), typeField, h("label", {}, "上级组织", parent),
    h("p", { class: "meta" }, "直辖市的区、省直管县可直接建在省级之下；教联体成员单位（博物馆、医院、派出所、图书馆等）建在省、市或县/区之下，再设置它服务的学校。"),
    h("button", { class: "btn" }, "创建"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!checkRequired(form)) return;
    const body = { name: name.value.trim(), kind: kind.value, parent_id: parent.value || null };
    if (kind.value === "partner") body.partner_type = type.value;
    try {
      const o = await api(paths.organizations(), { method: "POST", body });
      toast(`已创建「${o.name}」`);
      await orgTree(ctx);
    } catch (err) { fieldErrors(form, err); }
  });
  return form;
}
