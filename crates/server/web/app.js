// Landing page: shows whether the service is up. The full app shell arrives with the catalog.
const el = document.getElementById("health");
fetch("/readyz")
  .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
  .then(({ ok, body }) => {
    el.textContent = ok ? "运行正常" : `暂不可用：${body.detail ?? ""}`;
  })
  .catch(() => {
    el.textContent = "无法连接服务器，请检查网络。";
  });
