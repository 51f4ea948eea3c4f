// The dashboard's shell: who is signed in, the navigation, and a hash router
// (#/runtime, #/files, #/admin/users, ...) that renders one page module at a time into <main>.
// Pages are modules exporting render(root, ctx) that may return a cleanup function
// (to close an event stream, stop a timer) run before the next page renders.
import {get, onSessionEnd, ApiError} from './api.js';
import {h} from './ui.js';
import * as runtime from './page-runtime.js';
import * as usage from './page-usage.js';
import * as tokens from './page-tokens.js';
import * as files from './page-files.js';
import * as account from './page-account.js';
import * as accept from './page-accept.js';
import * as users from './admin-users.js';
import * as runtimes from './admin-runtimes.js';
import * as quotas from './admin-quotas.js';
import * as allUsage from './admin-usage.js';
import * as audit from './admin-audit.js';
import * as health from './admin-health.js';

const routes = {
  runtime, files, usage, tokens, account,
  'admin/users': users, 'admin/runtimes': runtimes, 'admin/quotas': quotas,
  'admin/usage': allUsage, 'admin/audit': audit, 'admin/health': health,
};

const main = document.getElementById('main');
const banner = document.getElementById('banner');
let me = null;
let cleanup = null;
let ended = false;
let renderSeq = 0;

function loginURL() {
  return '/login?next=' + encodeURIComponent('/' + (location.hash || '#/runtime'));
}

// The session is gone (expired, signed out elsewhere, account disabled): say so, drop
// what the page showed, offer to sign in again.
function sessionEnded() {
  if (ended) return;
  ended = true;
  if (cleanup) cleanup();
  cleanup = null;
  document.getElementById('nav').classList.remove('open');
  document.getElementById('nav-admin').hidden = true;
  document.getElementById('who').textContent = '';
  banner.replaceChildren('Your session has ended (signed out, expired or the account was disabled). ',
    h('a', {href: loginURL()}, 'Sign in again'));
  banner.hidden = false;
  main.replaceChildren(h('h1', {}, 'Signed out'), h('p', {}, h('a', {href: loginURL()}, 'Sign in')));
}
onSessionEnd(sessionEnded);

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  return {path: path || 'runtime', params: new URLSearchParams(query || '')};
}

function markNav(path) {
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === '#/' + path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  if (location.hash && !location.hash.startsWith('#/')) return; // an in-page anchor (#main)
  const seq = ++renderSeq;
  if (cleanup) cleanup();
  cleanup = null;
  const {path, params} = parseHash();
  document.getElementById('nav').classList.remove('open');
  document.getElementById('menu').setAttribute('aria-expanded', 'false');
  if (path.startsWith('accept')) {
    main.replaceChildren();
    cleanup = await accept.render(main, {params, token: path.split('/')[1] || ''}) || null;
    return;
  }
  if (!me || ended) return;
  markNav(path);
  const mod = routes[path];
  main.replaceChildren();
  if (!mod) {
    document.title = 'Not found · clawplane';
    main.append(h('h1', {}, 'Page not found'), h('p', {}, 'No page here. ', h('a', {href: '#/runtime'}, 'Go to my runtime')));
  } else if (path.startsWith('admin/') && me.role !== 'admin') {
    // The API refuses these calls too (403); the page does not even ask.
    document.title = 'Not allowed · clawplane';
    main.append(h('h1', {}, 'Administrators only'),
      h('p', {}, 'This page is for administrators. ', h('a', {href: '#/runtime'}, 'Go to my runtime')));
  } else {
    try {
      const c = await mod.render(main, {me, params});
      if (seq === renderSeq) cleanup = c || null;
      else if (c) c();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401))
        main.append(h('p', {class: 'msg error', role: 'alert'}, e.message));
    }
  }
  if (seq === renderSeq && document.activeElement !== document.body) main.focus({preventScroll: true});
}

// Notices a session that ended elsewhere (another tab, an administrator) within seconds.
function watchSession() {
  const check = () => {
    if (!ended && document.visibilityState === 'visible') get('/users/me').catch(() => {});
  };
  setInterval(check, 10000);
  document.addEventListener('visibilitychange', check);
}

async function start() {
  const menu = document.getElementById('menu');
  menu.addEventListener('click', () => {
    const open = document.getElementById('nav').classList.toggle('open');
    menu.setAttribute('aria-expanded', String(open));
  });
  window.addEventListener('hashchange', route);
  if (parseHash().path.startsWith('accept')) {
    await route();
    document.body.dataset.ready = 'true';
    return;
  }
  try {
    me = await get('/users/me', {quiet401: true});
  } catch (e) {
    if (e.status === 401) location.replace(loginURL());
    else main.replaceChildren(h('h1', {}, 'clawplane'), h('p', {class: 'msg error', role: 'alert'}, e.message));
    return;
  }
  document.getElementById('who').textContent = `${me.username}${me.role === 'admin' ? ' (admin)' : ''}`;
  document.getElementById('nav-admin').hidden = me.role !== 'admin';
  watchSession();
  await route();
  document.body.dataset.ready = 'true'; // the first page is on screen (tests, benchmark)
  performance.mark('clawplane-ready');
}

start();
