// The Scorecard page in a real browser, against `dropship serve`: per-partner
// cancel rates from orders and cancellations made through the API, the
// windows, Chart.js charts under the app's CSP, the CSV download and the
// empty state. Its figures need a fresh data set, so none runs on a stack.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  APP, KEYS, ON_STACK, call, createOrder, launchBrowser, newPage, screenshot, signIn, startTarget,
} from './harness.mjs';

let target;
let browser;
let appUrl;
let apiUrl;
const serveOnly = { skip: ON_STACK && 'run against dropship serve only' };

before(async () => {
  [target, browser] = await Promise.all([startTarget(), launchBrowser()]);
  ({ appUrl, apiUrl } = target);
});
after(async () => {
  await browser?.close();
  await target?.stop();
});

/** A page that also records CSP violations, with charts drawn at once (no animation). */
async function page(opts) {
  const p = await newPage(browser, opts);
  await p.emulateMedia({ reducedMotion: 'reduce' });
  await p.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`);
    });
  });
  return p;
}
/** No script errors, console errors or CSP violations, and no stray null/undefined/NaN shown. */
async function clean(p) {
  assert.deepEqual(p.problems, []);
  assert.deepEqual(await p.evaluate(() => window.cspViolations), []);
  assert.doesNotMatch(await p.locator('body').innerText(), /\b(null|undefined|NaN)\b/);
}
async function allLabelled(p) {
  const unlabelled = await p.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !el.hidden && el.labels.length === 0 && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML));
  assert.deepEqual(unlabelled, []);
}
async function cancel(key, orderId, body) {
  const r = await call(apiUrl, key, 'POST', `/v1/orders/${orderId}/cancellations`, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
}
/** The cells of the summary row of `partner`. */
const summaryRow = (p, partner) => p.locator('#scorecard-summary tbody tr', { hasText: partner })
  .locator('th, td').allInnerTexts();
const card = (p, partner) => p.getByRole('region', { name: partner });
/** The body rows of a card's table whose caption starts with `caption`. */
const tableRows = (p, partner, caption) => card(p, partner)
  .locator('table', { has: p.locator('caption', { hasText: caption }) })
  .locator('tbody tr')
  .evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.innerText)));
/** Each canvas's id, and whether Chart.js drew a chart on it. */
const charts = (p) => p.evaluate(() => [...document.querySelectorAll('canvas')]
  .map((c) => [c.id, Boolean(window.Chart?.getChart(c))]));
async function chooseWindow(p, days) {
  await p.getByLabel('Window').selectOption({ label: `Last ${days} days` });
  await p.locator(`#scorecard[data-days="${days}"]:not([aria-busy])`).waitFor();
}

describe('Scorecard', () => {
  // Acme Home (API buyer) with Sunrise Supply (API seller): 4 orders of
  // 5 units; 2 of them with cancellations (9 units: 5 by the buyer, 4 by the
  // seller in two cancellations of one order). With Birch Supply: 1 order,
  // nothing cancelled. The demo seed's orders are older than 30 days.
  before(async () => {
    if (ON_STACK) return;
    const orders = [];
    for (let i = 0; i < 4; i++) orders.push(await createOrder(apiUrl, KEYS.buyerApi, 'seller-api'));
    await createOrder(apiUrl, KEYS.buyerApi, 'seller-bc');
    await cancel(KEYS.buyerApi, orders[0].id, { reason_code: 'out_of_stock' });
    await cancel(KEYS.sellerApi, orders[1].id, {
      items: [
        { line_item_id: 'li_1', quantity: 1, reason_code: 'discontinued' },
        { line_item_id: 'li_2', quantity: 2, reason_code: 'pricing_error', reason: 'Listed at half price' },
      ],
    });
    await cancel(KEYS.sellerApi, orders[1].id, { items: [{ line_item_id: 'li_1', quantity: 1, reason_code: 'out_of_stock' }] });
  });

  it('shows each partner\'s cancel rates, reasons, who cancelled and the weekly trend', serveOnly, async () => {
    const p = await page();
    const chartFile = await p.request.get(`${appUrl}/app/chart.umd.min.js`);
    assert.equal(chartFile.status(), 200);
    assert.equal(chartFile.headers()['content-type'], 'text/javascript; charset=utf-8');
    assert.match(chartFile.headers()['content-security-policy'], /script-src 'self';/);
    assert.match(await chartFile.text(), /^\/\*!\n \* Chart\.js v4\./);

    await signIn(p, appUrl, KEYS.buyerApi);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Scorecard' }).click();
    await p.getByRole('heading', { level: 1, name: 'Scorecard' }).waitFor();
    await card(p, 'Sunrise Supply (API seller)').waitFor();
    assert.equal(await p.getByRole('link', { name: 'Scorecard' }).getAttribute('aria-current'), 'page');
    assert.equal(await p.getByLabel('Window').inputValue(), '30');

    assert.deepEqual(await summaryRow(p, 'Sunrise Supply'), ['Sunrise Supply (API seller)', '4', '2', '50%', '20', '9', '45%']);
    assert.deepEqual(await summaryRow(p, 'Birch Supply'), ['Birch Supply (BigCommerce seller)', '1', '0', '0%', '5', '0', '0%']);
    const sunrise = card(p, 'Sunrise Supply (API seller)');
    assert.match(await sunrise.locator('dl').innerText(), /Order cancel rate\s+50%\s+2 of 4 orders\s+Unit cancel rate\s+45%\s+9 of 20 units/);
    assert.deepEqual(await tableRows(p, 'Sunrise Supply (API seller)', 'Units cancelled by reason'),
      [['Out of stock', '6'], ['Discontinued', '1'], ['Pricing error', '2']]);
    assert.deepEqual(await tableRows(p, 'Sunrise Supply (API seller)', 'Units cancelled by who'),
      [['Buyer (you)', '5'], ['Seller', '4']]);
    // This week's orders, last in the weekly table.
    const weeks = await tableRows(p, 'Sunrise Supply (API seller)', 'Orders and orders cancelled per week');
    assert.deepEqual(weeks.at(-1).slice(1), ['4', '2', '50%']);
    assert.equal(await sunrise.locator('canvas#reasons-0').getAttribute('aria-label'),
      'Units cancelled by reason: Out of stock 6, Discontinued 1, Pricing error 2.');
    const birch = card(p, 'Birch Supply (BigCommerce seller)');
    await birch.getByText('No units cancelled in this window.').waitFor();

    // Chart.js drew every chart, with the API's numbers.
    assert.deepEqual(await charts(p), [['reasons-0', true], ['initiators-0', true], ['weekly-0', true], ['weekly-1', true]]);
    const drawn = await p.evaluate(() => ({
      reasons: Chart.getChart('reasons-0').data.datasets[0].data,
      initiators: Chart.getChart('initiators-0').data.datasets[0].data,
      lastWeek: Chart.getChart('weekly-0').data.datasets.map((d) => d.data.at(-1)),
    }));
    assert.deepEqual(drawn, { reasons: [6, 1, 2], initiators: [5, 4], lastWeek: [4, 2] });
    await allLabelled(p);
    await screenshot(p, 'scorecard-30-days');

    // Another window: new charts, the old ones destroyed.
    await chooseWindow(p, 7);
    assert.deepEqual(await summaryRow(p, 'Sunrise Supply'), ['Sunrise Supply (API seller)', '4', '2', '50%', '20', '9', '45%']);
    assert.deepEqual(await charts(p), [['reasons-0', true], ['initiators-0', true], ['weekly-0', true], ['weekly-1', true]]);
    assert.equal(await p.evaluate(() => Object.keys(Chart.instances).length), 4);
    await screenshot(p, 'scorecard-7-days');

    // 90 days may take in the demo seed's orders: the page shows what the API says.
    await chooseWindow(p, 90);
    const api = await call(apiUrl, KEYS.buyerApi, 'GET', '/v1/scorecard?days=90');
    assert.equal(api.status, 200);
    for (const partner of api.body.partners) {
      const row = await summaryRow(p, partner.partner_name);
      assert.deepEqual(row.slice(1, 3).map(Number), [partner.orders, partner.orders_cancelled]);
      assert.deepEqual(row.slice(4, 6).map(Number), [partner.units, partner.units_cancelled]);
    }
    assert.ok((await charts(p)).every(([, drawnHere]) => drawnHere));
    await screenshot(p, 'scorecard-90-days');

    // The CSV, fetched with the key and saved under a file name.
    const [download] = await Promise.all([
      p.waitForEvent('download'),
      p.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'scorecard-buyer-api-90-days.csv');
    const chunks = [];
    for await (const chunk of await download.createReadStream()) chunks.push(chunk);
    const saved = Buffer.concat(chunks).toString('utf8');
    const direct = await fetch(`${apiUrl}/v1/scorecard?days=90&format=csv`, {
      headers: { Authorization: `Bearer ${KEYS.buyerApi}` },
    });
    assert.equal(direct.status, 200);
    assert.equal(saved, await direct.text());
    assert.match(saved, /Sunrise Supply/);

    // Back to the orders: the charts go with the page.
    await p.getByRole('link', { name: 'Orders', exact: true }).click();
    await p.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();
    assert.equal(await p.evaluate(() => Object.keys(Chart.instances).length), 0);
    await clean(p);
  });

  it('shows the seller its buyers, and opens from a link before sign-in', serveOnly, async () => {
    const p = await page();
    await p.goto(`${appUrl}${APP}#/scorecard?days=7`);
    await p.getByLabel('Company API key').fill(KEYS.sellerApi);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { level: 1, name: 'Scorecard' }).waitFor();
    await card(p, 'Acme Home (API buyer)').waitFor();
    assert.equal(await p.getByLabel('Window').inputValue(), '7');
    assert.deepEqual(await p.locator('#scorecard-summary thead th').allInnerTexts(),
      ['Buyer', 'Orders', 'Orders cancelled', 'Order cancel rate', 'Units', 'Units cancelled', 'Unit cancel rate']);
    assert.deepEqual(await summaryRow(p, 'Acme Home'), ['Acme Home (API buyer)', '4', '2', '50%', '20', '9', '45%']);
    assert.deepEqual(await tableRows(p, 'Acme Home (API buyer)', 'Units cancelled by who'),
      [['Buyer', '5'], ['Seller (you)', '4']]);
    assert.deepEqual(await charts(p), [['reasons-0', true], ['initiators-0', true], ['weekly-0', true]]);
    await clean(p);
  });

  it('says so when there were no orders in the window', serveOnly, async () => {
    const p = await page();
    await signIn(p, appUrl, 'demo-seller-woo-key');
    await p.goto(`${appUrl}${APP}#/scorecard?days=7`);
    await p.getByText('No orders with any partner in the last 7 days.').waitFor();
    assert.equal(await p.locator('canvas').count(), 0);
    assert.equal(await p.locator('#scorecard-summary').count(), 0);
    await screenshot(p, 'scorecard-empty');
    await clean(p);
  });

  it('shows "—" for a rate with nothing to divide by', serveOnly, async () => {
    const p = await page();
    await signIn(p, appUrl, KEYS.buyerApi);
    // A partner with no orders in the window is no case the seed can make: the answer is stubbed.
    const reasons = Object.fromEntries(['customer_request', 'out_of_stock', 'discontinued', 'pricing_error', 'fraud',
      'address_undeliverable', 'delayed', 'duplicate_order', 'payment_declined', 'other'].map((c) => [c, 0]));
    await p.route((url) => url.pathname === '/v1/scorecard', (route) => route.fulfill({
      contentType: 'application/json',
      body: JSON.stringify({
        company_id: 'buyer-api',
        days: 30,
        partners: [{
          partner_id: 'seller-api', partner_name: 'Sunrise Supply (API seller)', orders: 0, orders_cancelled: 0, units: 0,
          units_cancelled: 0, by_initiator: { buyer: 0, seller: 0 }, by_reason: reasons, weekly: [],
        }],
      }),
    }));
    await p.goto(`${appUrl}${APP}#/scorecard`);
    await card(p, 'Sunrise Supply (API seller)').getByText('No orders in this window.').waitFor();
    assert.deepEqual(await summaryRow(p, 'Sunrise Supply'), ['Sunrise Supply (API seller)', '0', '0', '—', '0', '0', '—']);
    assert.equal(await p.locator('canvas').count(), 0);
    await clean(p);
  });

  it('fits a phone-sized screen', serveOnly, async () => {
    const p = await page({ viewport: { width: 375, height: 740 } });
    await signIn(p, appUrl, KEYS.buyerApi);
    await p.goto(`${appUrl}${APP}#/scorecard?days=30`);
    await card(p, 'Sunrise Supply (API seller)').waitFor();
    assert.deepEqual(await charts(p), [['reasons-0', true], ['initiators-0', true], ['weekly-0', true], ['weekly-1', true]]);
    assert.equal(await p.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true);
    await screenshot(p, 'phone-scorecard');
    await clean(p);
  });
});
