// The dashboard's first load in Chromium, for test/bench/dashboard_bench.sh: bytes on the
// wire and decoded (static assets and API calls apart) and the time from navigation to
// the first page on screen and usable (app.js's 'clawplane-ready' mark: the account
// fetched, the page rendered, its handlers attached), cold (empty cache) and warm.
// Environment: BENCH_URL, BENCH_USER, BENCH_PASSWORD, BENCH_RUNS, CHROMIUM.
import {chromium} from 'playwright-core';

const BASE = process.env.BENCH_URL;
const runs = Number(process.env.BENCH_RUNS || 5);
const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage']});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function load(page, again) {
  const seen = [];
  const onResp = (r) => seen.push(r);
  page.on('response', onResp);
  if (again) await page.reload();
  else await page.goto(`${BASE}/#/runtime`);
  await page.waitForSelector('body[data-ready="true"]');
  const ready = await page.evaluate(() => performance.getEntriesByName('clawplane-ready')[0].startTime);
  page.off('response', onResp);
  const out = {ready, assets: {wire: 0, decoded: 0, n: 0}, api: {wire: 0, decoded: 0, n: 0}};
  for (const r of seen) {
    if ((r.headers()['content-type'] || '').startsWith('text/event-stream')) continue; // never ends
    const kind = new URL(r.url()).pathname.startsWith('/api/') ? out.api : out.assets;
    const sizes = await r.request().sizes();
    let body = 0;
    try {
      body = r.status() === 304 ? 0 : (await r.body()).length;
    } catch (e) {
      body = 0; // an event stream has no finished body
    }
    kind.wire += sizes.responseBodySize + sizes.responseHeadersSize;
    kind.decoded += body;
    kind.n++;
  }
  return out;
}

try {
  const cold = [], warm = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext();
    const r = await ctx.request.post(`${BASE}/api/v1/auth/login`, {data: {username: process.env.BENCH_USER, password: process.env.BENCH_PASSWORD}});
    if (!r.ok()) throw new Error(`login: ${r.status()}`);
    const page = await ctx.newPage();
    cold.push(await load(page));
    warm.push(await load(page, true)); // reloaded: assets from the cache, index revalidated
    await ctx.close();
  }
  const f = (b) => `${(b / 1024).toFixed(1)} KiB`;
  for (const [name, xs] of [['cold', cold], ['warm', warm]]) {
    const x = xs[xs.length - 1];
    console.log(`${name} load: static ${x.assets.n} files ${f(x.assets.wire)} on the wire, ${f(x.assets.decoded)} decoded;` +
      ` API ${x.api.n} calls ${f(x.api.wire)} on the wire; ready after ${median(xs.map((r) => r.ready)).toFixed(0)} ms` +
      ` (median of ${xs.length}; min ${Math.min(...xs.map((r) => r.ready)).toFixed(0)}, max ${Math.max(...xs.map((r) => r.ready)).toFixed(0)})`);
  }
} finally {
  await browser.close();
}
