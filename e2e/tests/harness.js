// Starts the real `stampede` binary on a free loopback port over a fresh data directory,
// launches headless Chromium, and gives tests pages that fail on any console or page error.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const SHOTS = join(ROOT, 'artifacts', 'screenshots');
export const ADMIN_TOKEN = 'e2e-admin-token';
export const WIDTHS = { phone: 360, desktop: 1280 };

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

/** A running shop: `base` URL, `admin(path, body)` for staff actions, `stop()`. `args` are
 * extra `serve` flags. */
export async function startShop({ args = [] } = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-e2e-'));
  const bin = process.env.STAMPEDE_BIN || join(ROOT, 'target', 'debug', 'stampede');
  const child = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir, '--admin-token', ADMIN_TOKEN,
    '--log-format', 'json', '--access-log', 'false', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`stampede exited early:\n${log}`);
    try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`stampede did not become ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    async admin(path, body) {
      const res = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json();
    },
    /** A GET as staff (the admin token), e.g. a customer's orders. */
    async json(path) { return (await fetch(base + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json(); },
    /** Creates an account with `stampede admin create-user`, the password passed by env. */
    createUser(email, role, password) {
      const run = spawnSync(bin, ['admin', 'create-user', '--data-dir', dataDir, '--email', email, '--role', role],
        { env: { ...process.env, STAMPEDE_USER_PASSWORD: password }, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`create-user ${email}: ${run.stderr}`);
    },
    /** Places an order through the JSON API; returns it. */
    async order(body) {
      const res = await fetch(base + '/api/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`order: ${res.status} ${await res.text()}`);
      return res.json();
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Headless Chromium with the flags these machines need. Playwright gives every launch a
 * fresh temporary profile (`--user-data-dir`) and removes it on close. */
export async function startBrowser() {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'];
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args });
  return { browser, close: () => browser.close() };
}

/** The shop and the browser of the test file that calls `useShopAndBrowser`: live bindings,
 * set once its `before` hook has run. Node's test runner runs each file in a process of its
 * own, so each file gets its own pair. */
export let shop;
export let chrome;

/** Starts a shop (`args`: extra `serve` flags) and a browser before the file's tests, then
 * runs `setup(shop)` (in the same hook, so it sees the shop); closes the browser and stops
 * the shop after the tests, checking that the server shuts down cleanly with SIGTERM. */
export function useShopAndBrowser({ args = [], setup = () => {} } = {}) {
  before(async () => {
    shop = await startShop({ args });
    chrome = await startBrowser();
    await setup(shop);
  });
  after(async () => {
    await chrome?.close();
    if (shop) assert.equal(await shop.stop(), 0, 'the server shuts down cleanly with SIGTERM');
  });
}

/**
 * A page at `width` px in a fresh context (its own cookies; `timezoneId` and `locale` as a
 * visitor elsewhere would have them). `errors` collects console
 * errors and uncaught exceptions; `allow` lists console messages a test expects.
 */
export async function openPage(browser, width, { javaScriptEnabled = true, allow = [], timezoneId, locale } = {}) {
  const context = await browser.newContext({ viewport: { width, height: width < 600 ? 780 : 900 }, javaScriptEnabled, timezoneId, locale });
  const page = await context.newPage();
  const errors = [];
  // Messages the next step is meant to cause (an HTTP error the page shows on purpose):
  // each allowed once, and `expected` lists those that never came.
  const expected = [];
  page.on('console', (m) => {
    if (m.type() !== 'error' || allow.some((a) => m.text().includes(a))) return;
    const i = expected.findIndex((e) => m.text().includes(e));
    if (i >= 0) expected.splice(i, 1); else errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.setDefaultTimeout(10000);
  return { page, context, errors, expected, expect: (text) => expected.push(text) };
}

/** The password the dashboard tests give staff accounts. */
export const STAFF_PASSWORD = 'e2e staff passphrase';

/** Fills and sends the sign-in form on `page`. */
export async function signIn(page, email, password = STAFF_PASSWORD) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Saves a full-page screenshot as artifacts/screenshots/<name>-<width>.png. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const width = page.viewportSize().width;
  await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
}

/**
 * The link in the newest dev-mailbox message to `to` whose subject is `subject`, waiting
 * for the relay to deliver it. Read over HTTP from the mailbox pages, as a developer would.
 */
export async function mailedLink(base, to, subject) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const list = await (await fetch(base + '/dev/mailbox')).text();
    const row = list.split('<tr>').find((r) => r.includes(`<td>${to}</td>`) && r.includes(`>${subject}</a>`));
    if (row) {
      const message = await (await fetch(base + row.match(/href="(\/dev\/mailbox\/[^"]+)"/)[1])).text();
      const url = message.match(/https?:\/\/[^\s"<]+token=[0-9a-f]{64}/);
      assert.ok(url, `a link in the mail to ${to}`);
      return url[0];
    }
    assert.ok(Date.now() < deadline, `no "${subject}" mail to ${to} arrived`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
