// Self-test of the OIDC test harness: `node --test tests/oidc/selftest.mjs`.
// Starts provider.mjs three times (A: default; B: A's issuer string but its
// own keys; C: --ttl 1), gets real tokens through flow.mjs, and checks them
// with jose against the providers' JWKS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { importE2E } from './deps.mjs';
import { tokens, refresh } from './flow.mjs';

const jose = await importE2E('jose');
const PROVIDER = fileURLToPath(new URL('./provider.mjs', import.meta.url));
const WEB_ORIGIN = 'http://127.0.0.1:8080';
const now = () => Math.floor(Date.now() / 1000);

const children = [];

// Spawns provider.mjs and resolves with its parsed ready line (+ the child).
async function startProvider(args = []) {
  const child = spawn(process.execPath, [PROVIDER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: child.stdout });
  const ready = once(lines, 'line');
  const died = once(child, 'exit').then(([code]) => {
    throw new Error(`provider.mjs exited (${code}) before ready:\n${stderr}`);
  });
  const timeout = sleep(10_000, undefined, { ref: false }).then(() => {
    throw new Error(`provider.mjs not ready after 10 s:\n${stderr}`);
  });
  const [line] = await Promise.race([ready, died, timeout]);
  died.catch(() => {}); // exits later are expected
  // Anything more on stdout breaks the "one JSON line" contract.
  lines.on('line', (extra) => { throw new Error(`unexpected stdout from provider: ${extra}`); });
  return { ...JSON.parse(line), child };
}

// Verifies a JWT against a JWKS document (an object, as served at jwks_uri).
const verifyWith = (jwks, token, opts) => jose.jwtVerify(token, jose.createLocalJWKSet(jwks), opts);
async function fetchJwks(uri) {
  const res = await fetch(uri);
  assert.equal(res.status, 200);
  return res.json();
}

let A; let B; let C;
let shortLived; // C's tokens, fetched early so their 1 s lifetime runs meanwhile

before(async () => {
  A = await startProvider(['--redirect-uri', `${WEB_ORIGIN}/`]);
  [B, C] = await Promise.all([
    startProvider(['--issuer', A.issuer]),
    startProvider(['--ttl', '1']),
  ]);
  shortLived = await tokens({ issuer: C.url, login: 'carol' });
});

after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
});

test('ready line', () => {
  assert.equal(A.issuer, `http://127.0.0.1:${A.port}`);
  assert.equal(A.url, A.issuer);
  assert.equal(A.client_id, 'fitbox-web');
  assert.equal(A.jwks_uri, `${A.issuer}/jwks`);
  assert.equal(A.api_audience, 'fitbox-api');
  assert.equal(A.ttl, 300);
  assert.deepEqual(A.redirect_uris, ['http://127.0.0.1/callback', `${WEB_ORIGIN}/`]);
  assert.equal(B.issuer, A.issuer);
  assert.notEqual(B.url, A.url);
});

for (const [login, groups] of [['alice', []], ['admin', ['admin']], ['admin2', ['admin']]]) {
  test(`tokens for ${login}: claims and signatures`, async () => {
    const t = await tokens({ issuer: A.url, login });
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.expires_in, 300);
    assert.ok(t.refresh_token, 'refresh_token issued');
    const jwks = await fetchJwks(A.jwks_uri);

    const id = await verifyWith(jwks, t.id_token, { issuer: A.issuer, audience: 'fitbox-web' });
    assert.equal(id.protectedHeader.alg, 'RS256');
    assert.ok(id.protectedHeader.kid);
    assert.equal(id.payload.sub, login);
    assert.deepEqual(id.payload['cognito:groups'], groups);
    assert.equal(id.payload.email, `${login}@example.test`);
    assert.ok(Math.abs(id.payload.exp - (now() + 300)) <= 5, `id exp ${id.payload.exp}`);

    const at = await verifyWith(jwks, t.access_token, {
      issuer: A.issuer, audience: 'fitbox-api', typ: 'at+jwt',
    });
    assert.equal(at.payload.sub, login);
    assert.equal(at.payload.client_id, 'fitbox-web');
    assert.equal(at.payload.scope, 'openid profile email');
    assert.deepEqual(at.payload['cognito:groups'], groups);
    assert.ok(Math.abs(at.payload.exp - (now() + 300)) <= 5, `at exp ${at.payload.exp}`);
  });
}

test('refresh token yields a new JWT access token with the group claim', async () => {
  const t = await tokens({ issuer: A.url, login: 'admin' });
  const r = await refresh({ issuer: A.url, refreshToken: t.refresh_token });
  const at = await verifyWith(await fetchJwks(A.jwks_uri), r.access_token, { issuer: A.issuer, audience: 'fitbox-api' });
  assert.deepEqual(at.payload['cognito:groups'], ['admin']);
  assert.notEqual(r.refresh_token, t.refresh_token); // public clients rotate
});

test('prompt=consent (consent form) + offline_access works too', async () => {
  const t = await tokens({
    issuer: A.url, login: 'dave', scope: 'openid email offline_access', prompt: 'consent',
  });
  assert.ok(t.id_token && t.access_token && t.refresh_token);
});

test('same issuer, other key: A\'s JWKS rejects B\'s tokens', async () => {
  const [jwksA, jwksB] = await Promise.all([fetchJwks(A.jwks_uri), fetchJwks(B.jwks_uri)]);
  const nA = jwksA.keys.find((k) => k.kty === 'RSA').n;
  const nB = jwksB.keys.find((k) => k.kty === 'RSA').n;
  assert.notEqual(nA, nB);
  assert.ok(jwksA.keys.every((k) => !('d' in k)), 'JWKS must only hold public keys');

  const t = await tokens({ issuer: B.url, login: 'mallory' });
  // Well-formed and claims A's issuer ...
  const at = await verifyWith(jwksB, t.access_token, { issuer: A.issuer, audience: 'fitbox-api' });
  assert.equal(at.payload.iss, A.issuer);
  // ... but A's keys do not verify it, neither by kid nor by trying each key.
  await assert.rejects(verifyWith(jwksA, t.access_token, { issuer: A.issuer }), /no applicable key|JWKSNoMatchingKey/i);
  for (const jwk of jwksA.keys.filter((k) => k.alg === 'RS256')) {
    await assert.rejects(jose.jwtVerify(t.id_token, await jose.importJWK(jwk, 'RS256')), jose.errors.JWSSignatureVerificationFailed);
  }
});

test('CORS: token endpoint answers the web origin only', async () => {
  const post = (origin) => fetch(`${A.url}/token`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=refresh_token&refresh_token=bogus&client_id=fitbox-web',
  });
  const ok = await post(WEB_ORIGIN);
  assert.equal(ok.headers.get('access-control-allow-origin'), WEB_ORIGIN);
  const bad = await post('http://127.0.0.1:9999');
  assert.equal(bad.headers.get('access-control-allow-origin'), null);
});

test('--ttl 1: tokens expire', async () => {
  const jwks = await fetchJwks(C.jwks_uri);
  const payload = jose.decodeJwt(shortLived.access_token);
  assert.equal(payload.exp - payload.iat, 1);
  assert.equal(shortLived.expires_in, 1);
  const id = jose.decodeJwt(shortLived.id_token);
  assert.equal(id.exp - id.iat, 1);
  // Wait until both are past exp (whole seconds), then verification must fail.
  const wait = (Math.max(payload.exp, id.exp) + 1) * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  await assert.rejects(verifyWith(jwks, shortLived.access_token, { issuer: C.issuer }), jose.errors.JWTExpired);
  await assert.rejects(verifyWith(jwks, shortLived.id_token, { issuer: C.issuer }), jose.errors.JWTExpired);
});

test('provider exits when its stdin closes', async () => {
  const exited = once(C.child, 'exit');
  C.child.stdin.end();
  const [code] = await Promise.race([exited, sleep(5000, undefined, { ref: false }).then(() => ['timeout'])]);
  assert.equal(code, 0);
});
