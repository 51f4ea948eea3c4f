// My runtime: phase, progress and conditions in plain words, live from the event stream
// (GET .../runtime/events, Server-Sent Events); Start / Stop; the Open link; profile and
// resources within the profile's policy (the server refuses what the policy does not allow).
import {get, post, put, ApiError} from './api.js';
import {h, page, msgLine, busy, facts, badge, field, fmtTime, table} from './ui.js';

const PLAIN = {
  PodCreated: 'The runtime was created and is starting.',
  PodPending: 'Waiting for the runtime to be placed on a machine and its image to be fetched.',
  PodNotReady: 'The runtime is starting up.',
  PodReady: 'The runtime is ready.',
  Available: 'Nothing left to do: the runtime is up.',
  AsExpected: 'No problem found.',
  WaitingForStorage: 'Waiting for the workspace volume to be ready.',
  FailedScheduling: 'No machine has room for this runtime right now.',
  BackOff: 'The runtime failed; waiting a little before trying again.',
  Recovering: 'The runtime failed and is being replaced.',
  PodTerminating: 'The old runtime is shutting down before the new one starts.',
  SpecChanged: 'Settings changed: the runtime restarts with them.',
  InvalidSpec: 'The runtime\'s settings are not valid.',
  ProfileNotFound: 'The runtime\'s profile does not exist.',
  CrashLoopBackOff: 'The runtime keeps crashing right after it starts.',
  ImagePullBackOff: 'The runtime\'s image cannot be downloaded.',
  ErrImagePull: 'The runtime\'s image cannot be downloaded.',
  InvalidImageName: 'The runtime\'s image name is not valid.',
  CreateContainerConfigError: 'The runtime\'s configuration is incomplete.',
  CreateContainerError: 'The runtime could not be created.',
  RunContainerError: 'The runtime could not be started.',
  Evicted: 'The machine ran short of resources and stopped the runtime.',
  Stopping: 'The runtime is stopping.',
  Stopped: 'The runtime is stopped. Its workspace is kept.',
  Hibernated: 'The runtime is asleep after being idle; opening it wakes it.',
};
const plain = (reason) => PLAIN[reason] || (reason ? `Reason: ${reason}.` : '');

const PHASE_KIND = {Running: 'ok', Starting: 'warn', Pending: 'warn', Stopping: 'warn', Failed: 'bad',
  Degraded: 'bad', Stopped: 'muted', Hibernated: 'muted'};

const STEPS = ['Scheduled', 'Volume bound', 'Starting', 'Ready'];

function cond(rt, type) {
  return ((rt.observed && rt.observed.conditions) || []).find((c) => c.type === type) || {};
}

// How far a start has come: 0..4 steps done, and whether the current one failed.
function progress(rt) {
  const o = rt.observed || {};
  const ready = cond(rt, 'Ready');
  const degraded = cond(rt, 'Degraded').status === 'True';
  if (o.phase === 'Running' && o.ready === 'True') return {done: 4, failed: false};
  if (!['Starting', 'Pending', 'Failed'].includes(o.phase)) return null;
  let done = 0;
  if (ready.reason === 'PodPending' || ready.reason === 'PodNotReady') done = 2;
  else if (!['WaitingForStorage', 'FailedScheduling', 'InvalidSpec', 'ProfileNotFound'].includes(ready.reason) && o.podName) done = 2;
  return {done, failed: degraded || o.phase === 'Failed'};
}

function steps(rt) {
  const p = progress(rt);
  if (!p) return null;
  return h('ol', {class: 'steps', 'aria-label': 'Start progress'}, STEPS.map((s, i) => {
    const state = i < p.done ? 'done' : i === p.done ? (p.failed ? 'failed' : 'current') : '';
    const word = state === 'done' ? 'done' : state === 'current' ? 'in progress' : state === 'failed' ? 'failed' : 'to do';
    return h('li', {class: state || undefined, 'aria-current': state === 'current' ? 'step' : undefined},
      `${s}`, h('span', {class: 'sr-only'}, `: ${word}`));
  }));
}

export function runtimeURL(user) {
  return `${location.protocol}//${user}.${location.host}/`;
}

function resourcesText(r) {
  if (!r) return 'the profile\'s defaults';
  const part = (k) => (r[k] ? Object.entries(r[k]).map(([n, v]) => `${n} ${v}`).join(', ') : '');
  return [r.requests && `requests: ${part('requests')}`, r.limits && `limits: ${part('limits')}`].filter(Boolean).join('; ') || 'the profile\'s defaults';
}

export async function render(root, {me, params}) {
  // #/runtime?user=NAME: an administrator looking at someone's runtime. Anyone else is
  // refused here, and by the API (403) were the page to ask.
  const user = params.get('user') || me.username;
  if (user !== me.username && me.role !== 'admin') {
    page(root, 'Not allowed', h('p', {role: 'alert'}, 'You can only see your own runtime. ',
      h('a', {href: '#/runtime'}, 'Go to my runtime')));
    return undefined;
  }
  const base = `/users/${encodeURIComponent(user)}/runtime`;
  const msg = msgLine();
  const status = h('section', {class: 'card', 'aria-labelledby': 'rt-status'});
  const live = h('p', {class: 'muted', id: 'rt-live'});
  const history = h('ol', {class: 'muted', 'aria-label': 'Recent changes'});
  // Disabled until the runtime is loaded: show() enables them in the same task that makes
  // them listen, so an early click waits instead of doing nothing.
  const startBtn = h('button', {type: 'button', id: 'rt-start', disabled: true}, 'Start');
  const stopBtn = h('button', {type: 'button', class: 'secondary', id: 'rt-stop', disabled: true}, 'Stop');
  const open = h('a', {class: 'button', id: 'rt-open', target: '_blank', rel: 'noopener', href: runtimeURL(user)}, 'Open');
  let rt = null;

  const settings = h('section', {class: 'card', 'aria-labelledby': 'rt-settings'});
  page(root, user === me.username ? 'My runtime' : `Runtime of ${user}`, h('div', {class: 'actions'}, startBtn, stopBtn, open), msg, status,
    settings, h('section', {class: 'card', 'aria-labelledby': 'rt-history'},
      h('h2', {id: 'rt-history'}, 'Recent changes'), live, history));

  function show() {
    status.replaceChildren(h('h2', {id: 'rt-status'}, 'Status'));
    if (!rt) {
      status.append(h('p', {id: 'rt-phase'}, badge('No runtime yet', 'muted')),
        h('p', {}, 'Start creates your runtime with the default profile.'));
      startBtn.disabled = false;
      stopBtn.disabled = true;
      open.hidden = true;
      return;
    }
    const o = rt.observed || {};
    const d = rt.desired || {};
    const phase = o.phase || 'Pending';
    const readyWord = o.ready === 'True' ? 'Ready' : 'Not ready';
    status.append(
      h('p', {id: 'rt-phase'}, badge(phase, PHASE_KIND[phase]), ' ',
        badge(readyWord, o.ready === 'True' ? 'ok' : 'muted')),
      h('p', {id: 'rt-summary'}, plain(cond(rt, 'Ready').reason) || o.message || ''),
      steps(rt) || '',
      facts([
        ['Wanted', d.state === 'Stopped' ? 'Stopped' : 'Running'],
        ['Profile', d.profile || 'default'],
        ['Resources', resourcesText(d.resources)],
        ['Started', fmtTime(o.startedAt)],
        ['Last activity', fmtTime(o.lastActivityTime)],
        ['Restarts', String(o.restarts || 0)],
        o.message ? ['Message', o.message] : null,
      ]),
      h('h3', {class: 'sr-only'}, 'Conditions'),
      table('Conditions', [
        {label: 'Condition', value: (c) => c.type},
        {label: 'Status', value: (c) => c.status},
        {label: 'What it means', value: (c) => plain(c.reason) || c.reason || ''},
        {label: 'Details', value: (c) => c.message || ''},
      ], o.conditions || [], 'No conditions reported yet.'));
    startBtn.disabled = d.state !== 'Stopped' && phase !== 'Stopped' && phase !== 'Hibernated' && phase !== 'Failed';
    stopBtn.disabled = d.state === 'Stopped';
    open.hidden = !(phase === 'Running' || phase === 'Hibernated');
  }

  function showSettings() {
    const d = (rt && rt.desired) || {};
    const r = d.resources || {};
    const rq = r.requests || {}, lim = r.limits || {};
    const sm = msgLine();
    const f = h('form', {novalidate: true},
      field('Profile', {name: 'profile', value: d.profile || '', placeholder: 'default', autocomplete: 'off'}),
      h('div', {class: 'row'},
        field('CPU request', {name: 'rcpu', value: rq.cpu || '', placeholder: 'profile default', inputmode: 'decimal'}),
        field('Memory request', {name: 'rmem', value: rq.memory || '', placeholder: 'profile default'}),
        field('CPU limit', {name: 'lcpu', value: lim.cpu || '', placeholder: 'profile default', inputmode: 'decimal'}),
        field('Memory limit', {name: 'lmem', value: lim.memory || '', placeholder: 'profile default'})),
      h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Save settings'),
        h('button', {type: 'button', class: 'secondary', onclick: (ev) => busy(ev.target, sm, async () => {
          rt = await put(base, {resources: null});
          show();
          showSettings();
          settings.querySelector('.msg').textContent = 'Resources reset to the profile\'s defaults.';
        })}, 'Use the profile\'s defaults')),
      sm);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const map = (a, b) => {
        const m = {};
        if (f.elements[a].value.trim()) m.cpu = f.elements[a].value.trim();
        if (f.elements[b].value.trim()) m.memory = f.elements[b].value.trim();
        return Object.keys(m).length ? m : undefined;
      };
      const body = {};
      if (f.elements.profile.value.trim() && f.elements.profile.value.trim() !== (d.profile || '')) body.profile = f.elements.profile.value.trim();
      const res = {requests: map('rcpu', 'rmem'), limits: map('lcpu', 'lmem')};
      if (res.requests || res.limits) body.resources = res;
      if (!Object.keys(body).length) {
        sm.set('Nothing to change.');
        return;
      }
      busy(f.querySelector('button[type=submit]'), sm, async () => {
        rt = await put(base, body);
        show();
        showSettings();
        settings.querySelector('.msg').textContent = 'Saved. The runtime restarts with the new settings if it is running.';
      });
    });
    settings.replaceChildren(h('h2', {id: 'rt-settings'}, 'Profile and resources'),
      h('p', {class: 'muted'}, 'Within what your profile allows; the server refuses anything beyond it.'), f);
  }

  // An answer to Start / Stop may arrive after events that already carried a newer state:
  // keep whichever object is newer (resourceVersions from one etcd are increasing numbers).
  function take(next) {
    const a = rt && rt.resourceVersion, b = next && next.resourceVersion;
    if (a && b && /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(b) < BigInt(a)) return;
    rt = next;
  }

  function note(text) {
    history.prepend(h('li', {}, `${new Date().toLocaleTimeString()}: ${text}`));
    while (history.children.length > 8) history.lastChild.remove();
  }

  try {
    rt = await get(base);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    rt = null;
  }
  show();
  showSettings();

  // Live status. EventSource reconnects by itself after a network error.
  const es = new EventSource(`/api/v1${base}/events`);
  let lastPhase = rt ? (rt.observed && rt.observed.phase) || 'Pending' : 'none';
  es.addEventListener('status', (ev) => {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    rt = data.type === 'DELETED' ? null : data.runtime || null;
    const ph = rt ? (rt.observed && rt.observed.phase) || 'Pending' : 'none';
    if (ph !== lastPhase) {
      const why = rt && plain(cond(rt, 'Ready').reason);
      note(rt ? `phase ${ph}${why ? ' — ' + why : ''}` : 'the runtime was deleted');
      msg.set(''); // "Starting…" and the like are stale once the phase moves
    }
    lastPhase = ph;
    live.textContent = 'Live: updates arrive as they happen.';
    show();
  });
  es.addEventListener('error', () => {
    live.textContent = 'Live updates paused; reconnecting…';
  });

  // busy() re-enables the button when done; show() then decides from the new state.
  startBtn.addEventListener('click', () => busy(startBtn, msg, async () => {
    take(await post(`${base}/start`));
    msg.set('Starting…', 'ok');
    note('start requested');
  }).then(show));
  stopBtn.addEventListener('click', () => busy(stopBtn, msg, async () => {
    take(await post(`${base}/stop`));
    msg.set('Stopping. Your workspace is kept.', 'ok');
    note('stop requested');
  }).then(show));
  return () => es.close();
}
