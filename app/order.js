// The Order page: line items, the Order Summary with its cancellations, and
// the two cancellation flows (whole order; chosen items).
import { api, newIdempotencyKey, STALE_CODES } from './api.js';
import {
  h, say, warn, clearMessages, time, statusBadges, focusHeading, sentence, partyId, partyName,
} from './ui.js';

const SOURCE = {
  app: 'the app', api: 'the API', shopify: 'Shopify', woocommerce: 'WooCommerce',
  bigcommerce: 'BigCommerce', edi: 'EDI',
};
// The whole-order preview needs a reason; it is not stored (nothing is written).
const PREVIEW_REASON = 'preview';
// The reason codes and their labels, as docs/api.md lists them (a test
// checks this list against the service's).
export const REASON_CODES = [
  ['customer_request', 'Customer request'],
  ['out_of_stock', 'Out of stock'],
  ['discontinued', 'Discontinued'],
  ['pricing_error', 'Pricing error'],
  ['fraud', 'Suspected fraud'],
  ['address_undeliverable', 'Address undeliverable'],
  ['delayed', 'Delayed'],
  ['duplicate_order', 'Duplicate order'],
  ['payment_declined', 'Payment declined'],
  ['other', 'Other'],
];
const REASON_LABEL = new Map(REASON_CODES);
/** A chosen reason is complete: a code, and a note when the code is `other`. */
const reasonReady = (r) => Boolean(r?.code) && (r.code !== 'other' || r.note.trim() !== '');
/** What the API takes for a chosen reason: the code, and the note when there is one. */
const reasonBody = (r) => (r.note.trim() ? { reason_code: r.code, reason: r.note.trim() } : { reason_code: r.code });
/** A select of the codes, with a first option that chooses none. */
const codeSelect = (attrs, value = '') => h('select', attrs,
  h('option', { value: '' }, 'Choose a reason…'),
  REASON_CODES.map(([code, label]) => h('option', { value: code, selected: code === value ? '' : null }, label)));
/** How a cancelled item's reason reads: the label and the note (the note alone with `other`). */
function reasonText(it) {
  const note = it.reason ? h('q', {}, it.reason) : null;
  if (!it.reason_code || it.reason_code === 'other') return [note ?? 'Other'];
  const label = REASON_LABEL.get(it.reason_code) ?? it.reason_code;
  return note ? [label, ' — ', note] : [label];
}

const openUnits = (order) => order.line_items.reduce((n, l) => n + l.open, 0);
const itemName = (line) => line?.title || line?.sku || 'Unknown item';
const itemLabel = (line) => (line?.title ? `${line.title} (${line.sku})` : line?.sku ?? 'Unknown item');
const units = (n) => `${n} unit${n === 1 ? '' : 's'}`;

/** `current()` is false once the user has signed out or moved on: answers for this page are then dropped. */
export async function renderOrder(main, { id, me, current = () => true, onUnauthorized }) {
  const s = {
    order: null,
    pending: new Map(), // line id -> quantity to cancel
    reasons: new Map(), // line id -> {code, note}
    step: 'select', // or 'reasons'
    attempt: null, // {text, key}: one Idempotency-Key per distinct submission
  };
  const ediSeller = me.integration === 'edi' && me.role === 'seller';
  const lineById = (lineId) => s.order.line_items.find((l) => l.id === lineId);
  const describe = (items) =>
    items.map((it) => `${it.quantity} × ${itemName(lineById(it.line_item_id))}`).join(', ');

  /** The same key for a retry of the same submission, a new one otherwise. */
  function idempotencyKey(body) {
    const text = JSON.stringify(body);
    if (!s.attempt || s.attempt.text !== text) s.attempt = { text, key: newIdempotencyKey() };
    return s.attempt.key;
  }
  /** A 4xx answer is final for its key (it is replayed); only retry transient failures with it. */
  function settle(e) {
    if (!e || (e.status >= 400 && e.status < 500)) s.attempt = null;
  }

  function resetItems() {
    s.pending.clear();
    s.reasons.clear();
    s.step = 'select';
  }

  async function load() {
    try {
      const order = await api.order(id);
      if (!current()) return false;
      s.order = order;
      return true;
    } catch (e) {
      if (!current()) return false;
      if (e.status === 401) {
        onUnauthorized();
        return false;
      }
      main.replaceChildren(
        h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/orders' }, '← All orders')),
        h('h1', {}, e.status === 404 ? 'Order not found' : 'Could not load the order'),
        h('p', {}, sentence(e.message)));
      focusHeading(main);
      return false;
    }
  }

  /** Someone else changed the order: show its new state and say why. */
  async function stale(e) {
    resetItems();
    settle(e);
    if (await load()) {
      render('h1');
      warn(`${sentence(e.message)} The order was changed elsewhere; it now shows its current state.`);
    }
  }

  async function fail(e, flowError) {
    settle(e);
    if (e.status === 401) return onUnauthorized();
    if (STALE_CODES.has(e.code) || e.code === 'order_not_found') return stale(e);
    if (flowError) flowError.textContent = sentence(e.message);
    else warn(sentence(e.message));
  }

  // ----- whole order -------------------------------------------------------

  async function openCancelOrder(trigger) {
    clearMessages();
    trigger.disabled = true;
    let preview;
    try {
      preview = await api.previewOrderCancellation(id, PREVIEW_REASON);
    } catch (e) {
      trigger.disabled = false;
      return fail(e);
    }
    trigger.disabled = false;
    let busy = false;
    const code = codeSelect({ id: 'order-reason-code', required: true, 'aria-describedby': 'order-reason-hint' });
    const reason = h('input', {
      id: 'order-reason', type: 'text', maxlength: '500', autocomplete: 'off',
      'aria-describedby': 'order-reason-hint',
    });
    const chosen = () => ({ code: code.value, note: reason.value });
    const confirm = h('button', { type: 'submit', class: 'danger', id: 'confirm-cancel-order', disabled: true }, 'Cancel Order');
    const error = h('p', { class: 'flow-error', role: 'alert' });
    const dialog = h('dialog', { id: 'cancel-order-dialog', 'aria-labelledby': 'cancel-order-title' });
    const close = () => dialog.close();
    const update = () => {
      reason.required = code.value === 'other';
      confirm.disabled = busy || !reasonReady(chosen());
    };
    code.addEventListener('change', update);
    reason.addEventListener('input', update);
    dialog.addEventListener('cancel', (ev) => {
      if (busy) ev.preventDefault();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (trigger.isConnected) trigger.focus();
      else if (document.activeElement === document.body) focusHeading(main);
    });
    const submit = async (ev) => {
      ev.preventDefault();
      if (!reasonReady(chosen()) || busy) return;
      const body = reasonBody(chosen());
      busy = true;
      confirm.disabled = true;
      confirm.textContent = 'Cancelling…';
      error.textContent = '';
      try {
        const c = await api.cancel(id, body, idempotencyKey(body));
        s.attempt = null;
        busy = false;
        close();
        resetItems();
        if (await load()) {
          render('h1');
          say(`Order ${id} cancelled: ${describe(c.items)}.`);
        }
      } catch (e) {
        busy = false;
        confirm.textContent = 'Cancel Order';
        confirm.disabled = !reasonReady(chosen());
        if (STALE_CODES.has(e.code) || e.status === 401) close();
        fail(e, error);
      }
    };
    dialog.append(h('form', { onsubmit: submit, class: 'stack' },
      h('h2', { id: 'cancel-order-title' }, `Cancel order ${s.order.id}`),
      h('p', {}, 'These items will be cancelled:'),
      h('ul', { class: 'will-cancel', id: 'will-cancel' },
        preview.items.map((it) => h('li', {},
          h('strong', {}, `${it.quantity} ×`), ' ', itemLabel(lineById(it.line_item_id))))),
      h('label', { for: 'order-reason-code' }, 'Reason for cancellation'),
      code,
      h('label', { for: 'order-reason' }, 'Note for your partner'),
      reason,
      h('p', { class: 'hint', id: 'order-reason-hint' },
        'Your partner and its systems see the reason; add a note in your words if it helps (required with “Other”). Cancellation cannot be undone.'),
      error,
      h('div', { class: 'buttons' },
        confirm,
        h('button', { type: 'button', id: 'keep-order', onclick: close }, 'Keep Order'))));
    main.append(dialog);
    dialog.showModal();
    code.focus();
  }

  function cancelOrderControl() {
    if (!me.capabilities.cancel_order || openUnits(s.order) === 0) return null;
    if (!ediSeller) {
      const button = h('button', { type: 'button', class: 'danger', id: 'cancel-order' }, 'Cancel Order');
      button.addEventListener('click', () => openCancelOrder(button));
      return h('div', { class: 'actions' }, button);
    }
    // EDI sellers: Actions > Cancel Order.
    const toggle = h('button', {
      type: 'button', id: 'actions-button', 'aria-haspopup': 'menu',
      'aria-expanded': 'false', 'aria-controls': 'actions-menu',
    }, 'Actions ', h('span', { 'aria-hidden': 'true' }, '▾'));
    const item = h('button', { type: 'button', role: 'menuitem', id: 'menu-cancel-order', tabindex: '-1' }, 'Cancel Order');
    const menu = h('div', { role: 'menu', id: 'actions-menu', class: 'menu', 'aria-labelledby': 'actions-button', hidden: true }, item);
    const wrap = h('div', { class: 'actions menu-wrap' }, toggle, menu);
    const setOpen = (open, focusBack) => {
      menu.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      if (open) item.focus();
      else if (focusBack) toggle.focus();
    };
    toggle.addEventListener('click', () => setOpen(menu.hidden));
    toggle.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowDown') {
        ev.preventDefault();
        setOpen(true);
      }
    });
    menu.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        setOpen(false, true);
      } else if (ev.key === 'Tab') {
        setOpen(false);
      }
    });
    wrap.addEventListener('focusout', (ev) => {
      if (!wrap.contains(ev.relatedTarget)) setOpen(false);
    });
    item.addEventListener('click', () => {
      setOpen(false);
      openCancelOrder(toggle);
    });
    return wrap;
  }

  // ----- items -------------------------------------------------------------

  const quantityOk = (line, q) => Number.isInteger(q) && q >= 1 && q <= line.open;

  function itemControl(line, index) {
    if (s.step === 'reasons') {
      return s.pending.has(line.id) ? h('span', { class: 'badge c-partial' }, `Cancelling ${s.pending.get(line.id)}`) : null;
    }
    if (line.open === 0) return null;
    const name = itemName(line);
    if (!s.pending.has(line.id)) {
      return h('button', {
        type: 'button', class: 'small cancel-item', id: `cancel-item-${index}`,
        'aria-label': `Cancel ${name}`,
        onclick() {
          clearMessages();
          s.pending.set(line.id, line.open);
          render(`#qty-${index}`);
        },
      }, 'Cancel');
    }
    const qty = h('input', {
      id: `qty-${index}`, type: 'number', inputmode: 'numeric', min: '1', max: String(line.open),
      step: '1', value: Number.isFinite(s.pending.get(line.id)) ? String(s.pending.get(line.id)) : '', class: 'qty',
      'aria-describedby': `qty-hint-${index}`,
    });
    qty.addEventListener('input', () => {
      const q = Number(qty.value);
      const ok = quantityOk(line, q);
      qty.setAttribute('aria-invalid', String(!ok));
      if (ok) s.pending.set(line.id, q);
      else s.pending.set(line.id, NaN);
      const update = document.getElementById('update-order');
      if (update) update.disabled = ![...s.pending.entries()].every(([lid, n]) => quantityOk(lineById(lid), n));
    });
    return h('div', { class: 'qty-control' },
      h('label', { for: `qty-${index}` }, 'Quantity to cancel', h('span', { class: 'visually-hidden' }, ` of ${name}`)),
      qty,
      h('span', { class: 'hint', id: `qty-hint-${index}` }, `1 to ${line.open}`),
      h('button', {
        type: 'button', class: 'small link', id: `keep-item-${index}`, 'aria-label': `Keep ${name}`,
        onclick() {
          s.pending.delete(line.id);
          render(`#cancel-item-${index}`);
        },
      }, 'Keep'));
  }

  function cancelUpdate() {
    resetItems();
    s.attempt = null;
    render('#summary-title');
    say('Pending item cancellations discarded; nothing was changed.');
  }

  function updateBar() {
    if (s.step !== 'select' || s.pending.size === 0) return null;
    const allOk = [...s.pending.entries()].every(([lid, n]) => quantityOk(lineById(lid), n));
    return h('div', { class: 'update-bar', role: 'group', 'aria-label': 'Item cancellations' },
      h('p', {}, `${s.pending.size} item${s.pending.size === 1 ? '' : 's'} selected to cancel.`),
      h('div', { class: 'buttons' },
        h('button', {
          type: 'button', class: 'primary', id: 'update-order', disabled: !allOk,
          onclick() {
            s.step = 'reasons';
            render('#reason-code-0');
          },
        }, 'Update Order'),
        h('button', { type: 'button', id: 'cancel-update', onclick: cancelUpdate }, 'Cancel Update')));
  }

  function reasonsStep() {
    if (s.step !== 'reasons') return null;
    let busy = false;
    const entries = [...s.pending.entries()];
    const confirm = h('button', { type: 'submit', class: 'danger', id: 'confirm-update-order' }, 'Update Order');
    const error = h('p', { class: 'flow-error', role: 'alert' });
    const allReasons = () => entries.every(([lid]) => reasonReady(s.reasons.get(lid)));
    confirm.disabled = !allReasons();
    const submit = async (ev) => {
      ev.preventDefault();
      if (busy || !allReasons()) return;
      const body = {
        items: entries.map(([lid, quantity]) => ({
          line_item_id: lid, quantity, ...reasonBody(s.reasons.get(lid)),
        })),
      };
      busy = true;
      confirm.disabled = true;
      confirm.textContent = 'Updating…';
      error.textContent = '';
      try {
        const c = await api.cancel(id, body, idempotencyKey(body));
        s.attempt = null;
        resetItems();
        if (await load()) {
          render('h1');
          say(`Order updated: cancelled ${describe(c.items)}.`);
        }
      } catch (e) {
        busy = false;
        confirm.textContent = 'Update Order';
        confirm.disabled = !allReasons();
        fail(e, error);
      }
    };
    return h('section', { class: 'panel', 'aria-labelledby': 'items-to-cancel-title' },
      h('h3', { id: 'items-to-cancel-title' }, 'Items to cancel'),
      h('p', {}, 'These items will be cancelled when you update the order. Choose a reason for each; cancellation cannot be undone.'),
      h('form', { onsubmit: submit, class: 'stack' },
        h('ul', { class: 'reason-list' },
          entries.map(([lid, quantity], i) => {
            const line = lineById(lid);
            const was = s.reasons.get(lid) ?? { code: '', note: '' };
            const code = codeSelect({ id: `reason-code-${i}`, required: true }, was.code);
            const input = h('input', {
              id: `reason-${i}`, type: 'text', maxlength: '500', autocomplete: 'off',
              value: was.note, required: was.code === 'other',
            });
            const update = () => {
              s.reasons.set(lid, { code: code.value, note: input.value });
              input.required = code.value === 'other';
              if (!busy) confirm.disabled = !allReasons();
            };
            code.addEventListener('change', update);
            input.addEventListener('input', update);
            const hidden = h('span', { class: 'visually-hidden' }, ` for cancelling ${itemName(line)}`);
            return h('li', {},
              h('p', {}, h('strong', {}, `${quantity} ×`), ' ', itemLabel(line)),
              h('label', { for: `reason-code-${i}` }, 'Reason', hidden),
              code,
              h('label', { for: `reason-${i}` }, 'Note', hidden.cloneNode(true)),
              input);
          })),
        h('p', { class: 'hint' }, 'Your partner and its systems see each reason; a note is required with “Other”.'),
        error,
        h('div', { class: 'buttons' },
          confirm,
          h('button', { type: 'button', id: 'cancel-update', onclick: cancelUpdate }, 'Cancel Update'))));
  }

  // ----- page --------------------------------------------------------------

  function party(role) {
    return `the ${role}, ${partyName(s.order, role)}${partyId(s.order, role) === me.id ? ' (you)' : ''}`;
  }

  function cancellations() {
    const list = s.order.cancellations;
    if (list.length === 0) return h('p', { class: 'empty', id: 'no-cancellations' }, 'No cancellations.');
    return h('ol', { class: 'cancellations', id: 'cancellations' },
      list.map((c) => h('li', { class: 'cancellation' },
        h('p', { class: 'cancelled-by' },
          h('strong', {}, c.kind === 'order' ? 'Order cancelled' : 'Items cancelled'),
          ` by ${party(c.initiated_by)} via ${SOURCE[c.source] ?? c.source} on `, time(c.created_at)),
        h('ul', {},
          c.items.map((it) => h('li', {},
            h('strong', {}, `${it.quantity} ×`), ' ', itemLabel(lineById(it.line_item_id)),
            ': ', ...reasonText(it)))))));
  }

  function itemsTable() {
    const withControls = me.capabilities.cancel_items && !s.order.complete;
    return h('table', { class: 'items responsive', id: 'line-items' },
      h('caption', { class: 'visually-hidden' }, 'Line items with ordered, fulfilled, cancelled and open quantities'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Item'),
        h('th', { scope: 'col', class: 'num' }, 'Ordered'),
        h('th', { scope: 'col', class: 'num' }, 'Fulfilled'),
        h('th', { scope: 'col', class: 'num' }, 'Cancelled'),
        h('th', { scope: 'col', class: 'num' }, 'Open'),
        withControls ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Cancel items')) : null)),
      h('tbody', {}, s.order.line_items.map((line, i) => h('tr', { 'data-line': line.id },
        h('th', { scope: 'row', 'data-label': 'Item' },
          h('span', { class: 'title' }, line.title ?? line.sku), ' ', h('span', { class: 'sku' }, line.sku)),
        h('td', { class: 'num', 'data-label': 'Ordered' }, line.quantity),
        h('td', { class: 'num', 'data-label': 'Fulfilled' }, line.fulfilled),
        h('td', { class: 'num', 'data-label': 'Cancelled' }, line.cancelled),
        h('td', { class: 'num', 'data-label': 'Open' }, line.open),
        withControls ? h('td', { class: 'control' }, itemControl(line, i)) : null))));
  }

  function explanation() {
    if (me.capabilities.cancel_order || me.capabilities.cancel_items) {
      if (openUnits(s.order) === 0) {
        return h('p', { class: 'note' }, 'Every unit of this order is fulfilled or cancelled: there is nothing left to cancel.');
      }
      if (ediSeller) {
        return h('p', { class: 'note' }, 'EDI sellers cancel whole orders only: use Actions > Cancel Order.');
      }
      return null;
    }
    if (me.integration === 'edi' && me.role === 'buyer') {
      return h('p', { class: 'note', id: 'no-cancel-note' },
        'EDI buyers cannot create cancellations in the app yet. You are emailed when your seller cancels an order.');
    }
    return h('p', { class: 'note', id: 'no-cancel-note' }, 'Your company cannot cancel orders in the app.');
  }

  function render(focus) {
    const o = s.order;
    const refs = [
      o.buyer_order_ref ? `Buyer ref ${o.buyer_order_ref}` : null,
      o.seller_order_ref ? `Seller ref ${o.seller_order_ref}` : null,
    ].filter(Boolean).join(' · ');
    const parts = [
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/orders' }, '← All orders')),
      h('div', { class: 'page-head' },
        h('div', {},
          h('h1', { tabindex: '-1' }, `Order ${o.id}`),
          h('p', { class: 'sub' }, refs ? `${refs} · ` : '', 'Created ', time(o.created_at))),
        cancelOrderControl()),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', {}, 'Buyer'), h('dd', {}, partyName(o, 'buyer'), o.buyer_id === me.id ? ' (you)' : '')),
        h('div', {}, h('dt', {}, 'Seller'), h('dd', {}, partyName(o, 'seller'), o.seller_id === me.id ? ' (you)' : '')),
        h('div', {}, h('dt', {}, 'Status'), h('dd', { class: 'badges', id: 'order-status' }, statusBadges(o))),
        h('div', {}, h('dt', {}, 'Updated'), h('dd', {}, time(o.updated_at)))),
      explanation(),
      h('section', { class: 'card', 'aria-labelledby': 'summary-title', id: 'order-summary' },
        h('h2', { id: 'summary-title', tabindex: '-1' }, 'Order Summary'),
        itemsTable(),
        updateBar(),
        reasonsStep(),
        h('h3', {}, 'Cancellations'),
        cancellations())];
    main.replaceChildren(...parts.filter(Boolean));
    const target = focus && main.querySelector(focus);
    if (target) target.focus();
  }

  main.replaceChildren(h('p', { class: 'loading' }, 'Loading order…'));
  if (await load()) {
    render();
    focusHeading(main);
  }
}
