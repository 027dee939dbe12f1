// Ready for a real shop (#20) in a real browser: checkout with a phone and a pickup or
// delivery time chosen from the opening hours, the dashboard's option choices edited as
// rows, per-customer limits told before checkout, and staff accounts deactivated,
// reactivated and given a temporary password. Screenshots at phone and desktop width go to artifacts/screenshots/.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { STAFF_PASSWORD as PASSWORD, WIDTHS, chrome, openPage, shop, shot, signIn, useShopAndBrowser } from './harness.js';

// Open all day, every day: the test has slots whenever it runs.
useShopAndBrowser({
  args: ['--login-attempts-per-minute', '0', '--opening-hours', 'daily 00:00-24:00'],
  setup: (shop) => {
    shop.createUser('boss@example.com', 'admin', PASSWORD);
  },
});

function noSideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

for (const [device, width] of Object.entries(WIDTHS)) {
  describe(`a real shop on a ${device} (${width} px)`, () => {
    test('checkout takes a phone for delivery and a time from the opening hours', async () => {
      const buyer = await openPage(chrome.browser, width);
      const { page } = buyer;
      await page.goto(shop.base + '/products/cola');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.waitForURL(/\/cart/);
      await page.getByRole('link', { name: 'Go to checkout' }).click();
      const when = page.getByLabel('When');
      assert.equal(await when.locator('option').first().textContent(), 'As soon as possible');
      assert.ok(await when.locator('option').count() > 10, 'slots every 15 minutes');
      await page.getByLabel('Name').fill('Ana');
      await page.getByLabel('Email').fill(`ana-${device}@example.com`);
      await page.getByLabel('Delivery to my address').check();
      await page.getByLabel('Street and number').fill('1 Main St');
      await page.getByLabel('City').fill('Springfield');
      await page.getByLabel('Postcode').fill('12345');
      buyer.expect('status of 422');
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.getByText('Enter a phone number, so the driver can call you.').waitFor();
      assert.equal(await page.getByLabel('Phone').getAttribute('aria-invalid'), 'true');
      await page.getByLabel('Phone').fill('+1 (555) 010-0123');
      const slot = await when.locator('option').nth(3).getAttribute('value');
      await when.selectOption(slot);
      assert.ok(await noSideways(page) <= 0, 'checkout does not scroll sideways');
      await shot(page, '50-checkout-phone-slot');
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.waitForURL(/\/orders\/[0-9a-f-]+\?placed=1/);
      await page.locator('[data-phone]', { hasText: '+1 (555) 010-0123' }).waitFor();
      assert.equal(await page.locator('[data-when] time').getAttribute('datetime'), slot);
      await shot(page, '51-order-phone-slot');
      const orders = (await shop.json(`/api/customers/ana-${device}@example.com/orders`)).orders;
      assert.equal(orders[0].fulfilment.slot, slot);
      assert.equal(orders[0].fulfilment.phone, '+1 (555) 010-0123');
      assert.deepEqual(buyer.errors, []);
      assert.deepEqual(buyer.expected, []);
      await buyer.context.close();
    });

    test('option choices are edited as rows, kept in step with the text the server reads', async () => {
      const staff = await openPage(chrome.browser, width);
      const { page } = staff;
      await page.goto(shop.base + '/sign-in?next=%2Fadmin%2Fproducts%2Fmargherita');
      await signIn(page, 'boss@example.com');
      await page.getByRole('heading', { name: 'Edit Margherita' }).waitFor();
      const crust = page.getByRole('group', { name: 'Choices of Crust' });
      // The rows are built by the deferred script, which may run after the heading shows.
      await crust.locator('.choice-row:not(.head)').first().waitFor();
      assert.equal(await crust.locator('.choice-row:not(.head)').count(), 3);
      assert.equal(await page.locator('textarea[name="g1.choices"]').isHidden(), true, 'the rows replace the textarea');
      assert.equal(await crust.getByLabel('Choice 3 price change').inputValue(), '+2.50');
      // Remove "Thin & crispy", add a gluten-free crust; its id follows its name.
      await crust.getByRole('button', { name: 'Remove choice 2' }).click();
      const crustField = page.locator('[data-choices]').nth(1);
      await crustField.getByRole('button', { name: 'Add a choice' }).click();
      const added = crust.locator('.choice-row:not(.head)').last();
      await added.locator('input').nth(0).fill('Gluten-free');
      await added.locator('input').nth(1).fill('+2.00');
      assert.equal(await added.locator('input').nth(2).inputValue(), 'gluten-free');
      assert.equal(await page.locator('textarea[name="g1.choices"]').inputValue(),
        'classic | Classic | +0.00\nstuffed | Cheese-stuffed | +2.50\ngluten-free | Gluten-free | +2.00');
      assert.ok(await noSideways(page) <= 0, 'the product form does not scroll sideways');
      await added.scrollIntoViewIfNeeded();
      await shot(page, '52-product-option-rows');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Changes saved.').waitFor();
      const product = await shop.json('/api/products/margherita');
      const choices = product.optionGroups.find((g) => g.id === 'crust').choices;
      assert.deepEqual(choices.map((c) => [c.id, c.priceDelta]), [['classic', 0], ['stuffed', 250], ['gluten-free', 200]]);
      // Put it back as it was, for the other width.
      const again = page.getByRole('group', { name: 'Choices of Crust' });
      await again.getByRole('button', { name: 'Remove choice 3' }).click();
      await again.getByRole('button', { name: 'Remove choice 2' }).click();
      for (const [name, price, id] of [['Thin & crispy', '0', 'thin'], ['Cheese-stuffed', '+2.50', 'stuffed']]) {
        await page.locator('[data-choices]').nth(1).getByRole('button', { name: 'Add a choice' }).click();
        const row = again.locator('.choice-row:not(.head)').last();
        await row.locator('input').nth(0).fill(name);
        await row.locator('input').nth(1).fill(price);
        await row.locator('input').nth(2).fill(id);
      }
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Changes saved.').waitFor();
      assert.deepEqual(staff.errors, []);
      await staff.context.close();

      // Without JavaScript the typed text is the editor.
      const plain = await openPage(chrome.browser, width, { javaScriptEnabled: false });
      await plain.page.goto(shop.base + '/sign-in?next=%2Fadmin%2Fproducts%2Fmargherita');
      await signIn(plain.page, 'boss@example.com');
      const text = plain.page.locator('textarea[name="g1.choices"]');
      assert.ok(await text.isVisible());
      assert.equal(await text.inputValue(), 'classic | Classic | +0.00\nthin | Thin & crispy | +0.00\nstuffed | Cheese-stuffed | +2.50');
      await plain.context.close();
    });

    test('a buyer known from an earlier checkout sees what is left of a limit, and the buy button stops', async () => {
      const buyer = await openPage(chrome.browser, width);
      const { page } = buyer;
      await page.goto(shop.base + '/products/pizza-party-box');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.waitForURL(/\/cart/);
      await page.getByRole('link', { name: 'Go to checkout' }).click();
      await page.getByLabel('Name').fill('Bo');
      await page.getByLabel('Email').fill(`bo-${device}+party@example.com`);
      await page.getByRole('button', { name: /Place order/ }).click();
      await page.waitForURL(/\/orders\/[0-9a-f-]+\?placed=1/);
      await page.goto(shop.base + '/products/pizza-party-box');
      await page.getByText('You already bought 1 of 1, the most per customer.').waitFor();
      const button = page.getByRole('button', { name: 'Limit reached' });
      assert.ok(await button.isDisabled(), 'the buy button is off');
      assert.ok(await noSideways(page) <= 0);
      await shot(page, '55-product-limit-reached');
      assert.deepEqual(buyer.errors, []);
      await buyer.context.close();
    });

    test('an admin deactivates, reactivates and resets a staff account; the reset password is replaced first', async () => {
      const cook = `cook-${device}@example.com`;
      shop.createUser(cook, 'kitchen', PASSWORD);
      const admin = await openPage(chrome.browser, width);
      const { page } = admin;
      await page.goto(shop.base + '/sign-in?next=%2Fadmin%2Fstaff');
      await signIn(page, 'boss@example.com');
      const row = page.locator(`tr[data-staff="${cook}"]`);
      await row.locator('summary').click();
      await row.getByRole('button', { name: `Deactivate ${cook}` }).click();
      await page.getByText(`Deactivated ${cook}: they are signed out and cannot sign in.`).waitFor();
      assert.equal(await row.locator('[data-state]').textContent(), 'deactivated');
      await row.locator('summary').click();
      await row.getByRole('button', { name: `Reactivate ${cook}` }).click();
      await page.getByText(`Reactivated ${cook}: they can sign in again.`).waitFor();
      await row.locator('summary').click();
      await row.getByLabel('Temporary password').fill('temporary pass 1');
      assert.ok(await noSideways(page) <= 0, 'the staff page does not scroll sideways');
      await shot(page, '53-staff-manage');
      await row.getByRole('button', { name: `Reset password of ${cook}` }).click();
      await page.getByText(`Set a temporary password for ${cook}.`).waitFor();
      assert.equal(await row.locator('[data-state]').textContent(), 'temporary password');
      await shot(page, '53-staff-reset-done');
      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByText('Staff password reset').first().waitFor();
      assert.deepEqual(admin.errors, []);
      await admin.context.close();

      const kitchen = await openPage(chrome.browser, width);
      await kitchen.page.goto(shop.base + '/sign-in?next=%2Fadmin%2Forders');
      await signIn(kitchen.page, cook, 'temporary pass 1');
      await kitchen.page.waitForURL(/\/admin\/password$/);
      await kitchen.page.getByText('An admin set a temporary password for your account.').waitFor();
      await shot(kitchen.page, '54-password-required');
      await kitchen.page.getByLabel('New password').fill('my own password 1');
      await kitchen.page.getByLabel('The same again').fill('my own password 1');
      await kitchen.page.getByRole('button', { name: 'Save my password' }).click();
      await kitchen.page.getByText('Your new password is set.').waitFor();
      await kitchen.page.getByRole('link', { name: 'Go to the dashboard' }).click();
      await kitchen.page.getByRole('heading', { name: 'Orders' }).waitFor();
      assert.deepEqual(kitchen.errors, []);
      await kitchen.context.close();
    });
  });
}
