// Parked notifications in the dashboard, in a real browser: a webhook that refuses
// everything parks each order's event after its one attempt; an admin sees them with why
// they failed, puts one back, then all of them. Screenshots at phone and desktop width.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { STAFF_PASSWORD as PASSWORD, WIDTHS, chrome, openPage, shop, shot, signIn, useShopAndBrowser } from './harness.js';

// Port 9 (discard) is closed here: every delivery fails at once and, after one attempt, parks.
useShopAndBrowser({
  args: ['--login-attempts-per-minute', '0', '--webhook-urls', 'http://127.0.0.1:9/hook', '--webhook-secret', 'e2e-secret',
    '--notify-max-attempts', '1'],
  setup: (shop) => shop.createUser('boss@example.com', 'admin', PASSWORD),
});

const pickup = (email) => ({ customer: { email, name: 'Dana' }, items: [{ productId: 'cola', quantity: 1 }], fulfilment: { type: 'pickup' } });

async function counts() {
  return (await shop.json('/api/admin/outbox?state=failed')).counts;
}

async function until(what, check) {
  const deadline = Date.now() + 15000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const [device, width] of Object.entries(WIDTHS)) {
  describe(`notifications on a ${device} (${width} px)`, () => {
    test('parked notifications are shown with their error and put back', async () => {
      // Events an earlier test put back go out, fail and park again first.
      await until('nothing pending', async () => (await counts()).pending === 0);
      const before = (await counts()).failed;
      for (const who of ['ana', 'bo', 'cy']) await shop.order(pickup(`${who}-${device}@example.com`));
      await until('three more parked', async () => (await counts()).failed === before + 3);
      const staff = await openPage(chrome.browser, width);
      const { page } = staff;
      await page.goto(shop.base + '/sign-in?next=%2Fadmin%2Fnotifications');
      await signIn(page, 'boss@example.com');
      await page.waitForURL(/\/admin\/notifications$/);
      await page.getByRole('heading', { name: 'Notifications' }).waitFor();
      assert.equal(await page.locator('[data-count="failed"]').textContent(), String(before + 3));
      const rows = page.locator('tr[data-event]');
      assert.equal(await rows.count(), before + 3);
      assert.match(await rows.first().textContent(), /Order received[\s\S]*webhook/, 'what it was, and which receiver refused it');
      await shot(page, '60-notifications-parked');

      await rows.first().getByRole('button', { name: /Put back/ }).click();
      await page.getByText('Put 1 notification back in the queue').waitFor();
      // The webhook is still down: the event goes out, fails once more and parks again.
      await until('the one put back to park again', async () => (await counts()).failed === before + 3);
      await page.reload();
      // One press puts back each event parked before it once, though each parks again at once.
      await page.getByRole('button', { name: `Put all back (${before + 3})` }).click();
      await page.getByRole('status').filter({ hasText: `Put ${before + 3} notifications back in the queue` }).waitFor();
      await shot(page, '61-notifications-put-back');
      await until('all to park again', async () => (await counts()).failed === before + 3);
      assert.deepEqual(staff.errors, []);
      await staff.context.close();
    });
  });
}
