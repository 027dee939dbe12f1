// The whole storefront in a real browser: browse, build a pizza, cart, checkout with a
// double click, confirmation, live order status, my orders, live stock on a second page,
// selling out live, a network failure at checkout, and the whole flow without JavaScript.
// Every page is screenshotted at phone and desktop width into artifacts/screenshots/.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WIDTHS, chrome, mailedLink, openPage, shop, shot, useShopAndBrowser } from './harness.js';

useShopAndBrowser();

const topping = (page, name) => page.locator('label.choice', { hasText: name }).locator('input');
const badge = (page, id) => page.locator(`.card [data-stock-for="${id}"]`).first();
const leftCount = async (page, id) => Number((await badge(page, id).textContent()).match(/(\d+) left/)[1]);

for (const [device, width] of Object.entries(WIDTHS)) {
  describe(`storefront on a ${device} (${width} px)`, () => {
    test('browse, build a pizza, check out once with a double click, follow the order', async () => {
      const email = `ana-${device}@example.com`;
      const buyer = await openPage(chrome.browser, width);
      const watcher = await openPage(chrome.browser, width);
      const { page } = buyer;

      await watcher.page.goto(shop.base + '/');
      const truffleBefore = await leftCount(watcher.page, 'midnight-truffle');

      await page.goto(shop.base + '/');
      await assert.doesNotReject(page.getByRole('heading', { name: 'Flash-sale deals' }).waitFor());
      await page.getByRole('heading', { name: 'Pizzas' }).waitFor();
      assert.ok(await page.getByRole('img', { name: 'Illustration of Margherita' }).isVisible());
      await page.locator('time[data-countdown]').first().waitFor();
      assert.match(await page.locator('time[data-countdown]').first().textContent(), /^in \d+:\d\d:\d\d$/, 'the sale countdown ticks');
      await shot(page, '01-menu');

      // The builder: the price follows the options; toppings stop at the limit.
      await page.getByRole('link', { name: 'Customise Margherita' }).click();
      await page.getByRole('heading', { name: 'Margherita', level: 1 }).waitFor();
      const price = page.locator('[data-unit-price]');
      assert.equal(await price.textContent(), '$11.00');
      await page.getByLabel('Large 35 cm').check();
      assert.equal(await price.textContent(), '$15.00');
      await page.getByLabel('Thin & crispy').check();
      for (const t of ['Extra mozzarella', 'Mushrooms', 'Black olives', 'Pepperoni', 'Fresh basil']) await topping(page, t).check();
      assert.ok(await topping(page, 'Ham').isDisabled(), 'a sixth topping cannot be ticked');
      for (const t of ['Extra mozzarella', 'Mushrooms', 'Pepperoni']) await topping(page, t).uncheck();
      assert.ok(await topping(page, 'Ham').isEnabled());
      assert.equal(await price.textContent(), '$16.50'); // 11 + 4 large + 1 olives + 0.50 basil
      await page.getByLabel('Quantity').fill('2');
      await shot(page, '02-builder');
      await page.getByRole('button', { name: 'Add to cart' }).click();

      // The cart survives a reload (it lives in a cookie) and is priced by the server.
      await page.waitForURL(/\/cart/);
      await page.getByText('Added Margherita to your cart.').waitFor();
      await page.reload();
      assert.match(await page.locator('.line').first().textContent(), /Large 35 cm · Thin & crispy · Black olives, Fresh basil/);
      await page.goto(shop.base + '/');
      await page.locator('button[data-buy-for="midnight-truffle"]').click();
      await page.waitForURL(/\/cart/);
      await page.goto(shop.base + '/');
      await page.locator('button[data-buy-for="cola"]').click();
      await page.waitForURL(/\/cart/);
      await page.getByRole('button', { name: 'Remove Cola' }).click();
      await page.waitForURL(/\/cart$/);
      assert.equal(await page.locator('.line').count(), 2);
      const truffleLine = page.locator('.line', { hasText: 'Midnight Truffle Pizza' });
      await truffleLine.getByLabel('Quantity').fill('2');
      await truffleLine.getByRole('button', { name: 'Update' }).click();
      await page.waitForURL(/\/cart$/);
      assert.equal(await page.locator('.total strong').textContent(), '$71.00'); // 2 × 16.50 + 2 × 19.00
      await shot(page, '03-cart');

      // Checkout: errors next to the fields, then a double click places one order.
      await page.getByRole('link', { name: 'Go to checkout' }).click();
      assert.ok(await page.getByLabel('Street and number').isHidden(), 'the address waits for "delivery"');
      await page.getByLabel('Email').fill('not-an-email');
      await page.getByLabel('Delivery to my address').check();
      buyer.expect('status of 422'); // the script's form post, answered with what to fix
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.getByText('Enter your name, so we know who the order is for.').waitFor();
      await page.getByText('Enter an email address like name@example.com.').waitFor();
      await page.getByText('Enter the street and number.').waitFor();
      assert.equal(await page.getByLabel('Name').getAttribute('aria-invalid'), 'true');
      await shot(page, '04-checkout-errors');
      await page.getByLabel('Name').fill('Ana');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Street and number').fill('1 Main St');
      await page.getByLabel('City').fill('Springfield');
      await page.getByLabel('Postcode').fill('12345');
      await page.getByLabel('Phone').fill('555 0100');
      await page.getByRole('button', { name: /Place order/ }).dblclick();

      await page.waitForURL(/\/orders\/[0-9a-f-]+\?placed=1/);
      await page.getByText('Thank you, Ana! Your order is in.').waitFor();
      assert.match(await page.getByRole('heading', { level: 1 }).textContent(), /^Order #[0-9A-F]{8}$/);
      assert.equal(await page.locator('[data-status-label]').textContent(), 'Order received');
      assert.equal(await page.locator('.summary .total strong').textContent(), '$71.00');
      await page.getByText('1 Main St').waitFor();
      await shot(page, '05-confirmation');
      assert.equal(await page.locator('header .count').textContent(), '0 items', 'the cart is emptied');

      const orders = (await shop.json(`/api/customers/${email}/orders`)).orders;
      assert.equal(orders.length, 1, 'a double click places one order');
      assert.deepEqual(orders[0].fulfilment, { type: 'delivery', address: '1 Main St', city: 'Springfield', postcode: '12345', phone: '555 0100' });

      // Live stock: the other open page sees the truffles go, without reloading.
      await badge(watcher.page, 'midnight-truffle').filter({ hasText: `${truffleBefore - 2} left` }).waitFor();

      // The status page follows the kitchen.
      await shop.admin(`/api/admin/orders/${orders[0].id}/status`, { status: 'preparing' });
      await page.locator('[data-status-label]', { hasText: 'In the oven' }).waitFor();
      await shop.admin(`/api/admin/orders/${orders[0].id}/status`, { status: 'out_for_delivery' });
      await page.locator('[data-status-label]', { hasText: 'Out for delivery' }).waitFor();
      assert.equal(await page.locator('[data-step="preparing"]').getAttribute('class'), 'done');
      await shot(page, '06-order-status');

      // Customer-only parts: this browser placed the order, so it may cancel it; a stranger may not.
      const stranger = await openPage(chrome.browser, width);
      await stranger.page.goto(page.url().replace('?placed=1', ''));
      await stranger.page.locator('[data-status-label]').waitFor();
      assert.equal(await stranger.page.getByText('1 Main St').count(), 0, 'no address for a stranger');
      assert.equal(await stranger.page.getByText('Cancel this order').count(), 0);
      await shot(stranger.page, '06b-order-as-stranger');
      await stranger.context.close();

      // My orders as a guest: the shop emails a link; the dev mailbox shows it.
      await page.getByRole('link', { name: 'All my orders' }).click();
      await page.getByLabel('Email used at checkout').fill(email);
      await page.getByRole('button', { name: 'Email me a link' }).click();
      await page.getByText('Check your inbox').waitFor();
      await shot(page, '07-my-orders-sent');
      const link = await mailedLink(shop.base, email, 'Your orders');
      await page.goto(link);
      await page.getByRole('button', { name: 'Show my orders' }).click();
      await page.getByRole('link', { name: /Order #/ }).waitFor();
      assert.match(await page.locator('.order-row').textContent(), /2 × Margherita, 2 × Midnight Truffle Pizza/);
      await shot(page, '07-my-orders');

      await page.goto(shop.base + '/products/golden-slice');
      assert.ok(await page.getByRole('button', { name: 'Opens soon' }).isDisabled());
      await shot(page, '08-sale-not-open');
      buyer.expect('status of 404');
      await page.goto(shop.base + '/no-such-page');
      await page.getByRole('heading', { name: "We couldn't find that page" }).waitFor();
      await shot(page, '09-not-found');

      assert.deepEqual(buyer.errors, []);
      assert.deepEqual(buyer.expected, [], 'every expected console message came');
      assert.deepEqual(watcher.errors, []);
      await buyer.context.close();
      await watcher.context.close();
    });

    test('selling out disables the buy button live on another page', async () => {
      const id = `last-one-${device}`;
      await shop.admin('/api/admin/products', { id, name: `Last One ${device}`, category: 'flash-sale', price: { amount: 999, currency: 'USD' }, stock: 1 });
      const buyer = await openPage(chrome.browser, width);
      const watcher = await openPage(chrome.browser, width);
      await watcher.page.goto(`${shop.base}/products/${id}`);
      const button = watcher.page.getByRole('button', { name: 'Add to cart' });
      assert.ok(await button.isEnabled());

      const { page } = buyer;
      await page.goto(`${shop.base}/products/${id}`);
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.goto(shop.base + '/checkout');
      await page.getByLabel('Name').fill('Bo');
      await page.getByLabel('Email').fill(`bo-${device}@example.com`);
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.waitForURL(/\/orders\//);

      await watcher.page.getByRole('button', { name: 'Sold out' }).waitFor();
      assert.ok(await watcher.page.getByRole('button', { name: 'Sold out' }).isDisabled());
      assert.equal(await watcher.page.locator('[data-stock-for]').textContent(), 'Sold out');
      await shot(watcher.page, '10-sold-out-live');
      assert.deepEqual(buyer.errors, []);
      assert.deepEqual(watcher.errors, []);
      await buyer.context.close();
      await watcher.context.close();
    });

    test('a network failure at checkout says so, and the retry orders once', async () => {
      const email = `cy-${device}@example.com`;
      // The aborted request is the one console error this test expects.
      const buyer = await openPage(chrome.browser, width, { allow: ['net::ERR_FAILED'] });
      const { page } = buyer;
      await page.goto(shop.base + '/products/lemonade');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.goto(shop.base + '/checkout');
      await page.getByLabel('Name').fill('Cy');
      await page.getByLabel('Email').fill(email);
      let fail = true;
      await page.route('**/checkout', async (route) => {
        if (route.request().method() === 'POST' && fail) {
          fail = false;
          // The order reaches the server but the answer is lost, as on a flaky phone
          // connection. The answer's Set-Cookie (an emptied cart) is lost with it, so the
          // cookies Playwright's side-channel fetch changed are put back.
          const cookies = await buyer.context.cookies();
          await route.fetch({ maxRedirects: 0 });
          await buyer.context.clearCookies();
          await buyer.context.addCookies(cookies);
          return route.abort('failed');
        }
        return route.continue();
      });
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.getByText("We couldn't reach the shop").waitFor();
      await shot(page, '11-checkout-offline');
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.waitForURL(/\/orders\//);
      const orders = (await shop.json(`/api/customers/${email}/orders`)).orders;
      assert.equal(orders.length, 1, 'the retry replays the order the lost answer was for');
      assert.deepEqual(buyer.errors, []);
      await buyer.context.close();
    });

    test('the core flow works with JavaScript disabled', async () => {
      const email = `dee-${device}@example.com`;
      const buyer = await openPage(chrome.browser, width, { javaScriptEnabled: false });
      const { page } = buyer;
      await page.goto(shop.base + '/');
      await page.getByRole('link', { name: 'Customise Pepperoni' }).click();
      await page.getByLabel('Small 25 cm').check();
      for (const t of ['Ham', 'Mushrooms', 'Black olives', 'Pepperoni', 'Fresh basil', 'Pineapple']) await topping(page, t).check();
      buyer.expect('status of 422');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      // Without the script nothing stops a sixth topping: the server explains, and keeps the choices.
      await page.getByText('Extra toppings: choose at most 5, got 6').waitFor();
      assert.ok(await page.getByLabel('Small 25 cm').isChecked());
      await shot(page, '12-nojs-builder-error');
      await topping(page, 'Pineapple').uncheck();
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.waitForURL(/\/cart/);
      await shot(page, '13-nojs-cart');
      await page.getByRole('link', { name: 'Go to checkout' }).click();
      assert.ok(await page.getByLabel('Street and number').isVisible(), 'without the script the address fields stay visible');
      await page.getByLabel('Name').fill('Dee');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Delivery to my address').check();
      buyer.expect('status of 422');
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.getByText('Enter the street and number.').waitFor();
      await page.getByText('Enter a phone number, so the driver can call you.').waitFor();
      assert.equal(await page.getByLabel('Name').inputValue(), 'Dee', 'what was typed is kept');
      await page.getByLabel('Phone').fill('+44 20 7946 0958');
      await page.getByLabel('Street and number').fill('2 High St');
      await page.getByLabel('City').fill('Shelbyville');
      await page.getByLabel('Postcode').fill('AB1 2CD');
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.waitForURL(/\/orders\//);
      await page.getByText('Thank you, Dee! Your order is in.').waitFor();
      await shot(page, '14-nojs-confirmation');
      const orders = (await shop.json(`/api/customers/${email}/orders`)).orders;
      assert.equal(orders.length, 1);
      assert.equal(orders[0].total.amount, 1000 + 175 + 100 + 100 + 175 + 50); // small pepperoni + 5 toppings
      assert.deepEqual(buyer.errors, []);
      assert.deepEqual(buyer.expected, []);
      await buyer.context.close();
    });
  });
}
