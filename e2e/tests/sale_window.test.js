// Flash sales open and close on their own while the page is open: by the server's clock even
// when the visitor's clock is an hour slow, and without JavaScript through a timed reload.
// The tests wait for states (never for durations): a sale that opens a few seconds after the
// page loads must turn its button live without the visitor touching anything.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WIDTHS, chrome, openPage, shop, shot, useShopAndBrowser } from './harness.js';

useShopAndBrowser();

// Long enough for the page to load before the change, on a busy machine.
const LEAD_MS = 8000;
const HOUR_MS = 3600 * 1000;

async function product(id, name, sale) {
  await shop.admin('/api/admin/products', { id, name, category: 'flash-sale', price: { amount: 500, currency: 'USD' }, stock: 5, sale });
}

for (const [device, width] of Object.entries(WIDTHS)) {
  describe(`sale windows on a ${device} (${width} px)`, () => {
    test('a sale opens while the page is open, by the server clock, with the visitor clock an hour slow', async () => {
      const id = `opens-${device}`;
      await product(id, `Opening Deal ${device}`, { startsAt: new Date(Date.now() + LEAD_MS).toISOString() });
      const visitor = await openPage(chrome.browser, width);
      const { page, context } = visitor;
      // The visitor's clock runs an hour behind: by it, the sale would open an hour late.
      await context.clock.install({ time: Date.now() - HOUR_MS });
      await page.goto(`${shop.base}/products/${id}`);
      const article = page.locator('article.product');
      const button = page.locator(`button[data-buy-for="${id}"]`);
      assert.equal(await article.getAttribute('data-sale-state'), 'soon');
      assert.equal(await button.textContent(), 'Opens soon');
      assert.ok(await button.isDisabled());
      assert.match(await page.locator('time[data-countdown]').textContent(), /^in 0:00:0\d$/, 'counts down by the server clock');
      await shot(page, '30-sale-opens-soon');

      await page.locator('article.product[data-sale-state="open"]').waitFor({ timeout: LEAD_MS + 10000 });
      assert.ok(await button.isEnabled(), 'the button turned live without a reload');
      assert.equal(await button.textContent(), 'Add to cart');
      assert.equal(await page.locator('[data-sale-note]').textContent(), 'The sale is open.');
      await shot(page, '31-sale-opened-live');
      await button.click();
      await page.waitForURL(/\/cart/);
      await page.getByText(`Added Opening Deal ${device} to your cart.`).waitFor();
      assert.deepEqual(visitor.errors, []);
      await context.close();
    });

    test('a sale closes while the menu is open', async () => {
      const id = `closes-${device}`;
      await product(id, `Closing Deal ${device}`, { endsAt: new Date(Date.now() + LEAD_MS).toISOString() });
      const visitor = await openPage(chrome.browser, width);
      const { page, context } = visitor;
      await page.goto(shop.base + '/');
      const card = page.locator('li.card', { has: page.locator(`button[data-buy-for="${id}"]`) });
      const button = card.locator('button');
      assert.equal(await card.getAttribute('data-sale-state'), 'open');
      assert.ok(await button.isEnabled());
      await page.locator(`li.card[data-sale-state="ended"] button[data-buy-for="${id}"]`).waitFor({ timeout: LEAD_MS + 10000 });
      assert.ok(await button.isDisabled());
      assert.equal(await button.textContent(), 'Sale ended');
      assert.equal(await card.locator('[data-sale-note]').textContent(), 'This sale has ended.');
      await shot(page, '32-sale-closed-live');
      assert.deepEqual(visitor.errors, []);
      await context.close();
    });

    test('without JavaScript the page reloads itself when the sale opens', async () => {
      const id = `nojs-${device}`;
      await product(id, `Quiet Deal ${device}`, { startsAt: new Date(Date.now() + LEAD_MS).toISOString() });
      const visitor = await openPage(chrome.browser, width, { javaScriptEnabled: false });
      const { page, context } = visitor;
      await page.goto(`${shop.base}/products/${id}`);
      assert.ok(await page.getByRole('button', { name: 'Opens soon' }).isDisabled());
      assert.match(await page.locator('.countdown').textContent(), /Sale opens in 1 min \(.+ UTC\)/);
      await page.getByRole('button', { name: 'Add to cart' }).waitFor({ timeout: LEAD_MS + 10000 });
      assert.ok(await page.getByRole('button', { name: 'Add to cart' }).isEnabled());
      await shot(page, '33-sale-opened-nojs');
      await context.close();
    });
  });
}
