// Small DOM helpers. Text always goes in as text nodes (never markup), so nothing a user
// or the server says can become script.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
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

let uid = 0;
export const newId = (p) => `${p || 'f'}-${++uid}`;

// A labelled input: <label for=id>text</label><input id=id ...> (or select with options).
export function field(label, {tag = 'input', options, ...attrs} = {}) {
  const id = attrs.id || newId(attrs.name);
  const input = h(tag, {...attrs, id});
  for (const [v, t] of options || []) input.append(h('option', {value: v}, t));
  return h('div', {class: 'field'}, h('label', {for: id}, label), input);
}

// A status line for a form: role=status, so screen readers hear results.
export function msgLine() {
  const p = h('p', {class: 'msg', role: 'status'});
  p.set = (text, kind) => {
    p.textContent = text || '';
    p.className = 'msg' + (kind ? ' ' + kind : '');
  };
  return p;
}

// Runs an async action for a button: disables it meanwhile, reports errors in msg.
export async function busy(button, msg, fn) {
  if (button) button.disabled = true;
  if (msg) msg.set('');
  try {
    return await fn();
  } catch (e) {
    if (msg) msg.set(e.message, 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// A table: columns [{label, value(row) -> node|string, num}], rows, caption.
export function table(caption, columns, rows, empty) {
  if (!rows.length) return h('p', {class: 'muted'}, empty || 'Nothing yet.');
  // scrolls sideways on a narrow screen: focusable, so the keyboard can scroll it too
  return h('div', {class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': `${caption} (scrolls sideways)`},
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) =>
        h('th', {scope: 'col', class: c.num ? 'num' : undefined}, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) =>
        h('td', {class: c.num ? 'num' : undefined}, c.value(r))))))));
}

export function facts(pairs) {
  return h('dl', {class: 'facts'}, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function badge(text, kind) {
  return h('span', {class: 'badge ' + (kind || 'muted')}, text);
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

export function fmtAge(iso) {
  if (!iso) return '—';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (isNaN(s)) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export const fmtNum = (n) => Number(n || 0).toLocaleString('en');
export const fmtUSD = (micro) => '$' + (Number(micro || 0) / 1e6).toFixed(micro && micro < 10000 ? 4 : 2);

// A bar chart in SVG, drawn here: data [{label, value}], fmt(value) for the labels. The
// numbers are also in a table next to it, so the chart itself is an image with a summary.
export function barChart(title, data, fmt) {
  const NS = 'http://www.w3.org/2000/svg';
  const s = (tag, attrs, text) => {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const w = Math.max(300, Math.min(640, window.innerWidth - 40)), row = 26, left = 110, right = 80;
  const height = Math.max(1, data.length) * row + 10;
  const max = Math.max(1, ...data.map((d) => d.value));
  const svg = s('svg', {class: 'chart', viewBox: `0 0 ${w} ${height}`, role: 'img',
    'aria-label': `${title}: ` + data.map((d) => `${d.label} ${fmt(d.value)}`).join(', ')});
  svg.append(s('title', {}, title));
  data.forEach((d, i) => {
    const y = 5 + i * row;
    const bw = Math.max(1, ((w - left - right) * d.value) / max);
    svg.append(s('text', {x: left - 6, y: y + 16, 'text-anchor': 'end'}, d.label.length > 18 ? d.label.slice(0, 17) + '…' : d.label));
    svg.append(s('rect', {class: 'bar', x: left, y: y + 3, width: bw, height: row - 8, rx: 2}));
    svg.append(s('text', {x: left + bw + 6, y: y + 16}, fmt(d.value)));
  });
  return svg;
}

// Puts the title in <h1>, sets document.title, moves focus to main for screen readers.
export function page(root, title, ...children) {
  document.title = `${title} · clawplane`;
  root.replaceChildren(h('h1', {}, title), ...children);
}
