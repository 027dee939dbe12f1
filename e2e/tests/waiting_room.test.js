// The waiting room (#14) in headless Chromium: two browsers in line behind an early joiner
// who never buys. When that admission lapses, the earlier browser is admitted (the buy button
// appears with its countdown) and the later one sees its place fall, live; after the buy,
// the later one is told the product sold out. Then the no-JavaScript fallback: the page
// reloads itself and shows the change. Tests wait for states, never for durations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WIDTHS, chrome, openPage, shop, shot, useShopAndBrowser } from './harness.js';

useShopAndBrowser();

// An admission lasts at least a minute: the lapse the first test waits for.
const LAPSE_MS = 60000 + 30000;

async function roomProduct(id, name, stock) {
  await shop.admin('/api/admin/products', { id, name, category: 'flash-sale', price: { amount: 900, currency: 'USD' }, stock,
    sale: { perCustomerMax: 1, waitingRoom: { admissionMinutes: 1 } } });
}

async function apiJoin(id, userId) {
  const res = await fetch(`${shop.base}/api/products/${id}/queue`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
  assert.equal(res.status, 201);
  return res.json();
}

async function joinInBrowser(page, id, email) {
  await page.goto(`${shop.base}/products/${id}`);
  await page.getByRole('link', { name: 'Join the line' }).click();
  await page.getByLabel('Your email').fill(email);
  await page.getByRole('button', { name: 'Join the line' }).click();
  await page.getByRole('heading', { name: "You're in line" }).waitFor();
}

test('the earlier joiner is admitted first and the later one sees their place fall', { timeout: 240000 }, async () => {
  await roomProduct('drop', 'Midnight Drop', 1);
  // Someone joined first and will never buy: their unit passes on when the admission lapses.
  const early = await apiJoin('drop', 'early-bird');
  assert.equal(early.position, 1);
  const first = await openPage(chrome.browser, WIDTHS.desktop);
  const second = await openPage(chrome.browser, WIDTHS.phone);
  await joinInBrowser(first.page, 'drop', 'first@example.com');
  await joinInBrowser(second.page, 'drop', 'second@example.com');
  const place = (page) => page.locator('[data-place]').textContent();
  const ahead = (page) => page.locator('[data-ahead]').textContent();
  const letIn = (page) => page.locator('[data-let-in-note]').textContent();
  // The place counts only people still waiting: always one more than those ahead. The early
  // bird, already let in, is mentioned apart rather than counted as ahead.
  assert.equal(await place(first.page), '1');
  assert.equal(await ahead(first.page), '0');
  assert.match(await letIn(first.page), /You were number 2 to join; 1 before you has already been let in/);
  assert.equal(await place(second.page), '2');
  assert.equal(await ahead(second.page), '1');
  assert.match(await letIn(second.page), /You were number 3 to join; 1 before you has already been let in/);
  // The place is in a polite live region, so screen readers announce changes.
  const region = second.page.locator('[data-line-status]');
  assert.equal(await region.getAttribute('aria-live'), 'polite');
  assert.equal(await region.getAttribute('role'), 'status');
  await shot(first.page, '40-line-waiting');
  await shot(second.page, '40-line-waiting');

  // The early bird's admission lapses: the first browser is admitted without reloading.
  await first.page.getByRole('heading', { name: "It's your turn" }).waitFor({ timeout: LAPSE_MS });
  const buy = first.page.getByRole('button', { name: 'Buy now' });
  assert.ok(await buy.isVisible());
  assert.match(await first.page.locator('[data-countdown-until]').textContent(), /^[01]:\d\d$/, 'the admission counts down');
  // ... and the second browser's place falls: nobody is ahead of it any more.
  await second.page.locator('[data-ahead]', { hasText: /^0$/ }).waitFor({ timeout: 15000 });
  assert.match(await second.page.locator('p.sr[aria-live="polite"]').textContent(), /0 people ahead/);
  await shot(first.page, '41-line-admitted');
  await shot(second.page, '41-line-place-fell');

  await buy.click();
  await first.page.waitForURL(/\/orders\/[^/?]+\?placed=1/);
  // The last unit is gone: the second browser is told at once, not left waiting.
  await second.page.getByRole('heading', { name: 'Midnight Drop is sold out' }).waitFor({ timeout: 15000 });
  await shot(second.page, '42-line-sold-out');
  const sales = await shop.json('/api/admin/products/drop/sales');
  assert.equal(sales.unitsSold, 1);
  assert.deepEqual(first.errors, []);
  assert.deepEqual(second.errors, []);
  await first.context.close();
  await second.context.close();
});

test('without JavaScript the line page reloads itself and shows the change', async () => {
  await roomProduct('drop-nojs', 'Plain Drop', 1);
  const early = await apiJoin('drop-nojs', 'early-nojs');
  const visitor = await openPage(chrome.browser, WIDTHS.phone, { javaScriptEnabled: false });
  await joinInBrowser(visitor.page, 'drop-nojs', 'nojs@example.com');
  assert.equal(await visitor.page.locator('[data-place]').textContent(), '1');
  assert.equal(await visitor.page.locator('[data-position]').textContent(), '2');
  assert.equal(await visitor.page.locator('noscript').first().innerHTML(), '<meta http-equiv="refresh" content="5">');
  await shot(visitor.page, '43-line-no-js');
  // The early bird buys the last unit; the page's own reload shows it sold out.
  await shop.order({ userId: 'early-nojs', productId: 'drop-nojs', queueTicket: early.ticket });
  await visitor.page.getByRole('heading', { name: 'Plain Drop is sold out' }).waitFor({ timeout: 20000 });
  assert.deepEqual(visitor.errors, []);
  await visitor.context.close();
});
