// The staff dashboard in a real browser: signing in (and being refused), the order list
// updating live when an order arrives, advancing an order through the workflow with and
// without JavaScript, editing a product with a mistake shown next to its field, adjusting
// stock with a reason, the audit log, the kitchen's list with options and addresses,
// cancelling with a confirmation (script or page), and kitchen staff seeing orders only. Screenshots of
// every dashboard page at phone and desktop width go to artifacts/screenshots/.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { STAFF_PASSWORD as PASSWORD, WIDTHS, chrome, openPage, shop, shot, signIn, useShopAndBrowser } from './harness.js';

// Many staff sign-ins from one address in a minute: more than the default limit allows.
useShopAndBrowser({
  args: ['--login-attempts-per-minute', '0'],
  setup: (shop) => {
    shop.createUser('boss@example.com', 'admin', PASSWORD);
    shop.createUser('cook@example.com', 'kitchen', PASSWORD);
  },
});

const pickup = (email, productId, quantity = 1) => ({
  customer: { email, name: 'Dana' }, items: [{ productId, quantity }], fulfilment: { type: 'pickup' },
});

for (const [device, width] of Object.entries(WIDTHS)) {
  describe(`dashboard on a ${device} (${width} px)`, () => {
    test('sign in, see a new order arrive live, advance it to completed', async () => {
      const staff = await openPage(chrome.browser, width);
      const { page } = staff;
      await page.goto(shop.base + '/admin/orders');
      await page.waitForURL(/\/sign-in\?next=%2Fadmin%2Forders$/);
      await shot(page, '20-sign-in');
      staff.expect('status of 401');
      await signIn(page, 'boss@example.com', 'not the password');
      await page.getByText('That email and password do not match an account.').waitFor();
      await shot(page, '21-sign-in-refused');
      await signIn(page, 'boss@example.com');
      await page.waitForURL(/\/admin\/orders$/);
      await page.getByRole('heading', { name: 'Orders' }).waitFor();
      await page.getByText('Live: new orders appear here as they arrive.').waitFor();

      // An order placed elsewhere shows up without a reload.
      const order = await shop.order(pickup(`dana-${device}@example.com`, 'cola', 2));
      const row = page.locator(`tr[data-order-id="${order.id}"]`);
      await row.waitFor({ timeout: 10000 });
      assert.match(await row.textContent(), /Received/);
      await page.getByText(/1 new order just arrived\./).waitFor();
      await shot(page, '22-orders-live');

      await row.getByRole('link').click();
      await page.getByRole('heading', { name: /Order #/ }).waitFor();
      // A change made elsewhere (here through the admin API) is flagged on the open page.
      const other = await shop.order(pickup(`other-${device}@example.com`, 'cola'));
      await page.goto(`${shop.base}/admin/orders/${other.id}`);
      await page.locator('[data-order-changed][data-live]').waitFor({ state: 'attached' }); // the stream is open
      assert.equal(await page.getByText('This order was changed by someone else.').isVisible(), false);
      await shop.admin(`/api/admin/orders/${other.id}/status`, { status: 'preparing' });
      await page.getByText('This order was changed by someone else.').waitFor();
      await page.goto(`${shop.base}/admin/orders/${order.id}`);
      assert.equal(await page.getByRole('button', { name: 'Send out for delivery' }).count(), 0, 'a pickup order is not delivered');
      await shot(page, '23-order-detail');
      for (const [button, status] of [['Start preparing', 'Preparing'], ['Mark ready for pickup', 'Ready'], ['Mark completed', 'Completed']]) {
        await page.getByRole('button', { name: button }).click();
        await page.getByText(`Order is now ${status.toLowerCase()}.`).waitFor();
        assert.equal(await page.locator('[data-status]').textContent(), status);
      }
      await shot(page, '24-order-completed');
      const after = await shop.json(`/api/orders/${order.id}`);
      assert.equal(after.status, 'completed');

      // The customer's status page follows.
      const customer = await openPage(chrome.browser, width);
      await customer.page.goto(`${shop.base}/orders/${order.id}`);
      await customer.page.getByText('Completed', { exact: false }).first().waitFor();
      await customer.context.close();

      await page.goto(shop.base + '/admin/orders?status=completed');
      await page.locator(`tr[data-order-id="${order.id}"]`).waitFor();
      assert.deepEqual(staff.errors, []);
      assert.deepEqual(staff.expected, []);
      await staff.context.close();
    });

    test('edit a product: a mistake is shown next to its field, then saved; stock adjusted with a reason', async () => {
      const staff = await openPage(chrome.browser, width);
      const { page } = staff;
      await page.goto(shop.base + '/sign-in');
      await signIn(page, 'boss@example.com');
      await page.getByRole('link', { name: 'Products' }).click();
      await page.getByRole('heading', { name: 'Products' }).waitFor();
      await shot(page, '25-products');
      await page.getByRole('link', { name: 'Margherita' }).click();
      await page.getByRole('heading', { name: 'Edit Margherita' }).waitFor();
      await shot(page, '26-product-edit');

      staff.expect('status of 422');
      await page.locator('#f-price').fill('eleven');
      await page.getByRole('button', { name: 'Save changes' }).click();
      const priceError = page.locator('#e-price');
      await priceError.waitFor();
      assert.equal(await priceError.textContent(), 'Enter an amount such as 12.50.');
      assert.equal(await page.locator('#f-price').getAttribute('aria-invalid'), 'true');
      await shot(page, '27-product-error');

      const price = device === 'phone' ? '12.25' : '12.75';
      await page.locator('#f-price').fill(price);
      await page.getByLabel('Per-customer limit').fill('4');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Changes saved.').waitFor();
      const product = await shop.json('/api/products/margherita');
      assert.equal(product.price.amount, Math.round(Number(price) * 100));
      assert.equal(product.sale.perCustomerMax, 4);

      const before = product.stock;
      await page.getByLabel('Change by').fill('+7');
      await page.getByLabel('Reason').fill(`delivery for the ${device} test`);
      await page.getByRole('button', { name: 'Adjust stock' }).click();
      await page.getByText('Stock adjusted.').waitFor();
      assert.equal((await shop.json('/api/products/margherita')).stock, before + 7);

      const shopper = await openPage(chrome.browser, width);
      await shopper.page.goto(shop.base + '/products/margherita');
      await shopper.page.getByText(`$${price}`).first().waitFor();
      await shopper.context.close();

      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByText(`delivery for the ${device} test`).waitFor();
      await shot(page, '28-audit-log');
      await page.getByRole('link', { name: 'Staff' }).click();
      await page.getByRole('cell', { name: 'cook@example.com', exact: true }).waitFor();
      await shot(page, '28-staff');
      assert.deepEqual(staff.errors, []);
      assert.deepEqual(staff.expected, []);
      await staff.context.close();
    });

    test('sales analytics: the admin sees today\'s orders charted and downloads them as CSV', async () => {
      const staff = await openPage(chrome.browser, width);
      const { page } = staff;
      await page.goto(shop.base + '/sign-in');
      await signIn(page, 'boss@example.com');
      await page.getByRole('link', { name: 'Analytics' }).click();
      await page.getByRole('heading', { name: 'Sales analytics' }).waitFor();
      await page.getByRole('link', { name: 'Last 24 hours' }).click();
      await page.waitForURL(/range=24h/);
      // The orders placed by the tests above are in the last hour's bar.
      const chart = page.locator('svg[role="img"]').first();
      await chart.waitFor();
      const tallest = await chart.locator('rect').evaluateAll((bars) => Math.max(0, ...bars.map((b) => b.getBoundingClientRect().height)));
      assert.ok(tallest > 0, 'the revenue chart has a bar for this hour');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the page does not scroll sideways (${overflow} px)`);
      await shot(page, '32-analytics');
      const csv = await page.getByRole('link', { name: /CSV/ }).getAttribute('href');
      const answer = await page.request.get(shop.base + csv);
      assert.equal(answer.status(), 200);
      assert.match(answer.headers()['content-type'], /^text\/csv/);
      assert.match(await answer.text(), /^order_id,placed_at,status,/);
      assert.deepEqual(staff.errors, []);
      await staff.context.close();
    });

    test('the kitchen list shows options and addresses; cancelling asks first and is for admins', async () => {
      const delivery = (email) => ({
        customer: { email, name: 'Eli' },
        items: [{ productId: 'margherita', quantity: 1, options: { size: 'large', toppings: ['basil'] } }],
        fulfilment: { type: 'delivery', address: '7 Harbour Road', city: 'Springfield', postcode: '12345', phone: '555 0100' },
      });
      const first = await shop.order(delivery(`eli-${device}@example.com`));
      const second = await shop.order(delivery(`eli2-${device}@example.com`));
      const admin = await openPage(chrome.browser, width);
      const { page } = admin;
      await page.goto(shop.base + '/sign-in?next=%2Fadmin%2Forders');
      await signIn(page, 'boss@example.com');
      const row = page.locator(`tr[data-order-id="${first.id}"]`);
      await row.waitFor();
      assert.match(await row.textContent(), /1 × Margherita\s*Large 35 cm.*Fresh basil/s);
      assert.match(await row.textContent(), /Delivery to\s*7 Harbour Road, 12345 Springfield/);
      assert.ok(await row.getByText('7 Harbour Road').isVisible(), 'the address shows on a phone too');
      await shot(page, '34-orders-kitchen-list');

      // With JavaScript: a confirm() first; saying no changes nothing.
      await page.goto(`${shop.base}/admin/orders/${first.id}`);
      const cancel = page.getByRole('button', { name: 'Cancel order…' });
      await shot(page, '35-order-cancel-apart');
      let asked = '';
      page.once('dialog', (d) => { asked = d.message(); d.dismiss(); });
      await cancel.click();
      assert.match(asked, /^Cancel order #[0-9A-F]{8}\? The stock goes back on sale/);
      assert.equal((await shop.json(`/api/orders/${first.id}`)).status, 'received');
      page.once('dialog', (d) => d.accept());
      await cancel.click();
      await page.getByText('Order is now cancelled.').waitFor();
      assert.equal((await shop.json(`/api/orders/${first.id}`)).status, 'cancelled');
      await page.getByRole('link', { name: 'Audit log' }).click();
      const number = first.id.replace(/-/g, '').slice(-8).toUpperCase();
      const entry = page.locator('tr', { hasText: `#${number}` }).first();
      assert.match(await entry.textContent(), /Order status changed.*Received → Cancelled/s);
      await shot(page, '36-audit-readable');
      assert.deepEqual(admin.errors, []);
      await admin.context.close();

      // Without JavaScript: a confirmation page.
      const plain = await openPage(chrome.browser, width, { javaScriptEnabled: false });
      await plain.page.goto(shop.base + '/sign-in?next=%2Fadmin%2Forders');
      await signIn(plain.page, 'boss@example.com');
      await plain.page.goto(`${shop.base}/admin/orders/${second.id}`);
      await plain.page.getByRole('button', { name: 'Cancel order…' }).click();
      await plain.page.getByRole('heading', { name: /^Cancel order #[0-9A-F]{8}\?$/ }).waitFor();
      assert.equal((await shop.json(`/api/orders/${second.id}`)).status, 'received', 'asking changes nothing');
      await shot(plain.page, '37-cancel-confirm-nojs');
      await plain.page.getByRole('button', { name: /^Yes, cancel order/ }).click();
      await plain.page.getByText('Order is now cancelled.').waitFor();
      await plain.context.close();

      // The kitchen is told cancelling is for admins.
      const third = await shop.order(delivery(`eli3-${device}@example.com`));
      const cook = await openPage(chrome.browser, width);
      await cook.page.goto(shop.base + '/sign-in?next=%2Fadmin%2Forders');
      await signIn(cook.page, 'cook@example.com');
      await cook.page.goto(`${shop.base}/admin/orders/${third.id}`);
      await cook.page.getByText('Only an admin can cancel orders.').waitFor();
      assert.equal(await cook.page.getByRole('button', { name: 'Cancel order…' }).count(), 0);
      await shot(cook.page, '38-kitchen-cannot-cancel');
      await cook.context.close();
    });

    test('an admin removes a staff account after confirming; the last admin has no Remove button', async () => {
      const leaving = `leaving-${device}@example.com`;
      shop.createUser(leaving, 'kitchen', PASSWORD);
      const admin = await openPage(chrome.browser, width);
      const { page } = admin;
      await page.goto(shop.base + '/sign-in?next=%2Fadmin%2Fstaff');
      await signIn(page, 'boss@example.com');
      const remove = page.getByRole('button', { name: `Remove… ${leaving}` });
      await page.locator(`tr[data-staff="${leaving}"] summary`).click();
      await remove.waitFor();
      assert.equal(await page.getByRole('button', { name: 'Remove… boss@example.com' }).count(), 0, 'not yourself, not the last admin');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the staff page does not scroll sideways (${overflow} px)`);
      await shot(page, '39-staff-remove');
      let asked = '';
      page.once('dialog', (d) => { asked = d.message(); d.accept(); });
      await remove.click();
      await page.getByText(`Removed ${leaving}; they are signed out.`).waitFor();
      assert.match(asked, /^Remove leaving-.*\? The account is deleted and signed out everywhere\.$/);
      assert.equal(await page.getByRole('cell', { name: leaving, exact: true }).count(), 0);
      assert.deepEqual(admin.errors, []);
      await admin.context.close();
    });

    test('kitchen staff see orders only; without JavaScript an order still advances', async () => {
      const order = await shop.order(pickup(`kit-${device}@example.com`, 'lemonade'));
      const cook = await openPage(chrome.browser, width, { javaScriptEnabled: false });
      const { page } = cook;
      await page.goto(shop.base + '/sign-in?next=%2Fadmin%2Forders');
      await signIn(page, 'cook@example.com');
      await page.waitForURL(/\/admin\/orders$/);
      assert.equal(await page.getByRole('link', { name: 'Products' }).count(), 0);
      await page.locator(`tr[data-order-id="${order.id}"] a`).click();
      await page.getByRole('button', { name: 'Start preparing' }).click();
      await page.getByText('Order is now preparing.').waitFor();
      assert.equal((await shop.json(`/api/orders/${order.id}`)).status, 'preparing');
      await shot(page, '29-kitchen-no-js');
      cook.expect('status of 403');
      const refused = await page.goto(shop.base + '/admin/products');
      assert.equal(refused.status(), 403);
      cook.expect('status of 403');
      assert.equal((await page.goto(shop.base + '/admin/analytics')).status(), 403, 'sales figures are for admins');
      await page.getByText('This page is not for your account').waitFor();
      assert.deepEqual(cook.errors, []);
      assert.deepEqual(cook.expected, []);
      await cook.context.close();
    });
  });
}
