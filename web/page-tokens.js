// API tokens: create (the token is shown once), list, revoke.
import {get, post, del} from './api.js';
import {h, page, table, msgLine, busy, field, fmtTime} from './ui.js';

export async function render(root, {me}) {
  const base = `/users/${encodeURIComponent(me.username)}/tokens`;
  const msg = msgLine();
  const created = h('div', {id: 'token-created'});
  const list = h('div', {});
  const f = h('form', {},
    h('div', {class: 'row'},
      field('Token name', {name: 'name', required: true, maxlength: 128, autocomplete: 'off', placeholder: 'laptop'}),
      field('Expires in days (empty: never)', {name: 'days', type: 'number', min: 1, max: 3650, inputmode: 'numeric'})),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Create token')), msg);

  async function refresh() {
    const r = await get(base);
    const items = (r.items || []).filter((t) => !t.revoked);
    list.replaceChildren(table('Your API tokens', [
      {label: 'Name', value: (t) => t.name},
      {label: 'Created', value: (t) => fmtTime(t.created_at)},
      {label: 'Expires', value: (t) => (t.expires_at ? fmtTime(t.expires_at) : 'never')},
      {label: 'Last used', value: (t) => fmtTime(t.last_used_at)},
      {label: 'Actions', value: (t) => h('button', {type: 'button', class: 'danger', 'aria-label': `Revoke token ${t.name}`,
        onclick: (ev) => busy(ev.target, msg, async () => {
          await del(`${base}/${encodeURIComponent(t.id)}`);
          msg.set(`Token ${t.name} revoked.`, 'ok');
          await refresh();
        })}, 'Revoke')},
    ], items, 'No API tokens.'));
  }

  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = {name: f.elements.name.value.trim()};
    if (!body.name) {
      msg.set('Give the token a name.', 'error');
      f.elements.name.focus();
      return;
    }
    if (f.elements.days.value) body.ttl_days = Number(f.elements.days.value);
    busy(f.querySelector('button'), msg, async () => {
      const t = await post(base, body);
      f.reset();
      const code = h('code', {class: 'secret', id: 'token-value'}, t.token);
      const copy = h('button', {type: 'button', class: 'secondary', onclick: async () => {
        try {
          await navigator.clipboard.writeText(t.token);
          copy.textContent = 'Copied';
        } catch (e) {
          copy.textContent = 'Select the text to copy it';
        }
      }}, 'Copy');
      created.replaceChildren(h('section', {class: 'card', 'aria-labelledby': 'tok-new'},
        h('h2', {id: 'tok-new'}, `Token "${t.name}" created`),
        h('p', {}, 'Copy it now: it is shown only this once.'), code, h('div', {class: 'actions'}, copy)));
      msg.set('Token created.', 'ok');
      await refresh();
    });
  });
  page(root, 'API tokens', h('p', {}, 'Tokens let scripts and clawctl act as you. Send one as "Authorization: Bearer <token>".'),
    created, h('section', {class: 'card', 'aria-labelledby': 'tok-create'}, h('h2', {id: 'tok-create'}, 'New token'), f), list);
  await refresh();
}
