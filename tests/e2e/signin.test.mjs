// Sign-in end to end: a real `fitbox serve --auth oidc` and a real OpenID provider (npm's
// `oidc-provider`, tests/oidc/provider.mjs) on loopback, driven in Debian's Chromium.
//
//   node --test tests/e2e/signin.test.mjs     (scripts/test-web.sh e2e runs it)
//
// Alice signs in through the provider's login page (code flow with PKCE, from the page itself),
// drops two photos and both reach the gallery with a Delete button; signed out, the page offers
// only "Sign in" and refuses drops; Bob signs in and can delete neither (no button, and the API
// answers 403); Alice deletes one after confirming, and it is gone from the gallery, the API and
// the store; signed out again, uploading is offered only after signing in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { tokens } from '../oidc/flow.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const FITBOX_BIN = process.env.FITBOX_BIN ?? path.join(ROOT, 'target', 'debug', 'fitbox');
const DIST = process.env.FITBOX_DIST ?? path.join(ROOT, 'dist');
const TESTDATA = process.env.FITBOX_TESTDATA ?? path.resolve(ROOT, '..', 'shared', 'testdata');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');
const PHOTOS = [
  { file: 'photos/mde_canon_eos_1000d_orient6.jpg', type: 'image/jpeg' },
  { file: 'edge/sharp_with-alpha.png', type: 'image/png' },
];

let provider; // { child, issuer }
let server; // { child, url, dataDir }
let browser;

const log = (...a) => console.log('[signin]', ...a);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startProvider(redirectUri) {
  const child = spawn(process.execPath, [path.join(ROOT, 'tests', 'oidc', 'provider.mjs'), '--redirect-uri', redirectUri], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`provider exited with ${code}`)));
  });
  return { child, ...JSON.parse(line) };
}

async function startServer(port, issuer) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitbox-signin-'));
  assert.ok(fs.existsSync(FITBOX_BIN), `no fitbox binary at ${FITBOX_BIN}`);
  assert.ok(fs.existsSync(path.join(DIST, 'index.html')), `no built app in ${DIST}`);
  const child = spawn(FITBOX_BIN, [
    'serve', '--port', String(port), '--s3-port', '0', '--data', dataDir, '--dist', DIST,
    '--auth', 'oidc', '--oidc-issuer', issuer, '--oidc-client-id', 'fitbox-web',
    '--oidc-audiences', 'fitbox-web,fitbox-api',
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fitbox serve printed no URL in 60 s:\n${out}`)), 60_000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = out.match(/fitbox listening on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    child.stderr.on('data', (c) => (out += c));
    child.on('exit', (code) => reject(new Error(`fitbox serve exited with ${code}:\n${out}`)));
  });
  return { child, url, dataDir };
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  provider = await startProvider(`http://127.0.0.1:${port}/`);
  server = await startServer(port, provider.issuer);
  log('provider', provider.issuer, 'server', server.url);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  if (server) {
    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    server.child.kill('SIGKILL');
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  }
  provider?.child.kill('SIGTERM');
});

async function dropFiles(page, files) {
  const dt = await page.evaluateHandle(async (files) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const blob = await (await fetch('/__e2e_file__/' + encodeURIComponent(f.file))).blob();
      dt.items.add(new File([blob], f.file.split('/').pop(), { type: f.type }));
    }
    return dt;
  }, files);
  for (const type of ['dragenter', 'dragover', 'drop']) await page.dispatchEvent('body', type, { dataTransfer: dt });
}

/** Sign in as `login` through the provider's own login page. */
async function signIn(page, login) {
  await page.getByRole('button', { name: 'Sign in' }).first().click();
  await page.locator('input[name=login]').waitFor({ timeout: 20_000 });
  await page.fill('input[name=login]', login);
  const password = page.locator('input[name=password]');
  if (await password.count()) await password.fill('any');
  await page.locator('form button[type=submit], form [type=submit]').first().click();
  await page.waitForURL((u) => u.origin === server.url && !u.search.includes('code='), { timeout: 30_000 });
  await page.getByText(`Signed in as ${login}@example.test`).waitFor({ timeout: 20_000 });
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).first().waitFor();
}

async function apiImages() {
  const r = await fetch(`${server.url}/api/images`);
  assert.equal(r.status, 200);
  return (await r.json()).images;
}

test('sign in, upload, only the owner deletes, sign out', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.route('**/__e2e_file__/**', (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname.replace(/^\/__e2e_file__\//, ''));
    route.fulfill({ status: 200, body: fs.readFileSync(path.join(TESTDATA, rel)), contentType: 'application/octet-stream' });
  });
  let dialogs = 0;
  page.on('dialog', (d) => {
    dialogs += 1;
    d.accept();
  });

  await page.goto(server.url + '/');
  // Signed out: uploading is offered only through signing in.
  await page.getByText('Sign in to upload images.').waitFor();
  assert.equal(await page.getByText('Choose files').count(), 0);

  // Alice signs in and drops two photos: both reach the gallery, each with a Delete button.
  await signIn(page, 'alice');
  await page.getByText('Choose files').waitFor();
  await dropFiles(page, PHOTOS);
  for (const p of PHOTOS) {
    await page.waitForFunction(
      (n) => document.querySelector(`li.card[data-filename="${n}"]`)?.dataset.status === 'done',
      p.file.split('/').pop(), { timeout: 120_000 });
  }
  const tiles = page.locator('li.tile');
  await page.waitForFunction(() => document.querySelectorAll('li.tile').length === 2);
  assert.equal(await page.locator('li.tile[data-can-delete="true"]').count(), 2);
  const ids = await tiles.evaluateAll((els) => els.map((e) => e.dataset.id));
  await page.screenshot({ path: path.join(ARTIFACTS, 'signin-alice.png') });

  // Signed out: the gallery is still public here (signed-in-upload), without Delete buttons,
  // and a drop is refused with a message.
  await signOut(page);
  await page.getByText('Sign in to upload images.').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('li.tile').length === 2);
  assert.equal(await page.locator('li.tile button.tile-delete').count(), 0);
  await dropFiles(page, PHOTOS.slice(0, 1));
  await page.getByText('Sign in to upload: this gallery takes uploads from signed-in people only.').waitFor();

  // Bob: the provider shows its login page again (prompt=login after a sign-out); he may delete
  // neither image, in the page or through the API.
  await signIn(page, 'bob');
  await page.waitForFunction(() => document.querySelectorAll('li.tile').length === 2);
  assert.equal(await page.locator('li.tile[data-can-delete="true"]').count(), 0);
  const bob = await tokens({ issuer: provider.url ?? provider.issuer, login: 'bob' });
  const refused = await fetch(`${server.url}/api/images/${ids[0]}`, {
    method: 'DELETE', headers: { authorization: `Bearer ${bob.access_token}` },
  });
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error.code, 'forbidden');
  assert.equal((await apiImages()).length, 2);
  await signOut(page);

  // Alice deletes one after confirming: gone from the page, the API and the store.
  await signIn(page, 'alice');
  await page.waitForFunction(() => document.querySelectorAll('li.tile[data-can-delete="true"]').length === 2);
  // By keyboard only: Tab to its Delete button (visibly focused), Enter, confirm.
  let reached = false;
  for (let i = 0; i < 80 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate((id) => document.activeElement?.matches(`li.tile[data-id="${id}"] button.tile-delete`), ids[0]);
  }
  assert.ok(reached, 'Tab reaches the Delete button');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused button shows its focus');
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => !document.querySelector(`li.tile[data-id="${id}"]`), ids[0]);
  assert.equal(dialogs, 1, 'the delete asked for confirmation');
  const left = await apiImages();
  assert.deepEqual(left.map((i) => i.id), [ids[1]]);
  const stored = path.join(server.dataDir, 's3', 'fitbox-resized', 'images', ids[0]);
  assert.ok(!fs.existsSync(stored) || fs.readdirSync(stored).length === 0, `${stored} still holds the thumbnail`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'signin-deleted.png') });

  // Signed out: uploading is offered only after signing in again.
  await signOut(page);
  await page.getByText('Sign in to upload images.').waitFor();
  assert.equal(await page.getByText('Choose files').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});
