// Shared by the browser tests: a fresh `dropship serve` on a free port with
// the demo seed (or, with DROPSHIP_APP_URL set, a deployed stack), Debian
// Chromium driven by playwright-core, and API helpers.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(repo, 'target', 'browser-tests');
const modules = process.env.PLAYWRIGHT_MODULES ?? join(work, 'node_modules');
export const SCREENSHOTS = process.env.SCREENSHOTS ?? join(work, 'screenshots');
const BIN = process.env.DROPSHIP_BIN ?? join(repo, 'target', 'debug', 'dropship');

// playwright-core lives in the cached install dir, not beside this file.
const { chromium } = createRequire(join(modules, 'noop.js'))('playwright-core');

export const KEYS = {
  buyerApi: 'demo-buyer-api-key',
  sellerApi: 'demo-seller-api-key',
  buyerEdi: 'demo-buyer-edi-key',
  sellerEdi: 'demo-seller-edi-key',
};

/** The app's entry page, under the origin that serves the app and the API. */
export const APP = '/app/index.html';

/**
 * Where the tests run. With DROPSHIP_APP_URL set, against a deployed stack
 * seeded with the demo seed: the browser loads the app from that origin and
 * the tests' own API calls go to DROPSHIP_API_URL (the same API, addressed so
 * that node can reach it); `stack` is true. Otherwise a fresh `dropship serve`
 * is both.
 */
export async function startTarget() {
  const appUrl = process.env.DROPSHIP_APP_URL;
  if (appUrl) {
    const apiUrl = process.env.DROPSHIP_API_URL ?? appUrl;
    return { appUrl: appUrl.replace(/\/+$/, ''), apiUrl: apiUrl.replace(/\/+$/, ''), stack: true, async stop() {} };
  }
  const server = await startServer();
  return { appUrl: server.url, apiUrl: server.url, stack: false, stop: () => server.stop() };
}

/** True when the tests run against a deployed stack (see startTarget). */
export const ON_STACK = Boolean(process.env.DROPSHIP_APP_URL);

/** `dropship serve --port 0` on an empty data dir (so the demo seed is loaded). */
export async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'dropship-browser-'));
  const child = spawn(BIN, ['serve', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('dropship serve did not start in 30 s')), 30_000);
    child.once('exit', (code) => fail(new Error(`dropship serve exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^dropship serving (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  // launch() gives every browser a fresh, temporary --user-data-dir.
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** A new page in its own context (own sessionStorage) that fails on console errors. */
export async function newPage(browser, { viewport = { width: 1200, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Failed API calls are expected in some tests (4xx answers); anything else is a bug.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) {
      page.problems.push(`console: ${m.text()}`);
    }
  });
  return page;
}

export async function signIn(page, url, key) {
  await page.goto(url + APP);
  await page.getByLabel('Company API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();
}

/** Call the API directly (as another user would), returning {status, body}. */
export async function call(url, key, method, path, body, headers = {}) {
  const res = await fetch(url + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

let orderCount = 0;
/** A new order from `buyerKey` to `sellerId`: 3 mugs and 2 plates. */
export async function createOrder(url, buyerKey, sellerId) {
  orderCount += 1;
  const r = await call(url, buyerKey, 'POST', '/v1/orders', {
    seller_id: sellerId,
    buyer_order_ref: `PO-T${orderCount}`,
    line_items: [
      { id: 'li_1', sku: 'MUG-BLUE', title: 'Blue enamel mug', quantity: 3 },
      { id: 'li_2', sku: 'PLATE-WHT', title: 'White plate', quantity: 2 },
    ],
  });
  if (r.status !== 201) throw new Error(`create order: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
