import { paths } from "./endpoints.js";
// API client: JSON requests with the access token, refreshed once on expiry; problem+json
// errors become ApiError with the server's Chinese message.
const KEY = "ps.session";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `请求失败（${status}）`);
    this.status = status;
    this.code = body?.code;
    this.fields = body?.errors || [];
  }
}

export function session() {
  try { return JSON.parse(localStorage.getItem(KEY)) || null; } catch { return null; }
}

export function saveSession(body) {
  localStorage.setItem(KEY, JSON.stringify({
    access: body.access_token, refresh: body.refresh_token, user: body.user,
  }));
}

export function clearSession() { localStorage.removeItem(KEY); }

/// The login (or registration) page, coming back to `next` (default: this page) afterwards.
export function loginPath(next = location.pathname + location.search, page = "login") {
  return `/${page}?next=${encodeURIComponent(next)}`;
}

/// Reloads the signed-in user into the saved session (after joining an organization, say), so
/// pages see their new organizations without logging in again.
export async function refreshUser() {
  const me = await api(paths.me());
  const cur = session();
  if (cur) saveSession({ access_token: cur.access, refresh_token: cur.refresh, user: me });
  return me;
}

let refreshing = null;
async function refresh() {
  const s = session();
  if (!s?.refresh) return false;
  refreshing ??= fetch(paths.authRefresh(), {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: s.refresh }),
  }).then(async (r) => {
    if (!r.ok) { clearSession(); return false; }
    saveSession(await r.json());
    return true;
  }).finally(() => { refreshing = null; });
  return refreshing;
}

export async function api(path, { method = "GET", body, raw, retry = true } = {}) {
  const headers = { accept: "application/json" };
  const s = session();
  if (s?.access) headers.authorization = `Bearer ${s.access}`;
  let payload;
  if (raw) { payload = raw; headers["content-type"] = raw.type || "application/octet-stream"; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers["content-type"] = "application/json"; }
  let res;
  try { res = await fetch(path, { method, headers, body: payload }); }
  catch { throw new ApiError(0, { detail: "网络连接失败，请检查网络后重试。" }); }
  if (res.status === 401 && retry && s?.refresh) {
    if (await refresh()) return api(path, { method, body, raw, retry: false });
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (res.status === 401 && s && ["token_expired", "token_revoked", "invalid_token", "unauthenticated"].includes(data?.code)) {
    // The saved login no longer works (expired, revoked, or the refresh failed): forget it, so
    // the page and the top bar stop looking signed in, and say so in a parent's words.
    clearSession();
    window.dispatchEvent(new Event("ps:signed-out"));
    throw new ApiError(401, { code: "session_expired", detail: "登录已过期，请重新登录。" });
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
};

// Saves a file the API makes (e.g. a CSV report) under `filename`: a plain link cannot send the
// Authorization header, so the bytes are fetched and handed to the browser as a blob.
// An image the API serves only with the token (a QR code): a blob: URL for an <img>.
export async function imageUrl(path) {
  const s = session();
  const res = await fetch(path, { headers: s?.access ? { authorization: `Bearer ${s.access}` } : {} });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return URL.createObjectURL(await res.blob());
}

export async function download(path, filename) {
  const s = session();
  const res = await fetch(path, { headers: s?.access ? { authorization: `Bearer ${s.access}` } : {} });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
