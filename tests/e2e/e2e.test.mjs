// Browser end-to-end tests of the fitbox web app against a real `fitbox serve`.
//
//   node --test tests/e2e/          (or: cd tests/e2e && npm test)
//
// Starts `target/debug/fitbox serve --port 0 --s3-port 0 --data <tmp> --dist dist` (FITBOX_BIN,
// FITBOX_DIST override the paths), reads its `fitbox listening on http://...` line, and drives
// Debian's Chromium (/usr/bin/chromium, CHROMIUM_BIN overrides) with playwright-core. Nothing is
// stubbed: the page's API calls, the signed PUTs to the embedded S3 and the server's resizes are
// all real. Each run leaves screenshots in tests/e2e/artifacts/ and prints drop-to-preview times.
//
// Needs: `trunk build --release` (dist/), `cargo build -p fitbox`, scripts/setup-web.sh.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const FITBOX_BIN = process.env.FITBOX_BIN ?? path.join(ROOT, 'target', 'debug', 'fitbox');
const DIST = process.env.FITBOX_DIST ?? path.join(ROOT, 'dist');
const TESTDATA = process.env.FITBOX_TESTDATA ?? path.resolve(ROOT, '..', 'shared', 'testdata');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');

// The gallery's page size (web/src/urls.rs PAGE_SIZE).
const PAGE_SIZE = 24;

// Three real photos; expected thumbnail sizes for the default 400x400 box (fitbox thumbnail
// gives the same: keep the ratio, round to nearest, EXIF orientation applied).
const PHOTOS = [
  { file: 'photos/mde_canon_eos_1000d_orient6.jpg', type: 'image/jpeg', width: 267, height: 400 }, // 3888x2592, EXIF 6
  { file: 'photos/mde_canon_eos_5d_mark_iii.jpg', type: 'image/jpeg', width: 400, height: 267 }, // 5760x3840
  { file: 'photos/libwebp_bryce_panorama.webp', type: 'image/webp', width: 400, height: 77 }, // 11158x2156, 24 MP
];
// Benchmark mode (`make bench`): FITBOX_E2E_TIMING_OUT=file.json times every photo in
// $FITBOX_TESTDATA/photos and writes the times there.
const TIMING_OUT = process.env.FITBOX_E2E_TIMING_OUT;
const MEDIA = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif' };

// Every photo, with the output size `fitbox thumbnail` gives it (createImageBitmap is asked for
// the same size).
function allPhotos() {
  const dir = path.join(TESTDATA, 'photos');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fitbox-e2e-sizes-'));
  try {
    return fs.readdirSync(dir).sort().filter((f) => MEDIA[path.extname(f).toLowerCase()]).map((f) => {
      const json = execFileSync(FITBOX_BIN, ['thumbnail', path.join(dir, f), '-o', path.join(tmp, 'out'), '--json']);
      const { output } = JSON.parse(json);
      return { file: `photos/${f}`, type: MEDIA[path.extname(f).toLowerCase()], width: output.width, height: output.height };
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// Timed against the browser's own createImageBitmap: the largest (24 MP WebP) and the largest
// JPEG (22 MP); every photo in benchmark mode.
const TIMED = TIMING_OUT ? allPhotos() : [PHOTOS[2], PHOTOS[1]];
const TRUNCATED = { file: 'edge/sharp_truncated.jpg', type: 'image/jpeg' };
// Small real images to fill more than one gallery page.
const SMALL = ['edge/mde_iphone_xr_1x1.jpg', 'edge/pillow_hopper_orientation_6.webp', 'edge/vips_cogs.gif', 'edge/sharp_with-alpha.png'];

let server; // { child, url, dataDir, log }
let browser;

function log(...args) {
  console.log('[e2e]', ...args);
}

async function startServer() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitbox-e2e-'));
  assert.ok(fs.existsSync(FITBOX_BIN), `no fitbox binary at ${FITBOX_BIN} (cargo build -p fitbox)`);
  assert.ok(fs.existsSync(path.join(DIST, 'index.html')), `no built app in ${DIST} (trunk build --release)`);
  const child = spawn(
    FITBOX_BIN,
    ['serve', '--port', '0', '--s3-port', '0', '--data', dataDir, '--dist', DIST],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  );
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fitbox serve printed no URL in 60 s:\n${out}`)), 60_000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/fitbox listening on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => (out += c));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fitbox serve exited with ${code}:\n${out}`));
    });
  });
  child.stdout.on('data', () => {});
  child.stderr.on('data', () => {});
  return { child, url, dataDir };
}

async function stopServer(s) {
  if (!s) return;
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
  if (code === 'timeout') s.child.kill('SIGKILL');
  fs.rmSync(s.dataDir, { recursive: true, force: true });
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  server = process.env.FITBOX_URL ? { url: process.env.FITBOX_URL.replace(/\/$/, '') } : await startServer();
  log('server', server.url);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  if (server?.child) await stopServer(server);
});

/** A page with network and console recording. */
async function openPage(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData() ?? '' }));
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  // Test files are served to the page from this origin-less route, so the page builds real
  // File objects from real bytes (as a drag from the desktop would give it).
  await page.route('**/__e2e_file__/**', (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname.replace(/^\/__e2e_file__\//, ''));
    route.fulfill({ status: 200, body: fs.readFileSync(path.join(TESTDATA, rel)), contentType: 'application/octet-stream' });
  });
  await page.goto(server.url + '/');
  await page.locator('section[aria-label="Gallery"]').waitFor();
  return { context, page, requests, errors };
}

/** Drop files onto the page the way a drag from the desktop does: one `drop` with a DataTransfer. */
async function dropFiles(page, files) {
  const dt = await page.evaluateHandle(async (files) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const blob = await (await fetch('/__e2e_file__/' + encodeURIComponent(f.file))).blob();
      dt.items.add(new File([blob], f.file.split('/').pop(), { type: f.type }));
    }
    return dt;
  }, files);
  await page.dispatchEvent('body', 'dragenter', { dataTransfer: dt });
  await page.dispatchEvent('body', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
}

const card = (page, name) => page.locator(`li.card[data-filename="${name}"]`);
const base = (f) => f.file.split('/').pop();

/** Record every status/progress a card shows, from before the drop (a MutationObserver). */
async function recordCardHistory(page) {
  await page.evaluate(() => {
    window.__cardHistory = [];
    const seen = (el) => {
      if (!(el instanceof Element) || !el.matches('li.card')) return;
      window.__cardHistory.push({
        name: el.dataset.filename, status: el.dataset.status, progress: el.dataset.progress ?? null, t: performance.now(),
      });
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes') seen(r.target);
        for (const n of r.addedNodes ?? []) {
          seen(n);
          if (n instanceof Element) n.querySelectorAll('li.card').forEach(seen);
        }
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status', 'data-progress'] });
  });
}

async function waitStatus(page, name, status, timeout) {
  await page.waitForFunction(
    ([n, s]) => document.querySelector(`li.card[data-filename="${n}"]`)?.dataset.status === s,
    [name, status],
    { timeout },
  );
}

async function api(pathAndQuery, init) {
  const r = await fetch(server.url + pathAndQuery, init);
  const text = await r.text();
  assert.ok(r.ok, `${init?.method ?? 'GET'} ${pathAndQuery}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function galleryIds() {
  const ids = [];
  let cursor = null;
  do {
    const q = `/api/images?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await api(q);
    ids.push(...page.images.map((i) => i.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

test('three photos: previews with the right sizes, upload progress, done with identical pixels, first in the gallery', async () => {
  const { context, page, requests, errors } = await openPage();
  try {
    // A fresh server: the gallery says so.
    await page.locator('section[aria-label="Gallery"] .state-empty').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'empty.png') });

    await recordCardHistory(page);
    const dropAt = Date.now();
    await dropFiles(page, PHOTOS);

    // A card per file, at once.
    for (const p of PHOTOS) await card(page, base(p)).waitFor({ timeout: 2_000 });
    log(`3 cards after ${Date.now() - dropAt} ms`);

    // Previews computed in the worker, with the server's output size.
    for (const p of PHOTOS) {
      const c = card(page, base(p));
      await page.waitForFunction((n) => document.querySelector(`li.card[data-filename="${n}"]`)?.dataset.previewMs, base(p), { timeout: 60_000 });
      assert.equal(await c.getAttribute('data-preview-width'), String(p.width), `${base(p)} preview width`);
      assert.equal(await c.getAttribute('data-preview-height'), String(p.height), `${base(p)} preview height`);
      const canvas = c.locator('canvas');
      if (await canvas.count()) {
        assert.deepEqual(await canvas.evaluate((el) => [el.width, el.height]), [p.width, p.height]);
      }
    }

    // Uploaded with progress, resized by the server, and pixel-identical to the previews.
    for (const p of PHOTOS) await waitStatus(page, base(p), 'done', 120_000);
    const history = await page.evaluate(() => window.__cardHistory);
    for (const p of PHOTOS) {
      const mine = history.filter((h) => h.name === base(p));
      const statuses = [...new Set(mine.map((h) => h.status))];
      assert.deepEqual(statuses, ['previewing', 'ready', 'uploading', 'processing', 'done'], `${base(p)} went ${statuses}`);
      const progress = mine.filter((h) => h.status === 'uploading' && h.progress !== null).map((h) => Number(h.progress));
      assert.ok(progress.length > 0 && progress.at(-1) === 100, `${base(p)} progress ${progress}`);
      assert.equal(await card(page, base(p)).getAttribute('data-identical'), 'true', `${base(p)}: server pixels differ from the preview`);
      log(`${base(p)}: progress ${progress.join(',')}%, preview ${await card(page, base(p)).getAttribute('data-preview-ms')} ms`);
    }
    // The server's thumbnail is shown on each card.
    for (const p of PHOTOS) {
      const img = card(page, base(p)).locator('.picture img');
      await img.waitFor();
      await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
      assert.deepEqual(await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]), [p.width, p.height]);
    }

    // Each went through one ticket and one PUT.
    const posts = requests.filter((r) => r.method === 'POST' && r.url.endsWith('/api/uploads'));
    const puts = requests.filter((r) => r.method === 'PUT');
    assert.equal(posts.length, 3, 'one ticket per photo');
    assert.equal(puts.length, 3, 'one PUT per photo');

    // They lead the gallery, on the page without a reload...
    const uploaded = new Set(await Promise.all(PHOTOS.map((p) => card(page, base(p)).getAttribute('data-image-id'))));
    const firstTiles = await page.locator('section[aria-label="Gallery"] li.tile').evaluateAll((els) => els.slice(0, 3).map((e) => e.dataset.id));
    assert.deepEqual(new Set(firstTiles), uploaded);
    const imgs = page.locator('section[aria-label="Gallery"] img');
    for (let i = 0; i < 3; i++) {
      assert.ok((await imgs.nth(i).getAttribute('alt'))?.length > 0, 'gallery images have alt text');
      assert.ok(Number(await imgs.nth(i).getAttribute('width')) > 0, 'gallery images have a width');
      assert.ok(Number(await imgs.nth(i).getAttribute('height')) > 0, 'gallery images have a height');
    }
    // ...and in the server's own listing, newest first.
    const listed = (await api('/api/images?limit=3')).images.map((i) => i.id);
    assert.deepEqual(new Set(listed), uploaded);

    // A truncated JPEG: rejected by the preview at once, with core's message, never uploaded.
    const before = requests.length;
    await dropFiles(page, [TRUNCATED]);
    await waitStatus(page, base(TRUNCATED), 'rejected', 5_000);
    const line = await card(page, base(TRUNCATED)).locator('.line').innerText();
    assert.match(line, /truncated/i);
    await page.waitForTimeout(1_500);
    const after = requests.slice(before);
    assert.deepEqual(after.filter((r) => r.method === 'POST' || r.method === 'PUT'), [], 'a rejected file is never uploaded');
    assert.equal(await card(page, base(TRUNCATED)).getAttribute('data-status'), 'rejected');
    log(`truncated JPEG: "${line}"`);

    await page.screenshot({ path: path.join(ARTIFACTS, 'uploads-desktop.png'), fullPage: true });
    assert.deepEqual(errors.filter((e) => !/favicon/.test(e)), [], 'no page errors');
  } finally {
    await context.close();
  }
});

test('the file input is reachable by keyboard and picking a file previews it', async () => {
  const { context, page } = await openPage();
  try {
    let focused = '';
    for (let i = 0; i < 10 && focused !== 'file-input'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    assert.equal(focused, 'file-input', 'Tab reaches the file input');
    const input = page.locator('#file-input');
    assert.equal(await input.getAttribute('accept'), 'image/*');
    assert.equal(await input.evaluate((e) => e.multiple), true);
    const small = 'edge/pillow_hopper_orientation_6.webp';
    await input.setInputFiles(path.join(TESTDATA, small));
    const name = path.basename(small);
    await card(page, name).waitFor({ timeout: 2_000 });
    await page.waitForFunction((n) => document.querySelector(`li.card[data-filename="${n}"]`)?.dataset.previewWidth, name, { timeout: 30_000 });
    await waitStatus(page, name, 'done', 60_000);
    assert.equal(await card(page, name).getAttribute('data-identical'), 'true');
  } finally {
    await context.close();
  }
});

test('gallery: more than one page, the next page loads on scroll', async () => {
  // Seed images through the API exactly as a script would: ticket, then PUT with its headers.
  const have = (await galleryIds()).length;
  const want = PAGE_SIZE + 6;
  const ids = [];
  for (let i = have; i < want; i++) {
    const rel = SMALL[i % SMALL.length];
    const bytes = fs.readFileSync(path.join(TESTDATA, rel));
    const type = { jpg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', png: 'image/png' }[rel.split('.').pop()];
    const t = await api('/api/uploads', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: `seed-${i}-${path.basename(rel)}`, content_type: type, size: bytes.length }),
    });
    const headers = Object.fromEntries(Object.entries(t.headers).filter(([k]) => k.toLowerCase() !== 'content-length'));
    const put = await fetch(t.url, { method: t.method, headers, body: bytes });
    assert.ok(put.ok, `PUT ${put.status} ${await put.text()}`);
    ids.push(t.id);
  }
  const deadline = Date.now() + 120_000;
  for (const id of ids) {
    for (;;) {
      const s = await api(`/api/uploads/${encodeURIComponent(id)}`);
      if (s.status === 'ready') break;
      assert.notEqual(s.status, 'rejected', `seed ${id} rejected: ${s.reason}`);
      assert.ok(Date.now() < deadline, 'seeded images were not resized in time');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const total = (await galleryIds()).length;
  assert.ok(total > PAGE_SIZE, `${total} images`);

  // A phone-sized window: one page does not fill it, so the next page waits for the scroll.
  const { context, page, requests, errors } = await openPage({ width: 390, height: 844 });
  try {
    const tiles = page.locator('section[aria-label="Gallery"] li.tile');
    await page.waitForFunction((n) => document.querySelectorAll('section[aria-label="Gallery"] li.tile').length >= n, PAGE_SIZE);
    await page.waitForTimeout(500);
    assert.equal(await tiles.count(), PAGE_SIZE, 'only the first page before scrolling');
    assert.equal(requests.filter((r) => r.url.includes('/api/images') && r.url.includes('cursor=')).length, 0);
    // Lazy images with their size set, so nothing jumps while they load.
    const lazy = await page.locator('section[aria-label="Gallery"] img').evaluateAll((els) =>
      els.every((e) => e.loading === 'lazy' && e.getAttribute('width') && e.getAttribute('height') && e.alt));
    assert.ok(lazy, 'gallery images are lazy, sized and have alt text');
    await page.screenshot({ path: path.join(ARTIFACTS, 'gallery-phone-top.png') });

    for (let i = 0; i < 20 && (await tiles.count()) <= PAGE_SIZE; i++) {
      await page.mouse.wheel(0, 1500);
      await page.waitForTimeout(250);
    }
    await page.waitForFunction((n) => document.querySelectorAll('section[aria-label="Gallery"] li.tile').length > n, PAGE_SIZE, { timeout: 10_000 });
    const next = requests.filter((r) => r.url.includes('/api/images') && r.url.includes('cursor='));
    assert.ok(next.length >= 1, 'the next page was asked for with a cursor');
    const shown = await tiles.evaluateAll((els) => els.map((e) => e.dataset.id));
    assert.equal(new Set(shown).size, shown.length, 'no duplicates');
    assert.deepEqual(shown, (await galleryIds()).slice(0, shown.length), 'same order as the API, newest first');
    log(`gallery: ${PAGE_SIZE} then ${shown.length} of ${total} images after scrolling`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'gallery-phone-scrolled.png') });
    assert.deepEqual(errors, [], 'no page errors');
  } finally {
    await context.close();
  }
});

test('drop-to-preview of the largest photos vs createImageBitmap (printed, not asserted)', async () => {
  const { context, page } = await openPage();
  try {
    const runs = 3;
    const results = {};
    for (const photo of TIMED) {
      const name = base(photo);
      const ours = [];
      const worker = [];
      // Main-thread tasks of 50 ms or more while previews run (the page must not freeze).
      await page.evaluate(() => {
        window.__longTasks = [];
        window.__longObserver?.disconnect();
        window.__longObserver = new PerformanceObserver((l) => window.__longTasks.push(...l.getEntries().map((e) => e.duration)));
        window.__longObserver.observe({ type: 'longtask' });
      });
      for (let i = 0; i < runs; i++) {
        const before = await card(page, name).count();
        await dropFiles(page, [photo]);
        // Each drop of the same file adds a card; wait for the newest one's preview.
        await page.waitForFunction(
          ([n, k]) => {
            const cs = [...document.querySelectorAll(`li.card[data-filename="${n}"]`)];
            return cs.length > k && cs[k].dataset.previewMs;
          },
          [name, before],
          { timeout: 60_000 },
        );
        const [ms, wms] = await page.evaluate(([n, k]) => {
          const c = [...document.querySelectorAll(`li.card[data-filename="${n}"]`)][k];
          return [Number(c.dataset.previewMs), Number(c.dataset.workerMs)];
        }, [name, before]);
        ours.push(ms);
        worker.push(wms);
        // Let its upload and the server's resize finish, so the next run has the CPU to itself.
        await page.waitForFunction(
          ([n, k]) => ['done', 'rejected', 'failed'].includes([...document.querySelectorAll(`li.card[data-filename="${n}"]`)][k]?.dataset.status),
          [name, before],
          { timeout: 120_000 },
        );
        await page.waitForTimeout(300);
      }
      const longTasks = await page.evaluate(() => window.__longTasks);
      const bitmap = await page.evaluate(async ([file, type, w, h, runs]) => {
        const blob = await (await fetch('/__e2e_file__/' + encodeURIComponent(file))).blob();
        const f = new File([blob], file.split('/').pop(), { type });
        const out = [];
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          const bmp = await createImageBitmap(f, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
          const c = document.createElement('canvas');
          c.width = w;
          c.height = h;
          const ctx = c.getContext('2d');
          ctx.drawImage(bmp, 0, 0);
          ctx.getImageData(0, 0, 1, 1);
          out.push(performance.now() - t0);
          bmp.close();
        }
        return out;
      }, [photo.file, photo.type, photo.width, photo.height, runs]);
      const fmt = (a) => a.map((x) => `${x.toFixed(0)} ms`).join(', ');
      log(`${name}: drop-to-preview with fitbox-core in the worker: ${fmt(ours)} (of which in the worker: ${fmt(worker)})`);
      log(`${name}: main-thread tasks >= 50 ms during those ${runs} drops, uploads included: ${longTasks.length ? fmt(longTasks) : 'none'}`);
      log(`${name}: createImageBitmap(file, {resizeWidth ${photo.width}, resizeHeight ${photo.height}, resizeQuality "high"}) + draw: ${fmt(bitmap)}`);
      results[name] = { size: `${photo.width}x${photo.height}`, drop_to_preview_ms: ours, worker_ms: worker, create_image_bitmap_ms: bitmap, long_tasks_ms: longTasks };
    }
    if (TIMING_OUT) {
      fs.writeFileSync(TIMING_OUT, JSON.stringify({ chromium: browser.version(), runs, photos: results }, null, 1));
      log(`timings written to ${TIMING_OUT}`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'timing.png') });
  } finally {
    await context.close();
  }
});
