// Shared set-up for browser tests: a fresh data folder, organizations and users made with the
// real CLI, the real server on 127.0.0.1:0, and Debian's Chromium at a phone viewport.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, connect } from "node:net";
import { chromium } from "playwright-core";

/// A TCP port on 127.0.0.1 that was free a moment ago.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/// Whether something accepts connections on 127.0.0.1:`port`.
function answers(port) {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.once("connect", () => { sock.destroy(); resolve(true); });
    sock.once("error", () => resolve(false));
  });
}

const root = new URL("../../", import.meta.url).pathname;
export const bin = process.env.PARENTSCHOOL_BIN || join(root, "target/debug/parentschool");
export const shots = join(root, "target/browser-failures");

export const CHROMIUM_FLAGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
];

export class Server {
  /// `postgres: true` runs on a fresh PostgreSQL database (PARENTSCHOOL_TEST_PG_URL names the
  /// server, as for the Rust tests); `s3: true` keeps objects on a real s3s-fs on loopback.
  /// `newcomer: true` runs the binary as the README does: in a fresh working directory without
  /// `--data-dir`, so everything lands in the default relative `data` folder.
  constructor({ postgres = false, s3 = false, newcomer = false } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), "parentschool-browser-"));
    this.dataArgs = newcomer ? [] : ["--data-dir", join(this.dir, "data")];
    this.cwd = newcomer ? this.dir : undefined;
    this.env = { ...process.env, RUST_LOG: process.env.PARENTSCHOOL_BROWSER_LOG ? (process.env.RUST_LOG || "info") : "warn" };
    this.postgres = postgres;
    this.s3 = s3;
  }

  async provision() {
    if (this.postgres) {
      // "socket": through the Unix socket (PARENTSCHOOL_TEST_PG_SOCKET_URL), for tests in a
      // network namespace where 127.0.0.1:5432 of the host is out of reach.
      const admin = this.postgres === "socket"
        ? process.env.PARENTSCHOOL_TEST_PG_SOCKET_URL
        : process.env.PARENTSCHOOL_TEST_PG_URL || "postgres://postgres@127.0.0.1:5432/postgres";
      this.pgAdmin = admin;
      this.pgName = `ps_browser_${Date.now()}_${process.pid}`;
      execFileSync("psql", [admin, "-qc", `CREATE DATABASE "${this.pgName}"`]);
      const url = new URL(admin);
      url.pathname = `/${this.pgName}`;
      this.env.PARENTSCHOOL__DATABASE__URL = url.toString();
    }
    if (this.s3) {
      const bucketDir = join(this.dir, "s3");
      mkdirSync(join(bucketDir, "browser"), { recursive: true });
      // A port the system just handed out (not a random guess that may be taken), and the
      // server answering on it before anything uses it.
      const port = await freePort();
      const keys = ["AKIDBROWSERTEST", "browser-test-secret-key-0123456789"];
      this.s3proc = spawn(process.env.PARENTSCHOOL_S3S_FS || "s3s-fs",
        ["--host", "127.0.0.1", "--port", String(port), "--access-key", keys[0], "--secret-key", keys[1], bucketDir], { stdio: "ignore" });
      let exited = null;
      this.s3proc.on("exit", (code) => { exited = code; });
      Object.assign(this.env, {
        PARENTSCHOOL__STORAGE__BACKEND: "s3",
        PARENTSCHOOL__STORAGE__S3__ENDPOINT: `http://127.0.0.1:${port}`,
        PARENTSCHOOL__STORAGE__S3__BUCKET: "browser",
        PARENTSCHOOL__STORAGE__S3__ACCESS_KEY_ID: keys[0],
        PARENTSCHOOL__STORAGE__S3__SECRET_ACCESS_KEY: keys[1],
      });
      const deadline = Date.now() + 30000;
      while (!(await answers(port))) {
        if (exited !== null) throw new Error(`s3s-fs exited with ${exited} before answering on port ${port}`);
        if (Date.now() > deadline) throw new Error(`s3s-fs did not answer on port ${port} within 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  cli(...args) {
    return execFileSync(bin, [...this.dataArgs, ...args], { env: this.env, cwd: this.cwd, encoding: "utf8" }).trim();
  }

  async start(listen = "127.0.0.1:0") {
    this.proc = spawn(bin, [...this.dataArgs, "serve", "--listen", listen], { env: this.env, cwd: this.cwd, stdio: ["ignore", "pipe", "inherit"] });
    this.url = await new Promise((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30000);
      this.proc.stdout.on("data", (chunk) => {
        // PARENTSCHOOL_BROWSER_LOG=1 shows the server's log (set RUST_LOG in the test's env).
        if (process.env.PARENTSCHOOL_BROWSER_LOG) process.stderr.write(chunk);
        remember(serverTail, ...String(chunk).split("\n").filter(Boolean));
        out += chunk;
        const m = out.match(/listening on (http:\/\/\S+)/);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      this.proc.on("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    });
    return this.url;
  }

  /// A crash: SIGKILL, then the server starts again on the same address and data.
  async restart() {
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGKILL");
    await exited;
    return this.start(new URL(this.url).host);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      await exited;
    }
    this.s3proc?.kill();
    if (this.pgName) execFileSync("psql", [this.pgAdmin, "-qc", `DROP DATABASE IF EXISTS "${this.pgName}" WITH (FORCE)`]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/// Flags for WebRTC tests: a fake camera and microphone without a permission prompt, and host
/// candidates on 127.0.0.1 (the tests run in a network namespace with only loopback).
export const WEBRTC_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection"];

export async function launch(extra = []) {
  return chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: [...CHROMIUM_FLAGS, ...extra] });
}

/// The last lines of the servers' logs and of each page's troubles, shown when a test fails.
const serverTail = [];
const pageTrouble = new WeakMap();
function remember(list, ...lines) {
  list.push(...lines);
  list.splice(0, Math.max(0, list.length - 40));
}

/// Notes a page's console errors and failed requests, for the failure report.
export function watchTrouble(page) {
  const list = [];
  pageTrouble.set(page, list);
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") remember(list, `console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => remember(list, `page error: ${e.message}`));
  page.on("requestfailed", (r) => remember(list, `request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("response", (r) => { if (r.status() >= 400) remember(list, `HTTP ${r.status()}: ${r.request().method()} ${r.url()}`); });
  return page;
}

export async function phone(browser) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN", isMobile: true, hasTouch: true });
  context.setDefaultTimeout(15000);
  return watchTrouble(await context.newPage());
}

/// Runs `fn(page)`; on failure keeps a screenshot in target/browser-failures.
export async function withShot(page, name, fn) {
  try {
    await fn(page);
  } catch (err) {
    mkdirSync(shots, { recursive: true });
    const file = join(shots, `${name}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    // What a reader of a CI log needs without the screenshot: the page's status lines, its
    // failed requests and console errors, and the end of the server's log.
    const status = await page.locator("[role=status], [role=alert]").allTextContents().catch(() => []);
    const lines = [
      `screenshot: ${file}`,
      `url: ${page.url()}`,
      `status texts: ${JSON.stringify(status.filter((t) => t.trim()))}`,
      ...(pageTrouble.get(page) ?? []),
      "server log (last lines):",
      ...serverTail.slice(-25),
    ];
    err.message += lines.map((l) => `\n  ${l}`).join("");
    throw err;
  }
}

export async function login(page, base, phoneNumber, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel("手机号").fill(phoneNumber);
  await page.getByLabel("密码").fill(password);
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}

export const screenshots = join(root, "target/screenshots");

/// Keeps a screenshot of the page at its current size in target/screenshots/<name>.png, for a
/// reviewer to look at after every run.
export async function keepShot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/// What is wrong with the layout at the page's current width: horizontal overflow, and elements
/// that carry `hidden` yet are displayed (a class overriding it).
export async function layoutTrouble(page) {
  return page.evaluate(() => {
    const out = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth + 1) out.push(`the page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
    for (const el of document.querySelectorAll("[hidden]")) {
      if (getComputedStyle(el).display !== "none") out.push(`visible despite hidden: <${el.tagName.toLowerCase()} class="${el.className}">${el.textContent.trim().slice(0, 30)}`);
    }
    return out;
  });
}

/// A JSON API call from the test itself (set-up the UI is not under test for).
export async function apiCall(base, path, token, body, method = body ? "POST" : "GET") {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json ?? text };
}
