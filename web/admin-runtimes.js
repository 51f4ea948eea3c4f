// Admin: every runtime (user, phase, ready, restarts, age, last activity), filtered and
// paged here, with Start / Stop.
import {get, post, seg} from './api.js';
import {h, page, table, msgLine, busy, field, fmtAge, badge} from './ui.js';

const PER_PAGE = 25;

export async function render(root) {
  const msg = msgLine();
  const box = h('div', {});
  const filter = field('Filter by user or phase', {name: 'filter', type: 'search', autocomplete: 'off'});
  const input = filter.querySelector('input');
  let items = [];
  let offset = 0;

  function draw() {
    const f = input.value.trim().toLowerCase();
    const shown = items.filter((r) => !f || r.user.includes(f) || (r.phase || '').toLowerCase().includes(f));
    if (offset >= shown.length) offset = Math.max(0, Math.floor((shown.length - 1) / PER_PAGE) * PER_PAGE);
    const slice = shown.slice(offset, offset + PER_PAGE);
    box.replaceChildren(
      table(`Runtimes (${shown.length})`, [
        {label: 'User', value: (r) => h('a', {href: `#/runtime?user=${encodeURIComponent(r.user)}`}, r.user)},
        {label: 'Phase', value: (r) => badge(r.phase || 'Pending', r.phase === 'Running' ? 'ok' : r.phase === 'Failed' ? 'bad' : 'muted')},
        {label: 'Ready', value: (r) => (r.ready === 'True' ? 'yes' : 'no')},
        {label: 'Restarts', num: true, value: (r) => String(r.restarts || 0)},
        {label: 'Age', value: (r) => fmtAge(r.createdAt)},
        {label: 'Last activity', value: (r) => (r.lastActivityTime ? fmtAge(r.lastActivityTime) + ' ago' : '—')},
        {label: 'Profile', value: (r) => r.profile || 'default'},
        {label: 'Actions', value: (r) => {
          const stop = r.state !== 'Stopped';
          return h('button', {type: 'button', class: 'secondary', 'aria-label': `${stop ? 'Stop' : 'Start'} the runtime of ${r.user}`,
            onclick: (ev) => busy(ev.target, msg, async () => {
              await post(`/users/${seg(r.user)}/runtime/${stop ? 'stop' : 'start'}`);
              msg.set(`${stop ? 'Stopping' : 'Starting'} the runtime of ${r.user}.`, 'ok');
              await load();
            })}, stop ? 'Stop' : 'Start');
        }},
      ], slice, 'No runtimes match.'),
      h('div', {class: 'pager'},
        h('button', {type: 'button', class: 'secondary', disabled: offset === 0, onclick: () => {
          offset = Math.max(0, offset - PER_PAGE);
          draw();
        }}, 'Previous'),
        h('span', {}, shown.length ? `${offset + 1}–${offset + slice.length} of ${shown.length}` : ''),
        h('button', {type: 'button', class: 'secondary', disabled: offset + PER_PAGE >= shown.length, onclick: () => {
          offset += PER_PAGE;
          draw();
        }}, 'Next')));
  }

  async function load() {
    items = (await get('/runtimes')).items || [];
    draw();
  }
  input.addEventListener('input', () => {
    offset = 0;
    draw();
  });
  page(root, 'Runtimes', filter, h('div', {class: 'actions'},
    h('button', {type: 'button', class: 'secondary', onclick: (ev) => busy(ev.target, msg, load)}, 'Refresh')), msg, box);
  await load();
  const t = setInterval(() => load().catch(() => {}), 15000);
  return () => clearInterval(t);
}
