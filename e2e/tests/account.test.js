// Customer accounts in a real browser: sign up (a mistake shown next to its field first),
// order while signed in, find the order on the account page, sign out. Screenshots of the
// account pages at phone and desktop width go to artifacts/screenshots/.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WIDTHS, chrome, mailedLink, openPage, shop, shot, useShopAndBrowser } from './harness.js';

useShopAndBrowser();

for (const [device, width] of Object.entries(WIDTHS)) {
  describe(`customer account on a ${device} (${width} px)`, () => {
    test('sign up, order while signed in, see it on the account page, sign out', async () => {
      const email = `eve-${device}@example.com`;
      const customer = await openPage(chrome.browser, width);
      const { page } = customer;
      await page.goto(shop.base + '/');
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByRole('heading', { name: 'Create an account' }).waitFor();
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Name').fill('Eve');
      await page.getByLabel('Password').fill('short');
      customer.expect('status of 422');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.locator('#password-error').waitFor();
      assert.equal(await page.locator('#password-error').textContent(), 'Use at least 10 characters.');
      assert.equal(await page.getByLabel('Email').inputValue(), email, 'the other fields are kept');
      await shot(page, '30-sign-up-error');
      await page.getByLabel('Password').fill('a long enough passphrase');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      await page.getByText('No orders yet.').waitFor();

      await page.goto(shop.base + '/products/cola');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.getByRole('link', { name: 'Go to checkout' }).click();
      assert.equal(await page.getByLabel('Email').inputValue(), email, 'checkout knows the account');
      await page.getByLabel('Pickup at the counter').check();
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.waitForURL(/\/orders\/[0-9a-f-]+\?placed=1$/);

      // Signed in, "My orders" is the account page; the header keeps to one line on a phone.
      await page.locator('header').getByRole('link', { name: 'My orders' }).click();
      const menu = await page.locator('header nav').getByRole('link', { name: 'Menu' }).boundingBox();
      const cart = await page.locator('header .cart-link').boundingBox();
      assert.ok(Math.abs(menu.y - cart.y) < 8, `the menu links stay on one line (${menu.y} vs ${cart.y})`);
      await page.getByRole('heading', { name: 'My orders' }).waitFor();
      await page.locator('.order-row').first().waitFor();
      assert.match(await page.locator('.order-row').first().textContent(), /Cola/);
      await page.getByText('Please confirm your email').waitFor();
      await shot(page, '31-account');

      // Confirming the email: the link arrives through the outbox in the dev mailbox.
      const link = await mailedLink(shop.base, email, 'Confirm your email');
      await page.goto(link);
      await page.getByRole('button', { name: 'Confirm my email' }).click();
      await page.getByText('Thank you: your email is confirmed.').waitFor();
      assert.equal(await page.getByText('Please confirm your email').count(), 0);
      await shot(page, '32-account-confirmed');

      await page.locator('main').getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('link', { name: 'Sign in' }).waitFor();
      assert.deepEqual(customer.errors, []);
      assert.deepEqual(customer.expected, []);
      await customer.context.close();
    });
  });
}
