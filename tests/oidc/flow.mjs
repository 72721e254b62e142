// Obtains real tokens from a running provider.mjs by driving the authorization
// code + PKCE flow over plain HTTP, the way a browser would (no browser, no
// dependencies): discovery -> /auth -> login form (-> consent form) -> redirect
// carrying ?code= (read from the Location header, never fetched) -> /token.
//
//   import { tokens } from './flow.mjs';
//   const t = await tokens({ issuer: 'http://127.0.0.1:PORT', login: 'alice' });
//   // t = { id_token, access_token, refresh_token, expires_in, token_type, scope }

import { createHash, randomBytes } from 'node:crypto';

export const DEFAULTS = {
  client: 'fitbox-web',
  redirectUri: 'http://127.0.0.1/callback',
  // offline_access is not needed for a refresh token (provider.mjs always
  // issues one) and oidc-provider ignores it unless prompt=consent.
  scope: 'openid profile email',
};
const TIMEOUT_MS = 10_000; // per HTTP request
const MAX_STEPS = 20; // redirects + form posts before giving up

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/**
 * Runs the whole flow and returns the token endpoint's JSON response.
 * `issuer` is the provider's base URL (its `url` in the ready line; the same as
 * the issuer unless provider.mjs got --issuer). Throws Error on any failure.
 */
export async function tokens({
  issuer,
  login,
  client = DEFAULTS.client,
  redirectUri = DEFAULTS.redirectUri,
  scope = DEFAULTS.scope,
  prompt, // e.g. 'consent' (forces the consent page; needed for offline_access)
  password = 'any', // the dev login form requires one but ignores it
} = {}) {
  if (!issuer) throw new Error('tokens(): issuer (provider base URL) is required');
  if (!login) throw new Error('tokens(): login is required');

  const meta = await discover(issuer);
  const jar = new CookieJar();

  // PKCE (RFC 7636) + state + nonce.
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));

  const auth = new URL(meta.authorization_endpoint);
  auth.search = new URLSearchParams({
    client_id: client,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(prompt && { prompt }),
  });

  const code = await runInteraction({
    start: auth, jar, redirectUri, state, login, password, issuer: meta.issuer,
  });

  return tokenRequest(meta.token_endpoint, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: client,
    code_verifier: verifier,
  });
}

/** Exchanges a refresh token for fresh tokens (the refresh token rotates). */
export async function refresh({ issuer, refreshToken, client = DEFAULTS.client }) {
  const meta = await discover(issuer);
  return tokenRequest(meta.token_endpoint, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: client,
  });
}

/** GET the discovery document. */
export async function discover(issuer) {
  const url = new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`);
  const res = await http(url);
  if (!res.ok) throw new Error(`discovery ${url} -> HTTP ${res.status}: ${await excerpt(res)}`);
  return res.json();
}

// Follows redirects and submits the provider's HTML forms until it redirects
// to redirectUri; returns the authorization code.
async function runInteraction({
  start, jar, redirectUri, state, login, password, issuer,
}) {
  const target = new URL(redirectUri);
  let request = { url: start, method: 'GET', body: undefined };

  for (let step = 0; step < MAX_STEPS; step += 1) {
    const res = await http(request.url, {
      method: request.method,
      body: request.body,
      headers: {
        cookie: jar.header(request.url),
        ...(request.body && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
    });
    jar.store(request.url, res.headers.getSetCookie());

    if (res.status >= 300 && res.status < 400) {
      const location = new URL(res.headers.get('location'), request.url);
      if (location.origin === target.origin && location.pathname === target.pathname) {
        return codeFrom(location, state, issuer);
      }
      request = { url: location, method: 'GET', body: undefined };
      continue;
    }

    const html = await res.text();
    if (res.status !== 200) throw new Error(`${request.method} ${request.url} -> HTTP ${res.status}: ${html.slice(0, 500)}`);
    const form = parseForm(html);
    if (!form) throw new Error(`${request.url}: expected a login or consent form, got: ${html.slice(0, 500)}`);

    const fields = new URLSearchParams(form.hidden);
    if (form.names.has('login')) {
      fields.set('login', login);
      if (form.names.has('password')) fields.set('password', password);
    } else if (fields.get('prompt') !== 'consent') {
      throw new Error(`${request.url}: unexpected form (prompt=${fields.get('prompt')})`);
    }
    request = { url: new URL(form.action, request.url), method: 'POST', body: fields.toString() };
  }
  throw new Error(`no redirect to ${redirectUri} after ${MAX_STEPS} steps`);
}

function codeFrom(location, state, issuer) {
  const p = location.searchParams;
  if (p.get('error')) {
    throw new Error(`authorization failed: ${p.get('error')}: ${p.get('error_description') ?? ''}`);
  }
  if (p.get('state') !== state) throw new Error(`state mismatch in ${location}`);
  // RFC 9207: the provider names itself in the response.
  if (p.has('iss') && p.get('iss') !== issuer) throw new Error(`iss mismatch in ${location} (expected ${issuer})`);
  const code = p.get('code');
  if (!code) throw new Error(`no code in ${location}`);
  return code;
}

async function tokenRequest(endpoint, params) {
  const res = await http(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`token endpoint -> HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  if (!res.ok || !json.access_token) {
    throw new Error(`token endpoint -> HTTP ${res.status}: ${json.error ?? ''} ${json.error_description ?? text.slice(0, 500)}`);
  }
  return json;
}

// fetch without automatic redirects (we must see each Location) and with a timeout.
function http(url, init = {}) {
  return fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS), ...init })
    .catch((err) => {
      throw new Error(`${init.method ?? 'GET'} ${url}: ${err.cause?.message ?? err.message}`);
    });
}

async function excerpt(res) {
  return (await res.text()).slice(0, 300);
}

// The dev interaction pages have a single POST form; pull out its action,
// hidden inputs and the names of all inputs.
function parseForm(html) {
  const m = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!m) return undefined;
  const action = attr(m[1], 'action');
  if (!action) return undefined;
  const hidden = [];
  const names = new Set();
  for (const [input] of m[2].matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(input, 'name');
    if (!name) continue;
    names.add(name);
    if (attr(input, 'type') === 'hidden') hidden.push([name, attr(input, 'value') ?? '']);
  }
  return { action: unescapeHtml(action), hidden, names };
}

function attr(tag, name) {
  const m = new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(tag);
  return m ? unescapeHtml(m[1]) : undefined;
}

function unescapeHtml(s) {
  return s.replace(/&(amp|lt|gt|quot|#39|#x27|#x2F);/g, (_, e) => ({
    amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", '#x2F': '/',
  })[e]);
}

// Minimal cookie jar for one host: honours Path and deletion (Max-Age<=0 or
// an Expires in the past); ignores Domain/Secure/SameSite.
class CookieJar {
  #cookies = new Map(); // `${path}\0${name}` -> { name, value, path }

  store(requestUrl, setCookies) {
    // RFC 6265 default Path: the request path's "directory".
    const reqPath = new URL(requestUrl).pathname;
    const defaultPath = reqPath.slice(0, reqPath.lastIndexOf('/')) || '/';
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = defaultPath;
      let expired = false;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=').map((x) => x.trim());
        const key = k.toLowerCase();
        if (key === 'path' && v.startsWith('/')) path = v;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const id = `${path}\0${name}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}
