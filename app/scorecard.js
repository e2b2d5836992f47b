// The Scorecard page (#/scorecard?days=N): per partner, how much of what was
// ordered in the window was cancelled, why, by whom, and week by week.
import { api, ApiError } from './api.js';
import { h, warn, focusHeading, sentence } from './ui.js';
import { REASON_CODES } from './order.js';

export const WINDOWS = [7, 30, 90];
const DEFAULT_DAYS = 30;
const COLORS = { orders: '#1d4ed8', cancelled: '#b42318', buyer: '#1d4ed8', seller: '#d97706' };

const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });
/** A share as a percentage; "—" when there is nothing to divide by. */
export const rate = (part, whole) => (whole > 0 ? percent.format(part / whole) : '—');
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// Charts of the page on screen, destroyed when it is left (Chart.js keeps
// every instance, with its resize observer, until then).
let charts = [];
export function destroyCharts() {
  for (const c of charts) c.destroy();
  charts = [];
}

let chartLib = null;
/** Chart.js (a UMD build: as a module it sets globalThis.Chart), loaded on first use. */
async function loadChart() {
  if (!chartLib) {
    chartLib = import('./chart.umd.min.js').then(() => {
      const { Chart } = globalThis;
      const root = getComputedStyle(document.documentElement);
      Chart.defaults.font.family = root.fontFamily;
      Chart.defaults.color = root.getPropertyValue('--muted').trim() || '#52606d';
      // Respect the reduced-motion setting; it also makes charts draw at once.
      if (matchMedia('(prefers-reduced-motion: reduce)').matches) Chart.defaults.animation = false;
      Chart.defaults.plugins.legend.labels.boxWidth = 12;
      return Chart;
    });
    chartLib.catch(() => {
      chartLib = null;
    });
  }
  return chartLib;
}

/** A small table of the chart's numbers: `head` are column titles, `rows` arrays of cells (the first a row header). */
function dataTable(caption, head, rows) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, head.map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t)))),
    h('tbody', {}, rows.map(([first, ...rest]) => h('tr', {},
      h('th', { scope: 'row' }, first),
      rest.map((v) => h('td', { class: 'num' }, v)))))));
}

/** One chart: a heading, the canvas (an image to assistive technology, described by `label`) and its numbers. */
function chartBlock(id, title, label, table, config) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': label });
  return { node: h('div', { class: 'chart' }, h('h3', {}, title), h('div', { class: 'chart-box' }, canvas), table), canvas, config };
}

function reasonChart(p, key) {
  const rows = REASON_CODES.map(([code, label]) => [label, p.by_reason?.[code] ?? 0]).filter(([, n]) => n > 0);
  const text = rows.map(([label, n]) => `${label} ${n}`).join(', ');
  return chartBlock(`reasons-${key}`, 'Units cancelled by reason', `Units cancelled by reason: ${text}.`,
    dataTable(`Units cancelled by reason, ${p.partner_name}`, ['Reason', 'Units'], rows), {
      type: 'bar',
      data: {
        labels: rows.map(([label]) => label),
        datasets: [{ label: 'Units cancelled', data: rows.map(([, n]) => n), backgroundColor: COLORS.cancelled }],
      },
      options: {
        indexAxis: 'y',
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
}

function initiatorChart(p, key, me) {
  const rows = ['buyer', 'seller'].map((role) => [
    `${role === 'buyer' ? 'Buyer' : 'Seller'}${me.role === role ? ' (you)' : ''}`, p.by_initiator?.[role] ?? 0]);
  const text = rows.map(([who, n]) => `${who} ${n}`).join(', ');
  return chartBlock(`initiators-${key}`, 'Who cancelled (units)', `Units cancelled by who cancelled: ${text}.`,
    dataTable(`Units cancelled by who cancelled, ${p.partner_name}`, ['Cancelled by', 'Units'], rows), {
      type: 'doughnut',
      data: {
        labels: rows.map(([who]) => who),
        datasets: [{ data: rows.map(([, n]) => n), backgroundColor: [COLORS.buyer, COLORS.seller] }],
      },
      options: { maintainAspectRatio: false, plugins: { legend: { position: 'bottom' } } },
    });
}

function weeklyChart(p, key) {
  const weeks = p.weekly ?? [];
  const span = weeks.length ? ` from the week of ${weeks[0].week_start} to that of ${weeks.at(-1).week_start}` : '';
  const rows = weeks.map((w) => [w.week_start, w.orders, w.orders_cancelled, rate(w.orders_cancelled, w.orders)]);
  const block = chartBlock(`weekly-${key}`, 'Week by week',
    `Orders and orders cancelled per week${span}; the table with it lists each week.`,
    dataTable(`Orders and orders cancelled per week, ${p.partner_name}`,
      ['Week of', 'Orders', 'Cancelled', 'Rate'], rows), {
      type: 'line',
      data: {
        labels: weeks.map((w) => w.week_start),
        datasets: [
          { label: 'Orders', data: weeks.map((w) => w.orders), borderColor: COLORS.orders, backgroundColor: COLORS.orders },
          { label: 'Orders cancelled', data: weeks.map((w) => w.orders_cancelled), borderColor: COLORS.cancelled, backgroundColor: COLORS.cancelled },
        ],
      },
      options: {
        maintainAspectRatio: false,
        plugins: { legend: { position: 'bottom' } },
        scales: {
          // Month and day on the axis; the table gives the full dates.
          x: { ticks: { maxRotation: 0, callback(value) { return this.getLabelForValue(value).slice(5); } } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    });
  block.node.classList.add('wide');
  return block;
}

function partnerCard(p, index, me) {
  const key = String(index);
  const blocks = p.units_cancelled > 0 ? [reasonChart(p, key), initiatorChart(p, key, me)] : [];
  if (p.orders > 0) blocks.push(weeklyChart(p, key));
  let none = null;
  if (p.orders === 0) none = 'No orders in this window.';
  else if (p.units_cancelled === 0) none = 'No units cancelled in this window.';
  const node = h('section', { class: 'card partner', 'aria-labelledby': `partner-${key}` },
    h('h2', { id: `partner-${key}` }, p.partner_name || p.partner_id),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Order cancel rate'), h('dd', { class: 'rate' }, rate(p.orders_cancelled, p.orders)),
        h('dd', { class: 'hint' }, `${p.orders_cancelled} of ${plural(p.orders, 'order')}`)),
      h('div', {}, h('dt', {}, 'Unit cancel rate'), h('dd', { class: 'rate' }, rate(p.units_cancelled, p.units)),
        h('dd', { class: 'hint' }, `${p.units_cancelled} of ${plural(p.units, 'unit')}`))),
    none && h('p', { class: 'empty' }, none),
    h('div', { class: 'charts' }, blocks.map((b) => b.node)));
  return { node, blocks };
}

function summaryTable(partners, me) {
  const partnerRole = me.role === 'buyer' ? 'Seller' : 'Buyer';
  return h('table', { id: 'scorecard-summary' },
    h('caption', { class: 'visually-hidden' }, 'Cancellation rates per partner'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, partnerRole),
      h('th', { scope: 'col', class: 'num' }, 'Orders'),
      h('th', { scope: 'col', class: 'num' }, 'Orders cancelled'),
      h('th', { scope: 'col', class: 'num' }, 'Order cancel rate'),
      h('th', { scope: 'col', class: 'num' }, 'Units'),
      h('th', { scope: 'col', class: 'num' }, 'Units cancelled'),
      h('th', { scope: 'col', class: 'num' }, 'Unit cancel rate'))),
    h('tbody', {}, partners.map((p) => h('tr', {},
      h('th', { scope: 'row' }, p.partner_name || p.partner_id),
      h('td', { class: 'num' }, p.orders),
      h('td', { class: 'num' }, p.orders_cancelled),
      h('td', { class: 'num' }, rate(p.orders_cancelled, p.orders)),
      h('td', { class: 'num' }, p.units),
      h('td', { class: 'num' }, p.units_cancelled),
      h('td', { class: 'num' }, rate(p.units_cancelled, p.units))))));
}

/** Fetch the CSV with the app's key and save it: a Blob URL followed with `download` (no CSP directive governs downloads). */
async function downloadCsv(button, days, me, onUnauthorized) {
  button.disabled = true;
  try {
    const blob = await api.scorecardCsv(days);
    const url = URL.createObjectURL(blob);
    h('a', { href: url, download: `scorecard-${me.id}-${days}-days.csv` }).click();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  } catch (e) {
    if (e.status === 401) return onUnauthorized();
    warn(`Could not download the scorecard: ${sentence(e.message)}`);
  } finally {
    button.disabled = false;
  }
  return undefined;
}

/** `current()` is false once the user has signed out or moved on. */
export async function renderScorecard(main, { me, params, current = () => true, onUnauthorized }) {
  destroyCharts();
  const asked = Number(params.get('days'));
  const days = WINDOWS.includes(asked) ? asked : DEFAULT_DAYS;
  const choice = h('select', {
    id: 'scorecard-days',
    onchange() {
      location.hash = `#/scorecard?days=${choice.value}`;
    },
  }, WINDOWS.map((d) => h('option', { value: String(d) }, `Last ${d} days`)));
  choice.value = String(days);
  const download = h('button', { type: 'button', id: 'download-csv' }, 'Download CSV');
  download.addEventListener('click', () => downloadCsv(download, days, me, onUnauthorized));
  const body = h('div', { id: 'scorecard', 'data-days': days, 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading the scorecard…'));
  main.replaceChildren(h('section', {},
    h('div', { class: 'page-head' },
      h('div', {},
        h('h1', {}, 'Scorecard'),
        h('p', { class: 'sub' }, `Orders created in the last ${days} days with each partner, and the units cancelled on them. `
          + 'An order counts as cancelled once any of its units is.')),
      h('div', { class: 'buttons' },
        h('div', { class: 'field-inline' }, h('label', { for: 'scorecard-days' }, 'Window'), choice),
        download)),
    body));
  focusHeading(main);

  let card;
  let Chart;
  try {
    [card, Chart] = await Promise.all([api.scorecard(days), loadChart()]);
  } catch (e) {
    if (!current()) return;
    if (e.status === 401) {
      onUnauthorized();
      return;
    }
    body.removeAttribute('aria-busy');
    body.replaceChildren(h('p', {}, 'The scorecard could not be loaded.'));
    warn(e instanceof ApiError ? sentence(e.message) : 'The chart library could not be loaded. Reload the page to try again.');
    return;
  }
  if (!current()) return;
  body.removeAttribute('aria-busy');
  const partners = card.partners ?? [];
  if (partners.length === 0) {
    body.replaceChildren(h('p', { class: 'empty', id: 'scorecard-empty' },
      `No orders with any partner in the last ${days} days.`));
    return;
  }
  const cards = partners.map((p, i) => partnerCard(p, i, me));
  body.replaceChildren(summaryTable(partners, me), ...cards.map((c) => c.node));
  charts = cards.flatMap((c) => c.blocks).map((b) => new Chart(b.canvas, b.config));
}
