// The app shell: sign-in, the Orders page, and routing (#/orders, #/orders/ID,
// #/scorecard).
import { api, session, ApiError } from './api.js';
import {
  h, say, warn, clearMessages, time, statusBadges, focusHeading, sentence, INTEGRATION, partyName,
} from './ui.js';
import { renderOrder } from './order.js';
import { renderScorecard, destroyCharts } from './scorecard.js';

const PAGE_SIZE = 20;
const main = document.getElementById('main');
let me = null;
// Bumped by every route and sign-out: an answer that arrives for an earlier
// page (the user signed out or moved on meanwhile) is dropped.
let view = 0;

function show(...nodes) {
  main.replaceChildren(...nodes);
  focusHeading(main);
}

/** A 401 anywhere: the key is no longer good; back to sign-in. */
export function signOut(message) {
  view += 1;
  session.clear();
  me = null;
  document.getElementById('who').hidden = true;
  document.getElementById('nav').hidden = true;
  destroyCharts();
  if (location.hash && location.hash !== '#/') {
    history.replaceState(null, '', location.pathname + location.search);
  }
  signInPage();
  if (message) warn(message);
}

function signInPage() {
  const input = h('input', {
    id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'off', required: true, 'aria-describedby': 'api-key-help',
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', {
    class: 'stack',
    async onsubmit(event) {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) {
        warn('Enter your company API key.');
        input.focus();
        return;
      }
      button.disabled = true;
      try {
        me = await api.me(key);
        session.set(key);
        clearMessages();
        if (!/^#\/(orders|scorecard)/.test(location.hash)) location.hash = '#/orders';
        else route();
      } catch (e) {
        warn(e.status === 401 ? 'That API key was not accepted. Check it and try again.' : sentence(e.message));
        input.focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  h('label', { for: 'api-key' }, 'Company API key'),
  input,
  h('p', { id: 'api-key-help', class: 'hint' },
    'The key stays in this browser tab only and is forgotten when the tab is closed.'),
  button);
  show(h('section', { class: 'card narrow' }, h('h1', {}, 'Sign in'), form));
}

function showWho() {
  const who = document.getElementById('who');
  document.getElementById('company').textContent =
    `${me.name} · ${me.role} · ${INTEGRATION[me.integration] ?? me.integration}`;
  who.hidden = false;
  document.getElementById('nav').hidden = false;
}

/** Mark the navigation link of the part shown ('orders' or 'scorecard'). */
function markNav(part) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.hash === `#/${part}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** The partner company, by name. */
function partnerOf(order) {
  return partyName(order, me.id === order.buyer_id ? 'seller' : 'buyer');
}

function orderRow(order) {
  const ref = me.role === 'seller' ? (order.seller_order_ref ?? order.buyer_order_ref) : order.buyer_order_ref;
  return h('tr', {},
    h('th', { scope: 'row', 'data-label': 'Order' }, h('a', { href: `#/orders/${encodeURIComponent(order.id)}` }, order.id)),
    h('td', { 'data-label': 'Reference' }, ref ?? '—'),
    h('td', { 'data-label': me.role === 'buyer' ? 'Seller' : 'Buyer' }, partnerOf(order)),
    h('td', { 'data-label': 'Created' }, time(order.created_at)),
    h('td', { 'data-label': 'Status' }, h('span', { class: 'badges' }, statusBadges(order))));
}

async function ordersPage(params, current) {
  const status = ['open', 'complete'].includes(params.get('status')) ? params.get('status') : '';
  const limit = Math.min(Math.max(Number.parseInt(params.get('limit') ?? '', 10) || PAGE_SIZE, 1), 100);
  const tbody = h('tbody');
  const more = h('button', { type: 'button', id: 'more-orders', hidden: true }, 'Load more orders');
  const count = h('p', { class: 'hint', id: 'orders-count', 'aria-live': 'polite' });
  const empty = h('p', { class: 'empty', hidden: true },
    status ? `No ${status} orders.` : 'No orders yet.');
  const filter = h('select', {
    id: 'status-filter',
    onchange() {
      const q = new URLSearchParams();
      if (filter.value) q.set('status', filter.value);
      if (params.get('limit')) q.set('limit', String(limit));
      const qs = q.toString();
      location.hash = '#/orders' + (qs ? `?${qs}` : '');
    },
  },
  h('option', { value: '' }, 'All orders'),
  h('option', { value: 'open' }, 'Open'),
  h('option', { value: 'complete' }, 'Complete'));
  filter.value = status;
  const table = h('table', { class: 'orders responsive' },
    h('caption', { class: 'visually-hidden' }, 'Your orders, newest first'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Order'),
      h('th', { scope: 'col' }, 'Reference'),
      h('th', { scope: 'col' }, me.role === 'buyer' ? 'Seller' : 'Buyer'),
      h('th', { scope: 'col' }, 'Created'),
      h('th', { scope: 'col' }, 'Status'))),
    tbody);
  show(h('section', {},
    h('div', { class: 'page-head' },
      h('h1', {}, 'Orders'),
      h('div', { class: 'field-inline' }, h('label', { for: 'status-filter' }, 'Show'), filter)),
    table, empty, count, more));

  let cursor = null;
  let shown = 0;
  const load = async () => {
    more.disabled = true;
    try {
      const page = await api.orders({ status, cursor, limit });
      if (!current()) return 0;
      for (const o of page.orders) tbody.append(orderRow(o));
      shown += page.orders.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = shown > 0;
      table.hidden = shown === 0;
      count.textContent = shown ? `Showing ${shown} order${shown === 1 ? '' : 's'}${cursor ? '' : ' (all)'}.` : '';
      return page.orders.length;
    } catch (e) {
      if (!current()) return 0;
      if (e instanceof ApiError && e.status === 401) return signOut('Your API key is no longer accepted. Sign in again.');
      warn(`Could not load orders: ${sentence(e.message)}`);
      return 0;
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', async () => {
    const before = tbody.rows.length;
    await load();
    // Keep the keyboard where the new rows start.
    tbody.rows[before]?.querySelector('a')?.focus();
  });
  await load();
}

async function route() {
  view += 1;
  const token = view;
  const current = () => token === view;
  if (!session.key()) return signInPage();
  if (!me) {
    let who;
    try {
      who = await api.me();
    } catch (e) {
      if (!current()) return undefined;
      if (e.status === 401) return signOut('Your API key is no longer accepted. Sign in again.');
      main.replaceChildren(h('p', {}, 'The service could not be reached.'));
      return warn(sentence(e.message));
    }
    if (!current()) return undefined;
    me = who;
  }
  showWho();
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  destroyCharts();
  if (path === '/scorecard') {
    markNav('scorecard');
    return renderScorecard(main, {
      me, params: new URLSearchParams(query), current,
      onUnauthorized: () => signOut('Your API key is no longer accepted. Sign in again.'),
    });
  }
  markNav('orders');
  const order = /^\/orders\/([^/]+)$/.exec(path);
  if (order) {
    let id;
    try {
      id = decodeURIComponent(order[1]);
    } catch {
      id = order[1];
    }
    return renderOrder(main, {
      id, me, current, onUnauthorized: () => signOut('Your API key is no longer accepted. Sign in again.'),
    });
  }
  if (path !== '/orders') {
    history.replaceState(null, '', '#/orders');
  }
  return ordersPage(new URLSearchParams(query), current);
}

window.addEventListener('hashchange', () => {
  clearMessages();
  route();
});
document.getElementById('sign-out').addEventListener('click', () => {
  clearMessages();
  signOut();
  say('Signed out.');
});
route();
