// The shop's time zone: the owner types and reads sale windows in the shop's zone (here
// Europe/Berlin), storage stays UTC, a visitor elsewhere sees the time in their own zone, and
// a page read without JavaScript names the shop's zone. A time the clocks skip is refused
// next to its field.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WIDTHS, chrome, openPage, shop, shot, useShopAndBrowser } from './harness.js';

const PASSWORD = 'e2e zone passphrase';
useShopAndBrowser({
  args: ['--shop-timezone', 'Europe/Berlin'],
  setup: (shop) => {
    shop.createUser('owner@example.com', 'admin', PASSWORD);
  },
});

// Far enough ahead to stay in the future; a winter date, so Berlin is on CET (UTC+1).
const YEAR = new Date().getUTCFullYear() + 1;

for (const [device, width] of Object.entries(WIDTHS)) {
  describe(`time zones on a ${device} (${width} px)`, () => {
    test('the owner types Berlin time; a New York visitor sees New York time; no-JS names the zone', async () => {
      const owner = await openPage(chrome.browser, width, { timezoneId: 'Asia/Tokyo' });
      const { page } = owner;
      await page.goto(shop.base + '/sign-in?next=%2Fadmin%2Fproducts%2Fgolden-slice');
      await page.getByLabel('Email').fill('owner@example.com');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: /^Edit / }).waitFor();
      assert.match(await page.locator('#f-sale_starts').locator('xpath=..').textContent(), /Europe\/Berlin time/);

      // 02:30 on the last Sunday of March does not exist in Berlin.
      const march = new Date(Date.UTC(YEAR, 2, 31));
      const lastSunday = 31 - march.getUTCDay();
      owner.expect('status of 422');
      await page.locator('#f-sale_starts').fill(`${YEAR}-03-${lastSunday}T02:30`);
      await page.locator('#f-sale_ends').fill('');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.locator('#e-sale_starts').waitFor();
      assert.match(await page.locator('#e-sale_starts').textContent(), /does not exist in Europe\/Berlin: the clocks go forward/);
      await shot(page, '40-product-form-dst-error');

      await page.locator('#f-sale_starts').fill(`${YEAR}-12-01T19:00`);
      await page.locator('#f-sale_ends').fill(`${YEAR}-12-01T21:00`);
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Changes saved.').waitFor();
      assert.equal(await page.locator('#f-sale_starts').inputValue(), `${YEAR}-12-01T19:00`, 'shown back in Berlin time');
      const stored = await shop.json('/api/products/golden-slice');
      assert.equal(stored.sale.startsAt, `${YEAR}-12-01T18:00:00Z`, 'stored in UTC');
      await shot(page, '41-product-form-zone');
      assert.deepEqual(owner.errors, []);
      assert.deepEqual(owner.expected, []);
      await owner.context.close();

      const visitor = await openPage(chrome.browser, width, { timezoneId: 'America/New_York', locale: 'en-US' });
      await visitor.page.goto(shop.base + '/products/golden-slice');
      const when = visitor.page.locator('.countdown .when time');
      await visitor.page.waitForFunction(() => !/CET/.test(document.querySelector('.countdown .when time').textContent));
      assert.match(await when.textContent(), /Dec 1, \d{4}, 1:00\s?PM EST/, '19:00 in Berlin is 1 PM in New York');
      await shot(visitor.page, '42-sale-time-visitor-zone');
      assert.deepEqual(visitor.errors, []);
      await visitor.context.close();

      const plain = await openPage(chrome.browser, width, { javaScriptEnabled: false });
      await plain.page.goto(shop.base + '/products/golden-slice');
      assert.match(await plain.page.locator('.countdown .when').textContent(), new RegExp(`\\w{3} 1 Dec ${YEAR}, 19:00 CET`));
      await shot(plain.page, '43-sale-time-shop-zone-nojs');
      await plain.context.close();
    });
  });
}
