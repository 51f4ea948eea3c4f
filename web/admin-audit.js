// Admin: the audit log, newest first, filtered by actor and action, paged with ?before.
import {get} from './api.js';
import {h, page, table, field, fmtTime} from './ui.js';

export async function render(root) {
  const box = h('div', {});
  const f = h('form', {role: 'search', 'aria-label': 'Filter the audit log'},
    h('div', {class: 'row'},
      field('Actor (username)', {name: 'actor', autocomplete: 'off'}),
      field('Action (e.g. user.disable)', {name: 'action', autocomplete: 'off'})),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Filter')));
  const stack = [];
  let before = 0;

  async function load() {
    const q = new URLSearchParams({limit: '50'});
    if (before) q.set('before', String(before));
    if (f.elements.actor.value.trim()) q.set('actor', f.elements.actor.value.trim());
    if (f.elements.action.value.trim()) q.set('action', f.elements.action.value.trim());
    const r = await get(`/audit?${q}`);
    box.replaceChildren(
      table('Audit log', [
        {label: 'When', value: (e) => fmtTime(e.at)},
        {label: 'Actor', value: (e) => e.actor || '—'},
        {label: 'Action', value: (e) => e.action},
        {label: 'Target', value: (e) => e.target || '—'},
        {label: 'Outcome', value: (e) => e.outcome},
        {label: 'Client', value: (e) => e.client || '—'},
        {label: 'Detail', value: (e) => (e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : '')},
      ], r.items || [], 'No entries match.'),
      h('div', {class: 'pager'},
        h('button', {type: 'button', class: 'secondary', disabled: !stack.length, onclick: () => {
          before = stack.pop() || 0;
          load();
        }}, 'Newer'),
        h('button', {type: 'button', class: 'secondary', disabled: !r.next_before, onclick: () => {
          stack.push(before);
          before = r.next_before;
          load();
        }}, 'Older')));
  }
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    before = 0;
    stack.length = 0;
    load();
  });
  page(root, 'Audit log', f, box);
  await load();
}
