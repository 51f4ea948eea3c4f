// Admin: usage across users for a month: top spenders, by model, by day.
import {get} from './api.js';
import {h, page, barChart, fmtNum, fmtUSD, facts, field} from './ui.js';
import {byModelTable, monthOptions} from './page-usage.js';

const tokens = (r) => Number(r.prompt_tokens || 0) + Number(r.completion_tokens || 0);

export async function render(root, {params}) {
  const month = params.get('month') || '';
  const u = await get(`/usage${month ? `?month=${encodeURIComponent(month)}` : ''}`);
  const pick = field('Month', {tag: 'select', name: 'month', options: monthOptions()});
  const sel = pick.querySelector('select');
  sel.value = u.month;
  sel.addEventListener('change', () => {
    location.hash = `#/admin/usage?month=${sel.value}`;
  });
  const top = u.top_users || [];
  page(root, 'Usage across users', pick,
    h('section', {class: 'card', 'aria-labelledby': 'au-total'}, h('h2', {id: 'au-total'}, u.month),
      facts([['Requests', fmtNum(u.total.requests)], ['Tokens', fmtNum(tokens(u.total))], ['Cost', fmtUSD(u.total.cost_microusd)]])),
    h('h2', {}, 'Top spenders'),
    top.length ? barChart(`Cost by user, ${u.month}`, top.map((r) => ({label: r.username, value: Number(r.cost_microusd)})), fmtUSD) : '',
    byModelTable(`Top spenders, ${u.month}`, top, 'username', 'User'),
    h('h2', {}, 'By model'),
    byModelTable(`Usage by model, ${u.month}`, u.by_model || []),
    h('h2', {}, 'By day'),
    (u.by_day || []).length ? barChart(`Tokens per day, ${u.month}`, u.by_day.map((r) => ({label: r.day.slice(5), value: tokens(r)})), fmtNum) : '',
    byModelTable(`Usage per day, ${u.month}`, u.by_day || [], 'day', 'Day'));
}
