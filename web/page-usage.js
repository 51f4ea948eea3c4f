// Usage: a month's tokens and cost by model (the model proxy's records), the last twelve
// months as a chart, and what is left of the monthly budget.
import {get} from './api.js';
import {h, page, table, barChart, fmtNum, fmtUSD, facts, field} from './ui.js';

const tokens = (r) => Number(r.prompt_tokens || 0) + Number(r.completion_tokens || 0);

export function byModelTable(caption, rows, key = 'model', label = 'Model') {
  return table(caption, [
    {label, value: (r) => r[key]},
    {label: 'Requests', num: true, value: (r) => fmtNum(r.requests)},
    {label: 'Prompt tokens', num: true, value: (r) => fmtNum(r.prompt_tokens)},
    {label: 'Completion tokens', num: true, value: (r) => fmtNum(r.completion_tokens)},
    {label: 'Cost', num: true, value: (r) => fmtUSD(r.cost_microusd)},
  ], rows, 'No model calls in this period.');
}

export function monthOptions(n = 12) {
  const out = [];
  const d = new Date();
  for (let i = 0; i < n; i++) {
    const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - i, 1));
    const v = m.toISOString().slice(0, 7);
    out.push([v, i === 0 ? `${v} (this month)` : v]);
  }
  return out;
}

function remaining(u) {
  const q = u.quota || {};
  const used = tokens(u.total);
  const rows = [];
  if (q.monthly_token_budget != null)
    rows.push(['Tokens left', `${fmtNum(Math.max(0, q.monthly_token_budget - used))} of ${fmtNum(q.monthly_token_budget)}`]);
  else rows.push(['Token budget', 'set by your profile']);
  if (q.monthly_cost_budget_microusd != null)
    rows.push(['Spend left', `${fmtUSD(Math.max(0, q.monthly_cost_budget_microusd - u.total.cost_microusd))} of ${fmtUSD(q.monthly_cost_budget_microusd)}`]);
  else rows.push(['Cost budget', 'set by your profile']);
  if (q.allowed_models) rows.push(['Allowed models', q.allowed_models.join(', ')]);
  return facts(rows);
}

export async function render(root, {me, params}) {
  const month = params.get('month') || '';
  const q = month ? `?month=${encodeURIComponent(month)}` : '';
  const u = await get(`/users/${encodeURIComponent(me.username)}/usage${q}`);
  const pick = field('Month', {tag: 'select', name: 'month', options: monthOptions()});
  const sel = pick.querySelector('select');
  sel.value = u.month;
  sel.addEventListener('change', () => {
    location.hash = `#/usage?month=${sel.value}`;
  });
  const models = u.by_model || [];
  page(root, 'Usage',
    pick,
    h('section', {class: 'card', 'aria-labelledby': 'u-total'},
      h('h2', {id: 'u-total'}, `${u.month}`),
      facts([
        ['Requests', fmtNum(u.total.requests)],
        ['Tokens', fmtNum(tokens(u.total))],
        ['Cost', fmtUSD(u.total.cost_microusd)],
      ]),
      h('h3', {}, 'Budget this month'), remaining(u)),
    h('h2', {}, 'By model'),
    models.length ? barChart(`Tokens by model, ${u.month}`, models.map((m) => ({label: m.model, value: tokens(m)})), fmtNum) : '',
    byModelTable(`Usage by model, ${u.month}`, models),
    h('h2', {}, 'Past months'),
    (u.months || []).length ? barChart('Tokens per month', u.months.map((m) => ({label: m.month, value: tokens(m)})), fmtNum) : '',
    byModelTable('Usage per month', u.months || [], 'month', 'Month'));
}
