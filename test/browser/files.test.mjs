// The "My files" page in a real browser against the real file service: Debian's Chromium
// driven by playwright-core, the apiserver, the controller, and alice's runtime pod with
// its clawplane-files sidecar on the runtime host, all started by test/e2e/test_files_api.sh.
// Upload (with progress, asking before replacing), list with sizes, new folder, rename,
// download (bytes compared), delete, an administrator looking at alice's files, and a
// stopped runtime's 409 in plain words; axe-core and screenshots at 360 and 1280 px.
//
// Environment: FILES_URL, FILES_USER, FILES_PASSWORD, FILES_ADMIN, FILES_ADMIN_PASSWORD,
// FILES_SCREENSHOTS (a directory), CHROMIUM (default /usr/bin/chromium).
import {randomBytes} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {openBrowser, ok, assert} from './lib.mjs';

const BASE = process.env.FILES_URL;
const USER = process.env.FILES_USER;
const PW = process.env.FILES_PASSWORD;
const ADMIN = process.env.FILES_ADMIN;
const ADMIN_PW = process.env.FILES_ADMIN_PASSWORD;
const SHOTS = process.env.FILES_SCREENSHOTS;
if (!BASE || !USER || !PW || !ADMIN || !ADMIN_PW || !SHOTS) throw new Error('run me from test/e2e/test_files_api.sh');

const {newPage, signIn, audit, go, cspViolations, axeSeen, close} = await openBrowser({base: BASE, shots: SHOTS});
const api = (p) => `${BASE}/api/v1/users/${USER}/files/${p}`;

try {
  const page = await newPage();
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.accept();
  });
  await signIn(page, USER, PW, '#/files');
  await page.getByRole('heading', {level: 1, name: 'My files'}).waitFor();
  const listing = page.getByRole('table', {name: 'Contents of the workspace'});
  await listing.getByRole('link', {name: 'AGENTS.md', exact: true}).waitFor();
  assert(await page.getByRole('link', {name: 'My files'}).getAttribute('aria-current') === 'page', 'the nav marks My files');
  ok('the user signs in through /login and sees the workspace OpenClaw laid out');

  // --- upload two files at once: each gets a progress bar that ends at 100% ---------------------
  const hello = Buffer.from('hello from the browser\n');
  const big = randomBytes(3 * 1024 * 1024);
  await page.getByLabel('Files to upload').setInputFiles([
    {name: 'hello.txt', mimeType: 'text/plain', buffer: hello},
    {name: 'big.bin', mimeType: 'application/octet-stream', buffer: big},
  ]);
  await page.getByRole('button', {name: 'Upload', exact: true}).click();
  await page.getByText('Uploaded 2 files.').waitFor({timeout: 60000});
  for (const n of ['hello.txt', 'big.bin'])
    assert(await page.getByLabel(`Upload of ${n}`).evaluate((p) => p.value) === 100, `the progress bar of ${n} is full`);
  await listing.getByRole('row', {name: /hello\.txt\s+23 B/}).waitFor();
  await listing.getByRole('row', {name: /big\.bin\s+3\.0 MiB/}).waitFor();
  ok('two files uploaded at once, a progress bar each at 100%, listed with their sizes (23 B, 3.0 MiB)');
  await audit(page, 'files');

  // --- the same name again: asked first, then replaced -------------------------------------------
  const hello2 = Buffer.from('hello again, replaced\n');
  await page.getByLabel('Files to upload').setInputFiles({name: 'hello.txt', mimeType: 'text/plain', buffer: hello2});
  await page.getByRole('button', {name: 'Upload', exact: true}).click();
  await page.getByText('Uploaded 1 file.').waitFor();
  assert(dialogs.some((m) => /hello\.txt already exists here\. Replace it\?/.test(m)), `asked before replacing: ${dialogs}`);
  await listing.getByRole('row', {name: /hello\.txt\s+22 B/}).waitFor();
  ok('uploading an existing name asks first, then replaces it (?overwrite=true)');

  // --- new folder, rename, download ----------------------------------------------------------------
  await page.getByLabel('New folder name').fill('docs');
  await page.getByRole('button', {name: 'Create folder'}).click();
  await page.getByText('Folder docs created.').waitFor();
  const rows = await listing.locator('tbody tr td:first-child').allTextContents();
  assert(rows[0].endsWith('/'), `folders come first: ${rows}`);
  await page.getByRole('button', {name: 'Rename hello.txt'}).click();
  await page.getByLabel('New name for hello.txt').fill('greeting.txt');
  await page.getByRole('button', {name: 'Save name'}).click();
  await page.getByText('Renamed hello.txt to greeting.txt.').waitFor();
  await listing.getByRole('link', {name: 'hello.txt', exact: true}).waitFor({state: 'detached'});
  const [dl] = await Promise.all([page.waitForEvent('download'),
    listing.getByRole('link', {name: 'greeting.txt', exact: true}).click()]);
  assert(dl.suggestedFilename() === 'greeting.txt', `download name: ${dl.suggestedFilename()}`);
  assert(readFileSync(await dl.path()).equals(hello2), 'the downloaded bytes are the uploaded ones');
  const [dlBig] = await Promise.all([page.waitForEvent('download'),
    listing.getByRole('link', {name: 'big.bin', exact: true}).click()]);
  assert(readFileSync(await dlBig.path()).equals(big), 'the 3 MiB file comes back byte for byte');
  ok('new folder (listed first), rename, download of both files with identical bytes');

  // --- into the folder and back; the folder as .tar -------------------------------------------------
  await listing.getByRole('link', {name: 'docs/'}).click();
  const inDocs = page.getByRole('navigation', {name: 'Folder path'});
  await inDocs.getByText('docs').waitFor();
  await page.getByText('This folder is empty.').waitFor();
  await page.getByLabel('Files to upload').setInputFiles({name: 'note.md', mimeType: 'text/plain', buffer: Buffer.from('# note\n')});
  await page.getByRole('button', {name: 'Upload', exact: true}).click();
  await page.getByRole('table', {name: 'Contents of docs'}).getByRole('row', {name: /note\.md\s+7 B/}).waitFor();
  assert((await page.request.get(api('docs/note.md'))).status() === 200, 'the upload landed inside docs');
  await inDocs.getByRole('link', {name: 'Workspace'}).click();
  await listing.getByRole('link', {name: 'docs/'}).waitFor();
  const [tar] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('link', {name: 'Download docs as .tar'}).click()]);
  const tarBytes = readFileSync(await tar.path());
  assert(tar.suggestedFilename().endsWith('.tar') && tarBytes.includes(Buffer.from('note.md')) &&
    tarBytes.includes(Buffer.from('# note\n')), `docs as .tar holds note.md (${tar.suggestedFilename()}, ${tarBytes.length} bytes)`);
  ok('into a folder (breadcrumbs), upload there, back to the workspace, the folder downloads as .tar');

  // --- paging: a folder of 205 files shows 200, then "More" the rest ------------------------------
  assert((await page.request.post(api('many'), {data: {action: 'mkdir'}})).status() === 201, 'mkdir many');
  for (let i = 0; i < 205; i += 41) {
    const rs = await Promise.all(Array.from({length: 41}, (_, j) =>
      page.request.put(api(`many/f${String(i + j).padStart(3, '0')}.txt`), {data: 'x'})));
    assert(rs.every((r) => r.status() === 201), `uploads into many: ${rs.map((r) => r.status())}`);
  }
  await go(page, '#/files?path=many', 'My files');
  const many = page.getByRole('table', {name: 'Contents of many'}).locator('tbody tr');
  await many.first().waitFor();
  assert(await many.count() === 200, `the first page holds 200 rows: ${await many.count()}`);
  await page.getByRole('button', {name: 'More', exact: true}).click();
  await page.getByRole('link', {name: 'f204.txt', exact: true}).waitFor();
  assert(await many.count() === 205, `after More, 205 rows: ${await many.count()}`);
  assert(!(await page.getByRole('button', {name: 'More', exact: true}).isVisible()), 'no More after the last page');
  await page.getByRole('navigation', {name: 'Folder path'}).getByRole('link', {name: 'Workspace'}).click();
  await listing.getByRole('link', {name: 'many/'}).waitFor();
  ok('a folder of 205 files lists 200, "More" brings the other 5 and then goes away');

  // --- delete a file and the folders (confirmed, recursive) -----------------------------------------
  await page.getByRole('button', {name: 'Delete greeting.txt'}).click();
  await page.getByText('Deleted greeting.txt.').waitFor();
  await page.getByRole('button', {name: 'Delete docs'}).click();
  await page.getByText('Deleted docs.').waitFor();
  assert(dialogs.some((m) => /Delete the folder docs and everything in it\?/.test(m)), `asked before deleting the folder: ${dialogs}`);
  await page.getByRole('button', {name: 'Delete many'}).click();
  await page.getByText('Deleted many.').waitFor();
  await page.getByRole('button', {name: 'Delete big.bin'}).click();
  await page.getByText('Deleted big.bin.').waitFor();
  for (const p of ['greeting.txt', 'docs/note.md', 'big.bin', 'many/f000.txt'])
    assert((await page.request.get(api(p))).status() === 404, `${p} is gone`);
  ok('delete files and full folders (asked first, recursive); the API finds none of them');

  // --- keyboard: reach Upload and the row actions by Tab ---------------------------------------------
  await page.getByLabel('New folder name').focus();
  await page.keyboard.type('kb');
  await page.keyboard.press('Enter');
  await page.getByText('Folder kb created.').waitFor();
  await page.getByRole('button', {name: 'Delete kb'}).focus();
  await page.keyboard.press('Enter');
  await page.getByText('Deleted kb.').waitFor();
  ok('keyboard: a folder created with Enter and deleted from its focused button');

  // --- a folder that is not there (an edited URL): the API's words and the way back -----------------
  await go(page, '#/files?path=no-such-folder', 'My files');
  const gone = await page.locator('#files-unavailable').textContent();
  assert(/no-such-folder/.test(gone), `the 404 names the folder: ${gone}`);
  await page.getByRole('link', {name: 'Back to the workspace'}).click();
  await listing.getByRole('link', {name: 'AGENTS.md', exact: true}).waitFor();
  ok('a missing folder is named in the API\'s words, with a link back to the workspace');

  // --- an administrator looks at alice's files ----------------------------------------------------
  const admin = await newPage(360);
  await signIn(admin, ADMIN, ADMIN_PW, `#/files?user=${USER}`);
  await admin.getByRole('heading', {level: 1, name: `Files of ${USER}`}).waitFor();
  await admin.getByRole('link', {name: 'AGENTS.md', exact: true}).waitFor();
  await audit(admin, 'files-admin');
  ok(`an administrator sees ${USER}'s files with ?user= (at 360 px)`);

  // --- a stopped runtime: the 409 in the API's words and the way to start it -----------------------
  await go(page, '#/runtime', 'My runtime');
  await page.getByRole('button', {name: 'Stop'}).click();
  await page.locator('#rt-phase', {hasText: 'Stopped'}).waitFor({timeout: 120000});
  await go(page, '#/files', 'My files');
  const why = page.locator('#files-unavailable');
  await why.waitFor();
  const text = await why.textContent();
  assert(/clawctl start/.test(text) && /runtime\/start/.test(text), `the 409 says how to start: ${text}`);
  assert(!(await page.getByRole('button', {name: 'Upload', exact: true}).isVisible()), 'no upload form while stopped');
  await audit(page, 'files-stopped');
  await page.getByRole('link', {name: 'Go to the runtime page to start it'}).click();
  await page.getByRole('heading', {level: 1, name: 'My runtime'}).waitFor();
  ok('stopped: the files page shows the 409 in the API\'s words and links to the runtime page');

  assert(!cspViolations.length, `no CSP violation or script error: ${cspViolations.join(' | ')}`);
  ok(`no CSP violation; axe clean and screenshots at 360/1280 px for ${axeSeen.size} pages in ${SHOTS}`);
} finally {
  await close();
}
