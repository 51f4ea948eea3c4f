// What the browser tests share: Debian's Chromium through playwright-core, pages that
// record CSP violations and script errors, signing in through /login, and an audit of a
// page at 360 and 1280 px (axe-core: no serious or critical violation; no sideways
// scrolling; a full-page screenshot).
import {chromium} from 'playwright-core';
import {mkdirSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let checks = 0;
export const ok = (what) => console.log(`ok ${++checks} - ${what}`);
export function assert(cond, what) {
  if (!cond) throw new Error(`FAIL: ${what}`);
}

// openBrowser({base, shots}): the browser and helpers bound to the dashboard at base,
// writing screenshots to the directory shots.
export async function openBrowser({base, shots}) {
  mkdirSync(shots, {recursive: true});
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const cspViolations = [];
  const axeSeen = new Set();

  async function newPage(width = 1280) {
    const ctx = await browser.newContext({viewport: {width, height: 900}, acceptDownloads: true});
    const page = await ctx.newPage();
    page.setDefaultTimeout(20000);
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on('pageerror', (e) => cspViolations.push(`page error: ${e.message}`));
    return page;
  }

  async function signIn(page, user, password, hash = '#/runtime') {
    await page.goto(`${base}/${hash}`);
    await page.waitForURL(/\/login\?next=/); // not signed in: the dashboard sends us to /login
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', {name: 'Log in'}).click();
    await page.waitForSelector('body[data-ready="true"]');
  }

  // At 360 and 1280 px: no serious or critical axe violation, no sideways scrolling, a screenshot.
  async function audit(page, name) {
    const size = page.viewportSize();
    for (const width of [360, 1280]) {
      await page.setViewportSize({width, height: 900});
      if (!(await page.evaluate(() => !!window.axe)))
        await page.evaluate(axeSource); // through the DevTools protocol: the page's CSP stays strict
      const r = await page.evaluate(() => window.axe.run(document, {resultTypes: ['violations']}));
      const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert(!bad.length, `axe on ${name} at ${width} px: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`).join(' | ')}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 1, `${name} fits ${width} px without sideways scrolling (overflow ${overflow}px)`);
      await page.screenshot({path: `${shots}/${name}-${width}.png`, fullPage: true});
    }
    axeSeen.add(name);
    await page.setViewportSize(size);
  }

  async function go(page, hash, heading) {
    await page.goto(`${base}/${hash}`);
    await page.getByRole('heading', {level: 1, name: heading}).waitFor();
  }

  return {browser, newPage, signIn, audit, go, cspViolations, axeSeen, close: () => browser.close()};
}
