// Admin: one user's model quota. An empty field means "the profile's default" (null).
import {get, put, seg} from './api.js';
import {h, page, msgLine, busy, field} from './ui.js';

const NUMS = [
  ['monthly_token_budget', 'Monthly token budget'],
  ['monthly_cost_budget_microusd', 'Monthly cost budget (micro-USD)'],
  ['requests_per_minute', 'Requests per minute'],
  ['max_concurrent_streams', 'Concurrent streams'],
];

export async function render(root, {params}) {
  const users = ((await get('/users?limit=1000')).items || []).map((u) => u.username);
  const msg = msgLine();
  const pick = field('User', {tag: 'select', name: 'user', options: users.map((u) => [u, u])});
  const sel = pick.querySelector('select');
  if (params.get('user') && users.includes(params.get('user'))) sel.value = params.get('user');
  const box = h('div', {});

  async function load() {
    const user = sel.value;
    if (!user) return;
    const q = await get(`/users/${seg(user)}/quota`);
    const f = h('form', {},
      field('Allowed models (comma-separated, * wildcards; empty: the profile\'s)', {name: 'allowed_models',
        value: q.allowed_models ? q.allowed_models.join(', ') : '', autocomplete: 'off'}),
      h('div', {class: 'row'}, NUMS.map(([k, label]) =>
        field(label, {name: k, type: 'number', min: 0, value: q[k] == null ? '' : q[k], inputmode: 'numeric', placeholder: 'profile default'}))),
      h('div', {class: 'actions'}, h('button', {type: 'submit'}, `Save quota of ${user}`)), msg);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = {};
      const models = f.elements.allowed_models.value.split(',').map((s) => s.trim()).filter(Boolean);
      body.allowed_models = models.length ? models : null;
      for (const [k] of NUMS) body[k] = f.elements[k].value === '' ? null : Number(f.elements[k].value);
      busy(f.querySelector('button'), msg, async () => {
        await put(`/users/${seg(user)}/quota`, body);
        msg.set(`Quota of ${user} saved.`, 'ok');
      });
    });
    box.replaceChildren(f);
  }
  sel.addEventListener('change', () => {
    msg.set('');
    load().catch((e) => msg.set(e.message, 'error'));
  });
  page(root, 'Quotas', h('p', {class: 'muted'}, 'The model proxy reads these within seconds. Empty means the profile\'s default.'), pick, box);
  await load();
}
