// The original projects' front ends, served from a second loopback origin, against the real
// binary: a page making the Flash Sale Handler React app's calls (its products list and order
// form, as axios sends them) plus CORS calls to /api, and a WAN Pizza order form posting
// across sites. A third origin, not in --cors-allow-origins, is refused by the browser.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WIDTHS, openPage, shot, startBrowser, startShop } from './harness.js';

let shop;
let chrome;
let site; // the other origin's static server
let stranger; // the same pages from an origin the shop does not allow

// The React app's calls, written plainly: GET {API}/products, then POST {API}/orders with
// {userId, productId, quantity} as JSON, showing `response.data.orderId`.
const reactPage = (api, base) => `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Flash Sale</title>
<h1>Flash Sale E-Commerce</h1><ul id="products"></ul><p id="message" role="status"></p><p id="api"></p>
<script>
const API_URL = ${JSON.stringify(api)};
const BASE = ${JSON.stringify(base)};
async function load() {
  try {
    const data = await (await fetch(API_URL + '/products')).json();
    document.getElementById('products').innerHTML = data.products
      .map((p) => '<li data-id="' + p.productId + '">' + p.name + ' ₹' + p.price + ' (' + p.inStock + ' in stock)</li>').join('');
    document.body.dataset.count = data.count;
  } catch (e) {
    document.getElementById('message').textContent = 'Blocked: ' + e.message;
  }
}
async function buy() {
  const res = await fetch(API_URL + '/orders', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId: 'user123', productId: 'margherita', quantity: 2 }) });
  const data = await res.json();
  document.getElementById('message').textContent = 'Order placed! ID: ' + data.orderId + ' total ' + data.totalAmount;
  // The same shop's own API, cross-origin: an idempotent order (a preflight for the key), the
  // exposed Location header, then reading the compat order back.
  const api = await fetch(BASE + '/api/orders', { method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'browser-1' },
    body: JSON.stringify({ userId: 'user123', productId: 'cola', quantity: 1 }) });
  const order = await (await fetch(BASE + '/api/orders/' + data.orderId)).json();
  document.getElementById('api').textContent = api.status + ' ' + api.headers.get('Location') + ' ' + order.status + ' ' + order.items[0].quantity;
}
load();
</script><button onclick="buy()">Buy Now</button>`;

// A WAN Pizza order form with the original's field names, posting to the shop.
const pizzaPage = (action) => `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>WAN Pizza Store</title>
<h1>Welcome to the WAN Pizza Store</h1>
<form action="${action}" method="POST">
  <input type="hidden" name="pizza_type" value="Margherita">
  <label>Quantity <input type="number" name="quantity" min="1" value="1" required></label>
  <label>Name <input type="text" name="customer_name" required></label>
  <label>Email <input type="email" name="customer_email" required></label>
  <button type="submit">Order Now</button>
</form>`;

function listen(host, pages) {
  const server = createServer((req, res) => {
    const page = pages[req.url];
    res.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page ? page() : 'not here');
  });
  return new Promise((ok) => server.listen(0, host, () => ok({ server, origin: `http://${host}:${server.address().port}` })));
}

before(async () => {
  const pages = {};
  site = await listen('127.0.0.1', pages);
  stranger = await listen('127.0.0.2', pages);
  shop = await startShop({ args: ['--cors-allow-origins', site.origin] });
  pages['/react.html'] = () => reactPage(`${shop.base}/compat/serverless-ecommerce`, shop.base);
  pages['/order.html'] = () => pizzaPage(`${shop.base}/compat/wan-pizza/order`);
  chrome = await startBrowser();
});

after(async () => {
  await chrome?.close();
  site?.server.close();
  stranger?.server.close();
  if (shop) assert.equal(await shop.stop(), 0, 'the server shuts down cleanly with SIGTERM');
});

describe('the original front ends from another origin', () => {
  test('the Flash Sale app lists products and orders through the compat API, then reads /api with CORS', async () => {
    const visitor = await openPage(chrome.browser, WIDTHS.desktop);
    const { page } = visitor;
    await page.goto(site.origin + '/react.html');
    await page.locator('li[data-id="margherita"]').waitFor();
    assert.equal(await page.locator('li[data-id="margherita"]').textContent(), 'Margherita ₹11 (500 in stock)');
    assert.equal(await page.locator('body').getAttribute('data-count'), '13');
    await page.getByRole('button', { name: 'Buy Now' }).click();
    await page.getByText(/^Order placed! ID: [0-9a-f-]{36} total 22$/).waitFor();
    await page.getByText(/^201 \/api\/orders\/[0-9a-f-]{36} received 2$/).waitFor();
    const id = (await page.locator('#message').textContent()).split(' ')[3];
    const order = await shop.json(`/api/orders/${id}`);
    assert.equal(order.customer.id, 'user:user123');
    assert.equal(order.total.amount, 2200);
    await shot(page, '50-compat-react');
    assert.deepEqual(visitor.errors, []);
    await visitor.context.close();
  });

  test('a page from an origin that is not allowed cannot read the API', async () => {
    const visitor = await openPage(chrome.browser, WIDTHS.desktop, { allow: ['CORS policy', 'Failed to load resource'] });
    const { page } = visitor;
    await page.goto(stranger.origin + '/react.html');
    await page.getByText(/^Blocked: /).waitFor();
    assert.equal(await page.locator('li').count(), 0);
    assert.deepEqual(visitor.errors, []);
    await visitor.context.close();
  });

  for (const [device, width] of Object.entries(WIDTHS)) {
    test(`the WAN Pizza form places an order and shows the confirmation (${device})`, async () => {
      const visitor = await openPage(chrome.browser, width);
      const { page } = visitor;
      await page.goto(site.origin + '/order.html');
      await page.getByLabel('Quantity').fill('3');
      await page.getByLabel('Name').fill(`Wan ${device}`);
      await page.getByLabel('Email').fill(`wan-${device}@example.com`);
      await page.getByRole('button', { name: 'Order Now' }).click();
      await page.waitForURL(shop.base + '/compat/wan-pizza/order');
      await page.getByRole('heading', { name: /^Order #[0-9A-F]{8}$/ }).waitFor();
      await page.getByText(`Thank you, Wan ${device}! Your order is in.`).waitFor();
      assert.match(await page.locator('.mini').textContent(), /3 × Margherita/);
      await shot(page, '51-compat-wan-pizza');
      await page.getByRole('link', { name: 'Follow your order' }).click();
      await page.waitForURL(/\/orders\/[0-9a-f-]+$/);
      const orders = await shop.json(`/api/customers/wan-${device}@example.com/orders`);
      assert.equal(orders.orders.length, 1);
      assert.equal(orders.orders[0].items[0].quantity, 3);
      assert.deepEqual(visitor.errors, []);
      await visitor.context.close();
    });
  }
});
