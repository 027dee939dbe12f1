// The sales analytics page in headless Chromium: the chart is drawn and readable at phone
// and desktop width. The page has no auth of its own and is mounted behind the staff guard
// in the shop, so this test runs it through the test-only `analytics_preview` example
// (public router + analytics routes over a week of demo orders), never the real binary.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, shot, startBrowser, WIDTHS } from './harness.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = process.env.ANALYTICS_PREVIEW_BIN || join(ROOT, 'target', 'debug', 'examples', 'analytics_preview');

let server;
let url;
let chrome;

before(async () => {
  if (!existsSync(BIN)) return;
  server = spawn(BIN, ['0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  url = await new Promise((ok, fail) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('http://'));
      if (line) ok(line.trim());
    });
    server.once('exit', (code) => fail(new Error(`analytics_preview exited with ${code}`)));
    setTimeout(() => fail(new Error('analytics_preview did not start')), 30000);
  });
  chrome = await startBrowser();
});

after(async () => {
  await chrome?.close();
  server?.kill('SIGTERM');
});

for (const [label, width] of Object.entries(WIDTHS)) {
  test(`the revenue chart is drawn and fits the screen (${label})`, { skip: !existsSync(BIN) && 'build it with: cargo build -p stampede-web --example analytics_preview' }, async () => {
    const { page, context, errors } = await openPage(chrome.browser, width);
    try {
      const res = await page.goto(url);
      assert.equal(res.status(), 200);
      await assert.doesNotReject(page.getByRole('heading', { name: 'Sales analytics', level: 1 }).waitFor());
      const chart = page.getByRole('img', { name: 'Revenue per day (USD)' });
      await chart.waitFor();
      const box = await chart.boundingBox();
      assert.ok(box.width > 200 && box.height > 50, `chart box ${JSON.stringify(box)}`);
      assert.ok(box.x >= 0 && box.x + box.width <= width, 'chart fits the viewport');
      const bars = page.locator('svg.chart rect.bar');
      assert.equal(await bars.count(), 7, 'one bar per day');
      const heights = await bars.evaluateAll((rs) => rs.map((r) => r.getBoundingClientRect().height));
      assert.ok(heights.filter((h) => h > 1).length >= 5, `bars are drawn: ${heights}`);
      await shot(page, 'analytics');
      // No horizontal scrolling of the page itself at 360 px (tables scroll in their own box).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page overflows by ${overflow}px`);
      await page.getByRole('link', { name: 'Last 24 hours' }).click();
      await page.getByRole('img', { name: 'Revenue per hour (USD)' }).waitFor();
      assert.equal(await page.locator('svg.chart rect.bar').count(), 24);
      await shot(page, 'analytics-24h');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
}
