// Small DOM helpers: elements are built, never parsed from strings, so no
// API value can inject markup.

/** h('p', {class: 'x', onclick: f}, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name in el && typeof value !== 'string') {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const messages = () => document.getElementById('messages');
const errors = () => document.getElementById('errors');

/** A polite status message (e.g. "Order cancelled"). */
export function say(text) {
  errors().replaceChildren();
  messages().replaceChildren(h('p', { class: 'note ok' }, text));
}

/** An error message, announced at once. */
export function warn(text) {
  messages().replaceChildren();
  errors().replaceChildren(h('p', { class: 'note error' }, text));
}

export function clearMessages() {
  messages().replaceChildren();
  errors().replaceChildren();
}

/** 2026-11-01T09:00:00Z -> <time>2026-11-01 09:00 UTC</time> */
export function time(iso) {
  const d = new Date(iso);
  const text = Number.isNaN(d.getTime())
    ? String(iso)
    : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  return h('time', { datetime: iso }, text);
}

const FULFILLMENT = { unfulfilled: 'Unfulfilled', partial: 'Partially fulfilled', fulfilled: 'Fulfilled' };
const CANCELLATION = { none: 'Not cancelled', partial: 'Partially cancelled', cancelled: 'Cancelled' };

/** The company id of the order's `role` ('buyer' or 'seller'). */
export const partyId = (order, role) => (role === 'buyer' ? order.buyer_id : order.seller_id);

/** The company name of the order's `role`; its id where none was given. */
export function partyName(order, role) {
  const name = role === 'buyer' ? order.buyer_name : order.seller_name;
  return typeof name === 'string' && name.trim() ? name : partyId(order, role);
}

export function statusBadges(order) {
  return [
    h('span', { class: `badge ${order.complete ? 'done' : 'open'}` }, order.complete ? 'Complete' : 'Open'),
    h('span', { class: `badge f-${order.fulfillment_status}` }, FULFILLMENT[order.fulfillment_status] ?? order.fulfillment_status),
    order.cancellation_status === 'none'
      ? null
      : h('span', { class: `badge c-${order.cancellation_status}` }, CANCELLATION[order.cancellation_status] ?? order.cancellation_status),
  ];
}

/** Move focus to a page's heading so keyboard and screen-reader users start there. */
export function focusHeading(root) {
  const h1 = root.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
  }
}

/** "the order has no open units" -> "The order has no open units." */
export function sentence(text) {
  const t = String(text ?? '').trim();
  if (!t) return '';
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

export const INTEGRATION = {
  api: 'API', edi: 'EDI', shopify: 'Shopify', woocommerce: 'WooCommerce', bigcommerce: 'BigCommerce',
};
