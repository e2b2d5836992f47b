// The app in a real browser: sign-in, Orders, and the cancellation flows for
// an API buyer, an API seller, an EDI seller and an EDI buyer. Against a
// deployed stack (DROPSHIP_APP_URL, see harness.mjs) a few run once more:
// sign-in, the Orders page and a whole-order cancellation; the rest are
// marked `serveOnly`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  APP, KEYS, ON_STACK, call, createOrder, launchBrowser, newPage, screenshot, signIn, startTarget,
} from './harness.mjs';

let target;
let browser;
// The origin the browser loads the app from, and where the tests' own API calls go.
let appUrl;
let apiUrl;
const pages = [];
const serveOnly = { skip: ON_STACK && 'run against dropship serve only' };
// Screenshots of a stack run do not overwrite those of `dropship serve`.
const shot = (p, name) => screenshot(p, ON_STACK ? `stack-${name}` : name);

before(async () => {
  [target, browser] = await Promise.all([startTarget(), launchBrowser()]);
  ({ appUrl, apiUrl } = target);
});
after(async () => {
  await browser?.close();
  await target?.stop();
});

async function page(opts) {
  const p = await newPage(browser, opts);
  pages.push(p);
  return p;
}
/** No script errors or CSP violations on the page, and no stray null/undefined shown. */
async function clean(p) {
  assert.deepEqual(p.problems, []);
  assert.doesNotMatch(await p.locator('body').innerText(), /\b(null|undefined|NaN)\b/);
}
async function openOrder(p, id) {
  await p.goto(`${appUrl}${APP}#/orders/${id}`);
  await p.getByRole('heading', { level: 1, name: `Order ${id}` }).waitFor();
}
const row = (p, title) => p.locator('#line-items tbody tr', { hasText: title });
async function quantities(p, title) {
  const cells = await row(p, title).locator('td.num').allInnerTexts();
  const [ordered, fulfilled, cancelled, open] = cells.map(Number);
  return { ordered, fulfilled, cancelled, open };
}
async function apiOrder(key, id) {
  const r = await call(apiUrl, key, 'GET', `/v1/orders/${id}`);
  assert.equal(r.status, 200);
  return r.body;
}
/** Every form control has an accessible label. */
async function allLabelled(p) {
  const unlabelled = await p.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !el.hidden && el.labels.length === 0 && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML));
  assert.deepEqual(unlabelled, []);
}

describe('serving and signing in', () => {
  it('redirects / to the app, rejects a bad key, keeps the key for the tab only', async () => {
    const p = await page();
    const res = await p.goto(`${appUrl}/`);
    assert.equal(new URL(p.url()).pathname, APP);
    assert.match(res.headers()['content-security-policy'], /default-src 'none'/);
    await p.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await allLabelled(p);

    await p.getByLabel('Company API key').fill('not-a-key');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();

    await p.getByLabel('Company API key').fill(KEYS.buyerApi);
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();
    await p.getByText('Acme Home (API buyer) · buyer · API').waitFor();
    const stored = await p.evaluate(() => ({ session: sessionStorage.getItem('dropship.apiKey'), local: localStorage.length }));
    assert.deepEqual(stored, { session: KEYS.buyerApi, local: 0 });

    // Reload keeps the tab signed in; a new tab (context) is not.
    await p.reload();
    await p.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.equal(await p.evaluate(() => sessionStorage.getItem('dropship.apiKey')), null);
    await clean(p);
  });
});

describe('Orders page', () => {
  it('lists the company orders newest first, page by page', async () => {
    for (let i = 0; i < 3; i++) await createOrder(apiUrl, KEYS.buyerApi, 'seller-api');
    const all = [];
    let cursor = null;
    do {
      const r = await call(apiUrl, KEYS.buyerApi, 'GET', `/v1/orders?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      all.push(...r.body.orders.map((o) => o.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    assert.ok(all.length >= 5);

    const p = await page();
    await signIn(p, appUrl, KEYS.buyerApi);
    await p.goto(`${appUrl}${APP}#/orders?limit=2`);
    const links = p.locator('table.orders tbody th a');
    await links.nth(1).waitFor();
    assert.equal(await links.count(), 2);
    const more = p.getByRole('button', { name: 'Load more orders' });
    while (await more.isVisible()) {
      const n = await links.count();
      await more.click();
      await links.nth(n).waitFor();
    }
    assert.deepEqual(await links.allInnerTexts(), all);
    // Partners by name, not by id.
    const sellerOf = (id) => p.locator('table.orders tbody tr', { has: p.getByRole('link', { name: id, exact: true }) })
      .locator('td[data-label="Seller"]');
    assert.equal(await sellerOf('ord_demo_api').innerText(), 'Sunrise Supply (API seller)');
    assert.equal(await sellerOf('ord_demo_api_bc').innerText(), 'Birch Supply (BigCommerce seller)');
    const created = await p.locator('table.orders tbody time').evaluateAll((ts) => ts.map((t) => t.dateTime));
    assert.deepEqual([...created].sort().reverse(), created);
    await p.getByText(`Showing ${all.length} orders (all).`).waitFor();
    await shot(p, 'orders-page');

    await p.getByLabel('Show').selectOption('complete');
    await p.getByText('No complete orders.').waitFor();
    await links.first().waitFor({ state: 'detached' });

    // Back to all orders: the page size stays, and the oldest order is on the last page.
    await p.getByLabel('Show').selectOption('');
    await links.nth(1).waitFor();
    assert.equal(await links.count(), 2);
    while (await more.isVisible()) {
      const n = await links.count();
      await more.click();
      await links.nth(n).waitFor();
    }
    await p.getByRole('link', { name: 'ord_demo_api', exact: true }).click();
    await p.getByRole('heading', { level: 1, name: 'Order ord_demo_api' }).waitFor();
    await clean(p);
  });
});

describe('API buyer', () => {
  it('cancels the whole order: preview list, a reason chosen, a note with Other, summary after', async () => {
    const order = await createOrder(apiUrl, KEYS.buyerApi, 'seller-api');
    const shipped = await call(apiUrl, KEYS.sellerApi, 'POST', `/v1/orders/${order.id}/fulfillments`,
      { items: [{ line_item_id: 'li_1', quantity: 1 }] });
    assert.equal(shipped.status, 201);

    const p = await page();
    const posts = [];
    p.on('request', (r) => {
      if (r.method() === 'POST') posts.push({ url: r.url(), headers: r.headers() });
    });
    await signIn(p, appUrl, KEYS.buyerApi);
    await openOrder(p, order.id);
    assert.deepEqual(await quantities(p, 'Blue enamel mug'), { ordered: 3, fulfilled: 1, cancelled: 0, open: 2 });
    assert.deepEqual(await quantities(p, 'White plate'), { ordered: 2, fulfilled: 0, cancelled: 0, open: 2 });
    await p.getByText('No cancellations.').waitFor();
    const facts = p.locator('dl.facts');
    assert.match(await facts.innerText(), /Buyer\s+Acme Home \(API buyer\) \(you\)\s+Seller\s+Sunrise Supply \(API seller\)\s/);
    await shot(p, 'api-buyer-order-before');

    await p.getByRole('button', { name: 'Cancel Order' }).click();
    const dialog = p.getByRole('dialog', { name: `Cancel order ${order.id}` });
    await dialog.waitFor();
    // The list comes from the API's preview: fulfilled units are not in it.
    assert.deepEqual(await dialog.locator('#will-cancel li').allInnerTexts(),
      ['2 × Blue enamel mug (MUG-BLUE)', '2 × White plate (PLATE-WHT)']);
    assert.ok(posts.some((r) => r.url.endsWith(`/v1/orders/${order.id}/cancellations?preview=true`)));
    const confirm = dialog.getByRole('button', { name: 'Cancel Order' });
    const code = dialog.getByLabel('Reason for cancellation');
    const note = dialog.getByLabel('Note for your partner');
    assert.equal(await code.evaluate((el) => el === document.activeElement), true);
    assert.equal(await confirm.isDisabled(), true);
    // Every code is offered, by its label.
    assert.deepEqual(await code.locator('option').allInnerTexts(), ['Choose a reason…', 'Customer request',
      'Out of stock', 'Discontinued', 'Pricing error', 'Suspected fraud', 'Address undeliverable', 'Delayed',
      'Duplicate order', 'Payment declined', 'Other']);
    // Other needs a note; a blank one is none.
    await code.selectOption({ label: 'Other' });
    assert.equal(await confirm.isDisabled(), true);
    await note.fill('   ');
    assert.equal(await confirm.isDisabled(), true);
    await allLabelled(p);
    await shot(p, 'api-buyer-cancel-order-dialog');
    // Any other code stands alone; the note goes with it.
    await code.selectOption({ label: 'Out of stock' });
    assert.equal(await confirm.isEnabled(), true);
    await note.fill('Items are out of stock');
    await shot(p, 'api-buyer-cancel-order-reason-chosen');
    await confirm.click();

    await dialog.waitFor({ state: 'detached' });
    await p.getByRole('status').filter({ hasText: `Order ${order.id} cancelled: 2 × Blue enamel mug, 2 × White plate.` }).waitFor();
    const summary = p.locator('#order-summary');
    await summary.getByText('Order cancelled by the buyer, Acme Home (API buyer) (you) via the app').waitFor();
    assert.match(await summary.locator('#cancellations').innerText(), /2 × Blue enamel mug \(MUG-BLUE\): Out of stock — Items are out of stock/);
    assert.deepEqual(await quantities(p, 'Blue enamel mug'), { ordered: 3, fulfilled: 1, cancelled: 2, open: 0 });
    assert.equal(await p.getByRole('button', { name: 'Cancel Order' }).count(), 0);
    await p.locator('#order-status').getByText('Complete').waitFor();
    await shot(p, 'api-buyer-order-after');

    const cancel = posts.find((r) => r.url.endsWith(`/v1/orders/${order.id}/cancellations`));
    assert.equal(cancel.headers['x-dropship-client'], 'app');
    const stored = (await apiOrder(KEYS.buyerApi, order.id)).cancellations[0].items;
    assert.deepEqual(stored.map((it) => [it.reason_code, it.reason]),
      [['out_of_stock', 'Items are out of stock'], ['out_of_stock', 'Items are out of stock']]);
    assert.match(cancel.headers['idempotency-key'], /^app-[0-9a-f]{32}$/);
    const saved = await apiOrder(KEYS.sellerApi, order.id);
    assert.equal(saved.cancellations.length, 1);
    assert.equal(saved.cancellations[0].source, 'app');
    assert.equal(saved.cancellations[0].kind, 'order');
    await clean(p);
  });

  it('a retry after a lost answer reuses the Idempotency-Key and cancels once', serveOnly, async () => {
    const order = await createOrder(apiUrl, KEYS.buyerApi, 'seller-api');
    const p = await page();
    await signIn(p, appUrl, KEYS.buyerApi);
    await openOrder(p, order.id);
    const keys = [];
    let first = true;
    await p.route(`**/v1/orders/${order.id}/cancellations`, async (route) => {
      keys.push(route.request().headers()['idempotency-key']);
      if (first) {
        first = false;
        await route.fetch(); // the server acts, but the answer never arrives
        await route.abort('connectionreset');
      } else {
        await route.continue();
      }
    });
    await p.getByRole('button', { name: 'Cancel Order' }).click();
    const dialog = p.getByRole('dialog');
    await dialog.getByLabel('Reason for cancellation').selectOption({ label: 'Customer request' });
    await dialog.getByLabel('Note for your partner').fill('Customer changed their mind');
    await dialog.getByRole('button', { name: 'Cancel Order' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Could not reach the server' }).waitFor();
    await dialog.getByRole('button', { name: 'Cancel Order' }).click();
    await dialog.waitFor({ state: 'detached' });
    await p.locator('#cancellations').getByText('Order cancelled by the buyer').waitFor();
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    const saved = await apiOrder(KEYS.buyerApi, order.id);
    assert.equal(saved.cancellations.length, 1);
    assert.equal(await p.locator('#cancellations > li').count(), 1);
    await clean(p);
  });

  it('shows API errors, and reloads when someone else changed the order', serveOnly, async () => {
    const order = await createOrder(apiUrl, KEYS.buyerApi, 'seller-api');
    const p = await page();
    await signIn(p, appUrl, KEYS.buyerApi);
    await openOrder(p, order.id);

    // A transient server error: its detail is shown and the dialog stays.
    await p.route(`**/v1/orders/${order.id}/cancellations`, (route) => route.fulfill({
      status: 503,
      contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'urn:dropship:problem:unavailable', title: 'Unavailable', status: 503, detail: 'a transient failure on our side; retry with the same Idempotency-Key', code: 'unavailable' }),
    }));
    await p.getByRole('button', { name: 'Cancel Order' }).click();
    const dialog = p.getByRole('dialog');
    await dialog.getByLabel('Reason for cancellation').selectOption({ label: 'Out of stock' });
    await dialog.getByRole('button', { name: 'Cancel Order' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'A transient failure on our side; retry with the same Idempotency-Key.' }).waitFor();
    await p.unroute(`**/v1/orders/${order.id}/cancellations`);
    await dialog.getByRole('button', { name: 'Keep Order' }).click();
    await dialog.waitFor({ state: 'detached' });

    // Items flow: the seller cancels 2 mugs meanwhile; asking for 3 is refused (409) -> reload.
    await row(p, 'Blue enamel mug').getByRole('button', { name: 'Cancel Blue enamel mug' }).click();
    await p.getByLabel('Quantity to cancel of Blue enamel mug').fill('3');
    await p.getByRole('button', { name: 'Update Order' }).click();
    await p.getByLabel('Reason for cancelling Blue enamel mug').selectOption({ label: 'Other' });
    await p.getByLabel('Note for cancelling Blue enamel mug').fill('Wrong colour');
    const bySeller = await call(apiUrl, KEYS.sellerApi, 'POST', `/v1/orders/${order.id}/cancellations`,
      { items: [{ line_item_id: 'li_1', quantity: 2, reason: 'Item is out of stock' }] });
    assert.equal(bySeller.status, 201);
    await p.getByRole('button', { name: 'Update Order' }).click();
    await p.getByRole('alert').filter({ hasText: 'The order was changed elsewhere; it now shows its current state.' }).waitFor();
    assert.deepEqual(await quantities(p, 'Blue enamel mug'), { ordered: 3, fulfilled: 0, cancelled: 2, open: 1 });
    await p.locator('#cancellations').getByText('Items cancelled by the seller, Sunrise Supply (API seller) via the API').waitFor();
    assert.equal(await p.getByLabel(/Reason for cancelling/).count(), 0);

    // Whole order: the seller cancels the rest meanwhile; the preview is 409 nothing_to_cancel.
    const rest = await call(apiUrl, KEYS.sellerApi, 'POST', `/v1/orders/${order.id}/cancellations`, { reason: 'Discontinued' });
    assert.equal(rest.status, 201);
    await p.getByRole('button', { name: 'Cancel Order' }).click();
    await p.getByRole('alert').filter({ hasText: 'The order has no open units to cancel. The order was changed elsewhere' }).waitFor();
    assert.equal(await p.getByRole('dialog').count(), 0);
    assert.equal(await p.getByRole('button', { name: 'Cancel Order' }).count(), 0);
    assert.equal(await p.locator('#cancellations > li').count(), 2);
    await clean(p);
  });
});

describe('API seller', () => {
  it('cancels chosen items: quantities, Cancel Update, a reason for each', serveOnly, async () => {
    const order = await createOrder(apiUrl, KEYS.buyerApi, 'seller-api');
    const p = await page();
    await signIn(p, appUrl, KEYS.sellerApi);
    await openOrder(p, order.id);
    await shot(p, 'api-seller-order-before');
    assert.equal(await p.getByRole('button', { name: 'Cancel Order' }).count(), 1);
    const mug = row(p, 'Blue enamel mug');

    // Select, then Cancel Update at the first step: nothing pending remains.
    await mug.getByRole('button', { name: 'Cancel Blue enamel mug' }).click();
    await p.getByRole('button', { name: 'Cancel Update' }).click();
    await p.getByRole('status').filter({ hasText: 'discarded' }).waitFor();
    assert.equal(await p.getByLabel(/Quantity to cancel/).count(), 0);

    // Select both; the quantity is bounded by the open units.
    await mug.getByRole('button', { name: 'Cancel Blue enamel mug' }).click();
    const qty = p.getByLabel('Quantity to cancel of Blue enamel mug');
    assert.equal(await qty.inputValue(), '3');
    assert.equal(await qty.getAttribute('max'), '3');
    await qty.fill('4');
    assert.equal(await p.getByRole('button', { name: 'Update Order' }).isDisabled(), true);
    assert.equal(await qty.getAttribute('aria-invalid'), 'true');
    await qty.fill('0');
    assert.equal(await p.getByRole('button', { name: 'Update Order' }).isDisabled(), true);
    await qty.fill('1');
    assert.equal(await qty.getAttribute('aria-invalid'), 'false');
    await row(p, 'White plate').getByRole('button', { name: 'Cancel White plate' }).click();
    await p.getByText('2 items selected to cancel.').waitFor();
    await allLabelled(p);

    // Second step, then Cancel Update discards everything.
    await p.getByRole('button', { name: 'Update Order' }).click();
    await p.getByRole('heading', { name: 'Items to cancel' }).waitFor();
    await p.getByLabel('Reason for cancelling Blue enamel mug').selectOption({ label: 'Out of stock' });
    await p.getByRole('button', { name: 'Cancel Update' }).click();
    assert.equal(await p.getByRole('heading', { name: 'Items to cancel' }).count(), 0);
    assert.equal(await p.getByLabel(/Quantity to cancel/).count(), 0);
    assert.equal((await apiOrder(KEYS.sellerApi, order.id)).cancellations.length, 0);

    // Again, to the end: no submission until every reason is filled.
    await mug.getByRole('button', { name: 'Cancel Blue enamel mug' }).click();
    await p.getByLabel('Quantity to cancel of Blue enamel mug').fill('1');
    await row(p, 'White plate').getByRole('button', { name: 'Cancel White plate' }).click();
    await p.getByRole('button', { name: 'Update Order' }).click();
    const items = p.locator('.reason-list li');
    assert.deepEqual(await items.locator('p').allInnerTexts(),
      ['1 × Blue enamel mug (MUG-BLUE)', '2 × White plate (PLATE-WHT)']);
    const confirm = p.getByRole('button', { name: 'Update Order' });
    assert.equal(await confirm.isDisabled(), true);
    await p.getByLabel('Reason for cancelling Blue enamel mug').selectOption({ label: 'Out of stock' });
    await p.getByLabel('Note for cancelling Blue enamel mug').fill('Item is out of stock');
    assert.equal(await confirm.isDisabled(), true);
    await p.getByLabel('Reason for cancelling White plate').selectOption({ label: 'Other' });
    await p.getByLabel('Note for cancelling White plate').fill('  ');
    assert.equal(await confirm.isDisabled(), true);
    await p.getByLabel('Note for cancelling White plate').fill('Discontinued by the maker');
    assert.equal(await confirm.isEnabled(), true);
    await p.getByLabel('Reason for cancelling White plate').selectOption({ label: 'Discontinued' });
    await p.getByLabel('Note for cancelling White plate').fill('');
    assert.equal(await confirm.isEnabled(), true);
    await shot(p, 'api-seller-items-reasons');
    await confirm.click();

    await p.getByRole('status').filter({ hasText: 'Order updated: cancelled 1 × Blue enamel mug, 2 × White plate.' }).waitFor();
    const list = p.locator('#cancellations');
    await list.getByText('Items cancelled by the seller, Sunrise Supply (API seller) (you) via the app').waitFor();
    assert.match(await list.innerText(), /1 × Blue enamel mug \(MUG-BLUE\): Out of stock — Item is out of stock/);
    assert.match(await list.innerText(), /2 × White plate \(PLATE-WHT\): Discontinued$/);
    assert.deepEqual(await quantities(p, 'Blue enamel mug'), { ordered: 3, fulfilled: 0, cancelled: 1, open: 2 });
    assert.deepEqual(await quantities(p, 'White plate'), { ordered: 2, fulfilled: 0, cancelled: 2, open: 0 });
    // Only items with open units keep a cancel control.
    assert.equal(await row(p, 'White plate').getByRole('button').count(), 0);
    assert.equal(await mug.getByRole('button', { name: 'Cancel Blue enamel mug' }).count(), 1);
    await shot(p, 'api-seller-order-after');

    const saved = await apiOrder(KEYS.buyerApi, order.id);
    assert.equal(saved.cancellations.length, 1);
    assert.equal(saved.cancellations[0].kind, 'items');
    assert.equal(saved.cancellations[0].source, 'app');
    assert.equal(saved.cancellations[0].initiated_by, 'seller');
    // The codes chosen in the form are what the API stored.
    assert.deepEqual(saved.cancellations[0].items.map((it) => [it.reason_code, it.reason]),
      [['out_of_stock', 'Item is out of stock'], ['discontinued', null]]);
    await clean(p);
  });

  it('works with the keyboard alone', serveOnly, async () => {
    const order = await createOrder(apiUrl, KEYS.buyerApi, 'seller-api');
    const p = await page();
    await signIn(p, appUrl, KEYS.sellerApi);
    await openOrder(p, order.id);
    const focused = () => p.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent);
    let guard = 0;
    while ((await focused()) !== 'Cancel White plate' && guard++ < 30) await p.keyboard.press('Tab');
    assert.equal(await focused(), 'Cancel White plate');
    const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none');
    await p.keyboard.press('Enter');
    // Focus moves to the quantity field; Tab to Keep, Tab to Update Order.
    assert.equal(await p.evaluate(() => document.activeElement.id), 'qty-1');
    await p.keyboard.press('Tab');
    await p.keyboard.press('Tab');
    assert.equal(await focused(), 'Update Order');
    await p.keyboard.press('Enter');
    assert.equal(await p.evaluate(() => document.activeElement.id), 'reason-code-0');
    // The code by keyboard (a select takes a typed label), then the note.
    await p.keyboard.type('Other');
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement.id), 'reason-0');
    await p.keyboard.type('Damaged in the warehouse');
    await p.keyboard.press('Enter');
    await p.getByRole('status').filter({ hasText: 'Order updated: cancelled 2 × White plate.' }).waitFor();
    await clean(p);
  });
});

describe('EDI seller', () => {
  it('cancels whole orders through Actions > Cancel Order, never items', serveOnly, async () => {
    const order = await createOrder(apiUrl, KEYS.buyerEdi, 'seller-edi');
    const p = await page();
    await signIn(p, appUrl, KEYS.sellerEdi);
    await openOrder(p, order.id);
    await shot(p, 'edi-seller-order-before');
    assert.equal(await p.locator('#line-items').getByRole('button').count(), 0);
    assert.equal(await p.getByRole('button', { name: 'Cancel Order' }).count(), 0);
    const actions = p.getByRole('button', { name: 'Actions' });
    assert.equal(await actions.getAttribute('aria-expanded'), 'false');

    // Keyboard: open, Escape closes and returns focus.
    await actions.focus();
    await p.keyboard.press('Enter');
    const item = p.getByRole('menuitem', { name: 'Cancel Order' });
    await item.waitFor();
    assert.equal(await actions.getAttribute('aria-expanded'), 'true');
    assert.equal(await item.evaluate((el) => el === document.activeElement), true);
    await p.keyboard.press('Escape');
    await item.waitFor({ state: 'hidden' });
    assert.equal(await actions.evaluate((el) => el === document.activeElement), true);

    await actions.click();
    await item.click();
    const dialog = p.getByRole('dialog', { name: `Cancel order ${order.id}` });
    await dialog.waitFor();
    assert.deepEqual(await dialog.locator('#will-cancel li').allInnerTexts(),
      ['3 × Blue enamel mug (MUG-BLUE)', '2 × White plate (PLATE-WHT)']);
    const confirm = dialog.getByRole('button', { name: 'Cancel Order' });
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByLabel('Reason for cancellation').selectOption({ label: 'Out of stock' });
    await confirm.click();
    await dialog.waitFor({ state: 'detached' });
    await p.locator('#cancellations').getByText('Order cancelled by the seller, Northwind Wholesale (EDI seller) (you) via the app').waitFor();
    assert.equal(await p.getByRole('button', { name: 'Actions' }).count(), 0);
    await shot(p, 'edi-seller-order-after');
    const saved = await apiOrder(KEYS.buyerEdi, order.id);
    assert.equal(saved.cancellation_status, 'cancelled');
    assert.equal(saved.cancellations[0].source, 'app');
    await clean(p);
  });
});

describe('EDI buyer', () => {
  it('sees orders and cancellations but has no cancellation controls', serveOnly, async () => {
    const order = await createOrder(apiUrl, KEYS.buyerEdi, 'seller-edi');
    const partial = await call(apiUrl, KEYS.sellerEdi, 'POST', `/v1/orders/${order.id}/cancellations`,
      { reason: 'Warehouse closed' });
    assert.equal(partial.status, 201);
    const p = await page();
    await signIn(p, appUrl, KEYS.buyerEdi);
    await p.getByRole('link', { name: 'ord_demo_edi', exact: true }).click();
    await p.getByRole('heading', { level: 1, name: 'Order ord_demo_edi' }).waitFor();
    assert.equal(await p.locator('main').getByRole('button').count(), 0);
    await p.getByText('EDI buyers cannot create cancellations in the app yet.').waitFor();
    assert.deepEqual(await quantities(p, 'Grey bath towel'), { ordered: 12, fulfilled: 0, cancelled: 0, open: 12 });
    await shot(p, 'edi-buyer-order');

    await openOrder(p, order.id);
    assert.equal(await p.locator('main').getByRole('button').count(), 0);
    await p.locator('#cancellations').getByText('Order cancelled by the seller, Northwind Wholesale (EDI seller) via the API').waitFor();
    assert.match(await p.locator('#cancellations').innerText(), /Warehouse closed/);
    await clean(p);
  });
});

describe('phone-sized screen', () => {
  it('shows the order page without sideways scrolling', serveOnly, async () => {
    const order = await createOrder(apiUrl, KEYS.buyerApi, 'seller-api');
    const p = await page({ viewport: { width: 375, height: 740 } });
    await signIn(p, appUrl, KEYS.buyerApi);
    assert.equal(await p.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true);
    await openOrder(p, order.id);
    await row(p, 'Blue enamel mug').getByRole('button', { name: 'Cancel Blue enamel mug' }).click();
    assert.equal(await p.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true);
    await shot(p, 'phone-order-items');
    await p.getByRole('button', { name: 'Cancel Update' }).click();
    await p.getByRole('button', { name: 'Cancel Order' }).click();
    await p.getByRole('dialog').waitFor();
    assert.equal(await p.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true);
    await shot(p, 'phone-cancel-order-dialog');
    await clean(p);
  });
});
