// The dashboard in a real browser: Debian's Chromium driven by playwright-core against
// the real apiserver, PostgreSQL and the local control plane that test/e2e/test_dashboard.sh
// starts. What a user and an administrator do, checked as they would see it; axe-core on
// every page; screenshots of every page at 360 px and 1280 px.
//
// Environment (from test_dashboard.sh): DASH_URL, DASH_ADMIN, DASH_ADMIN_PASSWORD,
// DASH_DATABASE_URL (psql URL of the apiserver's schema), DASH_SCREENSHOTS (a directory),
// CHROMIUM (default /usr/bin/chromium).
import {execFileSync} from 'node:child_process';
import {openBrowser, ok, assert} from './lib.mjs';

const BASE = process.env.DASH_URL;
const ADMIN = process.env.DASH_ADMIN;
const ADMIN_PW = process.env.DASH_ADMIN_PASSWORD;
const DB = process.env.DASH_DATABASE_URL;
const SHOTS = process.env.DASH_SCREENSHOTS;
if (!BASE || !ADMIN || !ADMIN_PW || !DB || !SHOTS) throw new Error('run me from test/e2e/test_dashboard.sh');

const {browser, newPage, signIn, audit, go, cspViolations, axeSeen} = await openBrowser({base: BASE, shots: SHOTS});

function psql(sql) {
  return execFileSync('psql', [DB, '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql], {encoding: 'utf8'}).trim();
}

try {
  // --- serving ---------------------------------------------------------------------------
  const probe = await newPage();
  const resp = await probe.goto(`${BASE}/`);
  const hdr = resp.headers();
  assert(/script-src 'self'/.test(hdr['content-security-policy']) && !/unsafe-inline/.test(hdr['content-security-policy']),
    `strict CSP on /: ${hdr['content-security-policy']}`);
  assert(hdr['cache-control'] === 'no-cache', `index.html is revalidated: ${hdr['cache-control']}`);
  const html = await (await probe.request.get(`${BASE}/`)).text();
  const js = BASE + (html.match(/<script type="module" src="([^"]+)"/) || [])[1];
  assert(/\/assets\/app\.[0-9a-f]{10}\.js$/.test(js), `hashed asset URL: ${js}`);
  const asset = await probe.request.get(js, {headers: {'Accept-Encoding': 'gzip'}});
  assert(/immutable/.test(asset.headers()['cache-control']) && asset.headers()['vary'] === 'Accept-Encoding',
    `assets are immutable and vary on Accept-Encoding: ${JSON.stringify(asset.headers())}`);
  await probe.context().close();
  ok('/ and its assets: strict CSP, index no-cache, content-hashed immutable assets');

  // --- administrator: users, invitations ---------------------------------------------------
  const admin = await newPage();
  await signIn(admin, ADMIN, ADMIN_PW, '#/admin/users');
  await admin.getByRole('heading', {level: 1, name: 'Users'}).waitFor();
  ok('the administrator signs in through /login and lands on the page asked for');

  const create = admin.locator('form', {has: admin.getByRole('button', {name: 'Create user'})});
  await create.getByLabel('Username').fill('alice');
  await create.getByLabel('Password (empty: none yet)').fill('alice-password-1');
  await create.getByRole('button', {name: 'Create user'}).click();
  await admin.getByText('User alice created.').waitFor();
  await admin.getByRole('cell', {name: 'alice', exact: true}).waitFor();
  ok('the administrator creates a user');

  const invite = admin.locator('form', {has: admin.getByRole('button', {name: 'Invite'})});
  await invite.getByLabel('Username to invite').fill('bob');
  await invite.getByRole('button', {name: 'Invite'}).click();
  const link = (await admin.locator('#invite-link').textContent()).trim();
  assert(link.startsWith(`${BASE}/#/accept/cpi_`), `invite link shown: ${link}`);
  await invite.getByLabel('Username to invite').fill('carol');
  await invite.getByRole('button', {name: 'Invite'}).click();
  await admin.getByText('Invitation for carol created.').waitFor();
  const pending = admin.getByRole('table', {name: 'Pending invitations'});
  await pending.getByRole('cell', {name: 'bob', exact: true}).waitFor();
  await pending.getByRole('cell', {name: 'carol', exact: true}).waitFor();
  await admin.getByRole('button', {name: 'Revoke the invitation of carol'}).click();
  await admin.getByText('Invitation for carol revoked.').waitFor();
  await pending.getByRole('cell', {name: 'carol', exact: true}).waitFor({state: 'detached'});
  ok('the administrator invites (the link is shown), lists and revokes pending invitations');
  await audit(admin, 'admin-users');

  // --- a user: runtime live, start and stop --------------------------------------------------
  const alice = await newPage();
  await signIn(alice, 'alice', 'alice-password-1');
  await alice.getByRole('heading', {level: 1, name: 'My runtime'}).waitFor();
  await alice.getByText('No runtime yet').waitFor();
  await audit(alice, 'runtime-none');
  await alice.evaluate(() => { window.__noReload = 1; });
  await alice.getByRole('button', {name: 'Start'}).click();
  await alice.locator('#rt-phase', {hasText: 'Running'}).waitFor({timeout: 120000});
  await alice.locator('#rt-phase', {hasText: /Ready$|Ready\s/}).waitFor({timeout: 60000});
  assert(await alice.evaluate(() => window.__noReload === 1), 'the page was not reloaded');
  const changes = await alice.getByRole('list', {name: 'Recent changes'}).textContent();
  assert(/phase Running/.test(changes), `the change arrived over the event stream: ${changes}`);
  assert(await alice.getByRole('link', {name: 'Open'}).isVisible(), 'Open is offered once it runs');
  ok('the user starts the runtime and watches it become Running and Ready without reloading');
  await audit(alice, 'runtime-running');
  // A click that comes before the page has its runtime is not lost: with the runtime's GET
  // held back 1.5 s, Stop is clicked as soon as the page shows it (Start and Stop stay
  // disabled until the runtime is loaded and they listen; under load a click used to land on
  // a button that did nothing).
  let held = 0, released;
  const served = new Promise((r) => { released = r; });
  const runtimeGet = /\/api\/v1\/users\/alice\/runtime$/;
  await alice.route(runtimeGet, async (route) => {
    if (held++ === 0) await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
    released();
  });
  await alice.getByRole('link', {name: 'My files'}).click();
  await alice.getByRole('heading', {level: 1, name: 'My files'}).waitFor();
  await alice.getByRole('link', {name: 'My runtime'}).click();
  await alice.getByRole('heading', {level: 1, name: 'My runtime'}).waitFor();
  await alice.getByRole('button', {name: 'Stop'}).click();
  await served;
  await alice.unroute(runtimeGet);
  assert(held >= 1, 'the runtime\'s GET was held back');
  await alice.locator('#rt-phase', {hasText: 'Stopped'}).waitFor({timeout: 120000});
  assert(await alice.evaluate(() => window.__noReload === 1), 'still no reload');
  ok('the user stops the runtime (clicked before the page had loaded it) and sees it Stopped');

  // --- files without a file service (this apiserver has no --files-key-file) -------------------
  await alice.getByRole('link', {name: 'My files'}).click();
  await alice.getByRole('heading', {level: 1, name: 'My files'}).waitFor();
  const why = alice.locator('#files-unavailable');
  await why.waitFor();
  assert(/file service is not configured/.test(await why.textContent()), `the 501 is shown in the API's words: ${await why.textContent()}`);
  assert(!(await alice.getByRole('button', {name: 'Upload'}).isVisible()), 'no upload form where nothing can be uploaded');
  await audit(alice, 'files-unavailable');
  ok('the files page without a file service says so in the API\'s words (501) and offers no upload');

  // --- tokens ---------------------------------------------------------------------------------
  await go(alice, '#/tokens', 'API tokens');
  await alice.getByLabel('Token name').fill('laptop');
  await alice.getByRole('button', {name: 'Create token'}).click();
  const token = (await alice.locator('#token-value').textContent()).trim();
  assert(/^cpt_/.test(token), `the new token is shown once: ${token.slice(0, 6)}...`);
  const withToken = () => alice.request.get(`${BASE}/api/v1/users/me`, {headers: {Authorization: `Bearer ${token}`}});
  assert((await withToken()).status() === 200, 'the token works');
  await audit(alice, 'tokens');
  await alice.getByRole('button', {name: 'Revoke token laptop'}).click();
  await alice.getByText('Token laptop revoked.').waitFor();
  assert((await withToken()).status() === 401, 'a revoked token is refused');
  ok('the user creates a token (shown once, works) and revokes it (refused after)');

  // --- usage ----------------------------------------------------------------------------------
  // No model is served on this machine for this suite: the rows are written as
  // clawplane-modelproxy writes them after a call (its usage_records, its columns).
  psql(`INSERT INTO usage_records (request_id, username, runtime, model, prompt_tokens, completion_tokens, cost_microusd)
        VALUES ('dash-1', 'alice', 'alice', 'gpt-4o-mini', 1200, 345, 2500),
               ('dash-2', 'alice', 'alice', 'gpt-4o-mini', 100, 55, 300),
               ('dash-3', 'alice', 'alice', 'local-llama', 4000, 1000, 0),
               ('dash-4', 'alice', 'alice', 'gpt-4o-mini', 10, 10, 10)`);
  psql(`UPDATE usage_records SET created_at = date_trunc('month', now()) - interval '20 days' WHERE request_id = 'dash-4'`);
  await go(alice, '#/usage', 'Usage');
  const byModel = alice.getByRole('table', {name: /^Usage by model/});
  await byModel.getByRole('row', {name: /gpt-4o-mini\s+2\s+1,300\s+400\s+\$0\.0028/}).waitFor();
  await byModel.getByRole('row', {name: /local-llama/}).waitFor();
  assert(await alice.locator('svg.chart').count() >= 1, 'the usage chart is drawn');
  const months = await alice.getByRole('table', {name: 'Usage per month'}).textContent();
  assert((months.match(/\d{4}-\d{2}/g) || []).length >= 2, `past months are listed: ${months}`);
  ok('the user sees this month\'s usage by model with a chart, and past months');
  await audit(alice, 'usage');

  // --- a user editing URLs ---------------------------------------------------------------------
  for (const p of ['admin/users', 'admin/health', 'admin/audit']) {
    await alice.goto(`${BASE}/#/${p}`);
    await alice.getByRole('heading', {level: 1, name: 'Administrators only'}).waitFor();
  }
  await alice.goto(`${BASE}/#/runtime?user=${ADMIN}`);
  await alice.getByRole('heading', {level: 1, name: 'Not allowed'}).waitFor();
  const codes = await alice.evaluate(async (adm) => {
    const s = async (u) => (await fetch(u, {credentials: 'same-origin'})).status;
    return [await s('/api/v1/users'), await s('/api/v1/health'), await s(`/api/v1/users/${adm}/runtime`),
      await s(`/api/v1/users/${adm}/runtime/events`)];
  }, ADMIN);
  assert(codes.every((c) => c === 403), `the API refuses too: ${codes}`);
  await audit(alice, 'not-allowed');
  ok('a user editing the URL reaches neither admin pages nor another user\'s runtime (page and API refuse)');

  // --- account: keyboard, password page, sign out everywhere -------------------------------------
  await go(alice, '#/account', 'Account');
  await audit(alice, 'account');
  await alice.reload();
  await alice.waitForSelector('body[data-ready="true"]');
  await alice.keyboard.press('Tab');
  const focused = await alice.evaluate(() => document.activeElement && document.activeElement.textContent);
  assert(/Skip to content/.test(focused || ''), `the first Tab reaches the skip link: ${focused}`);
  await alice.keyboard.press('Enter');
  assert(await alice.evaluate(() => document.activeElement.id === 'main'), 'the skip link moves focus to the content');
  for (let i = 0; i < 40; i++) { // every control is reachable by Tab, with a visible outline
    await alice.keyboard.press('Tab');
    const f = await alice.evaluate(() => {
      const el = document.activeElement;
      const st = getComputedStyle(el);
      return {text: el.textContent || el.getAttribute('aria-label') || el.id, outline: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0};
    });
    assert(f.outline, `focus is visible on ${f.text}`);
    if (/Sign out everywhere/.test(f.text)) break;
    assert(i < 39, 'Tab reaches "Sign out everywhere"');
  }
  ok('keyboard: the skip link comes first, every control is reachable by Tab with a visible focus outline');

  // --- invitee accepts, signs in; the administrator disables them; their page notices -----------
  const bob = await newPage(360);
  await bob.goto(link);
  await bob.getByRole('heading', {level: 1, name: 'Accept your invitation'}).waitFor();
  await audit(bob, 'accept');
  await bob.getByLabel('Choose a password (at least 8 characters)').fill('bob-password-1');
  await bob.getByLabel('Password again').fill('bob-password-1');
  await bob.getByRole('button', {name: 'Create my account'}).click();
  await bob.locator('#accept-signin').click();
  await bob.waitForURL(/\/login\?next=/);
  await bob.getByLabel('Username').fill('bob');
  await bob.getByLabel('Password').fill('bob-password-1');
  await bob.getByRole('button', {name: 'Log in'}).click();
  await bob.waitForSelector('body[data-ready="true"]');
  await bob.getByRole('heading', {level: 1, name: 'My runtime'}).waitFor();
  await bob.getByRole('button', {name: 'Menu'}).click();
  await bob.getByRole('link', {name: 'Usage'}).click();
  await bob.getByRole('heading', {level: 1, name: 'Usage'}).waitFor();
  ok('the invitee accepts the invitation, signs in and navigates at 360 px through the menu');

  await admin.reload(); // the list was drawn before bob existed
  await admin.getByRole('button', {name: 'Disable bob'}).click();
  await admin.getByText('User bob disabled').waitFor();
  await bob.getByRole('alert').filter({hasText: 'Your session has ended'}).waitFor({timeout: 30000});
  ok('the administrator disables the invitee and the invitee\'s open page notices the session ended');

  await admin.getByRole('button', {name: 'Delete bob'}).click();
  const confirm = admin.locator('form', {has: admin.getByLabel('Type bob to confirm')});
  await confirm.getByLabel('Type bob to confirm').fill('bbo');
  await confirm.getByRole('button', {name: 'Delete bob'}).click();
  await admin.getByText('Type exactly bob to delete.').waitFor();
  await confirm.getByLabel('Type bob to confirm').fill('bob');
  await confirm.getByRole('button', {name: 'Delete bob'}).click();
  await admin.getByText('User bob deleted.').waitFor();
  await admin.getByRole('table', {name: 'Users'}).getByRole('cell', {name: 'bob', exact: true}).waitFor({state: 'detached'});
  ok('the administrator deletes a user only after typing the name');

  // --- the other admin pages -------------------------------------------------------------------
  await go(admin, '#/admin/runtimes', 'Runtimes');
  await admin.getByRole('table', {name: /^Runtimes/}).getByRole('link', {name: 'alice'}).waitFor();
  await audit(admin, 'admin-runtimes');
  await go(admin, '#/admin/quotas', 'Quotas');
  await admin.getByLabel('User').selectOption('alice');
  await admin.getByLabel('Monthly token budget').fill('100000');
  await admin.getByRole('button', {name: 'Save quota of alice'}).click();
  await admin.getByText('Quota of alice saved.').waitFor();
  await audit(admin, 'admin-quotas');
  await go(admin, '#/admin/usage', 'Usage across users');
  await admin.getByRole('table', {name: /^Top spenders/}).getByRole('cell', {name: 'alice', exact: true}).waitFor();
  await audit(admin, 'admin-usage');
  await go(admin, '#/admin/audit', 'Audit log');
  await admin.getByLabel('Action (e.g. user.disable)').fill('user.delete');
  await admin.getByRole('button', {name: 'Filter'}).click();
  await admin.getByRole('table', {name: 'Audit log'}).getByRole('cell', {name: 'user.delete'}).first().waitFor();
  await audit(admin, 'admin-audit');
  await go(admin, '#/admin/health', 'Platform health');
  const health = admin.getByRole('table', {name: 'Platform health'});
  await health.getByRole('row', {name: /postgresql\s+ok/}).waitFor();
  await health.getByRole('row', {name: /controller\s+ok\s+leader/}).waitFor();
  await health.getByRole('row', {name: /profiles\s+ok/}).waitFor();
  await audit(admin, 'admin-health');
  ok('runtimes list, quotas, usage across users, audit filter and health work for the administrator');

  // --- alice signs out everywhere: her sessions end --------------------------------------------
  const alice2 = await newPage();
  await signIn(alice2, 'alice', 'alice-password-1', '#/account');
  await alice2.getByRole('button', {name: 'Sign out everywhere'}).click();
  await alice2.waitForURL(/\/login/);
  await alice.goto(`${BASE}/#/usage`); // the same document: its next call finds the session gone
  await alice.getByRole('alert').filter({hasText: 'Your session has ended'}).waitFor();
  await alice.reload();
  await alice.waitForURL(/\/login\?next=/);
  ok('sign out everywhere ends the user\'s other sessions');
  await audit(alice2, 'login');

  assert(!cspViolations.length, `no CSP violation or script error: ${cspViolations.join(' | ')}`);
  ok(`no CSP violation; axe clean and screenshots at 360/1280 px for ${axeSeen.size} pages in ${SHOTS}`);
} finally {
  await browser.close();
}
