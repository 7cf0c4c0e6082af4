/** Tiny DOM and formatting helpers: h() builds elements (text is always set as text, never as HTML). */

/**
 * Creates an element. Attributes starting with "on" become listeners; `text` sets textContent.
 * @example h('button', { class: 'danger', onclick: go }, 'Suspend')
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'class') el.className = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const pct = (x) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : '–');
export const num = (x, digits = 4) => (typeof x === 'number' ? x.toFixed(digits) : '–');
export const short = (hex, n = 12) => (typeof hex === 'string' ? `${hex.slice(0, n)}…` : '–');
export const when = (ms) => (typeof ms === 'number' ? new Date(ms).toLocaleString() : '–');
export const time = (ms) => (typeof ms === 'number' ? new Date(ms).toLocaleTimeString() : '–');

/** "4 m 05 s" from milliseconds (never negative). */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
  if (s >= 60) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
  return `${s} s`;
}

/** A state word as a coloured chip. */
export const chip = (state, testid) => h('span', { class: `chip chip-${state}`, 'data-testid': testid }, state);

/**
 * Previous/next buttons and "from-to of total".
 * @example pager({ offset: 0, limit: 20, total: 95, onpage: (offset) => load(offset) })
 */
export function pager({ offset, limit, total, onpage, testid = 'pager' }) {
  const last = Math.max(0, total - 1);
  return h(
    'div',
    { class: 'pager', 'data-testid': testid },
    h('button', { class: 'small', disabled: offset <= 0, onclick: () => onpage(Math.max(0, offset - limit)) }, '‹ Newer'),
    h('span', { class: 'muted' }, total === 0 ? 'none' : `${Math.min(offset + 1, total)}–${Math.min(offset + limit, total)} of ${total}`),
    h('button', { class: 'small', disabled: offset + limit > last, onclick: () => onpage(offset + limit) }, 'Older ›'),
  );
}

/**
 * A round's or a site's validation result in words, for every task: accuracy (classification, binary, multilabel),
 * else the loss (regression: MSE, lower is better); with AUC or R2 when reported.
 */
export function validation(m) {
  if (!m) return '–';
  const extra = [
    typeof m.valAuc === 'number' ? `AUC ${m.valAuc.toFixed(3)}` : null,
    typeof m.valR2 === 'number' ? `R2 ${m.valR2.toFixed(3)}` : null,
  ]
    .filter(Boolean)
    .join(', ');
  const head =
    typeof m.valAccuracy === 'number' ? pct(m.valAccuracy) : typeof m.valLoss === 'number' ? `loss ${m.valLoss.toFixed(4)}` : '–';
  return extra ? `${head} (${extra})` : head;
}
