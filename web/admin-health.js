// Admin: the platform's health, part by part, refreshed every 15 s.
import {get} from './api.js';
import {h, page, table, badge, msgLine, busy, fmtTime} from './ui.js';

const KIND = {ok: 'ok', degraded: 'warn', down: 'bad', unknown: 'muted'};

export async function render(root) {
  const msg = msgLine();
  const box = h('div', {});
  async function load() {
    const r = await get('/health');
    box.replaceChildren(
      h('p', {id: 'health-overall'}, 'Overall: ', badge(r.status, KIND[r.status]), ` (checked ${fmtTime(r.checked_at)})`),
      table('Platform health', [
        {label: 'Part', value: (c) => c.name},
        {label: 'Status', value: (c) => badge(c.status, KIND[c.status])},
        {label: 'Details', value: (c) => c.message + (c.items ? `: ${c.items.join(', ')}` : '')},
      ], r.components || []));
  }
  page(root, 'Platform health', h('div', {class: 'actions'},
    h('button', {type: 'button', class: 'secondary', onclick: (ev) => busy(ev.target, msg, load)}, 'Check now')), msg, box);
  await load();
  const t = setInterval(() => load().catch(() => {}), 15000);
  return () => clearInterval(t);
}
