#!/usr/bin/env node
// A real OpenID Provider (npm `oidc-provider`, certified) on 127.0.0.1 for
// fitbox's sign-in tests. Prints ONE JSON line on stdout when ready, then runs
// until SIGTERM/SIGINT or until stdin closes (so it dies with the test that
// spawned it). Everything else goes to stderr. See README.md for the options.
//
//   node tests/oidc/provider.mjs [--port N] [--issuer URL] [--redirect-uri URI]...
//                                [--ttl SECONDS] [--api-audience AUD] [--ignore-stdin]

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { importE2E } from './deps.mjs';

// oidc-provider prints its NOTICEs with console.info, i.e. to stdout; stdout is
// reserved for the ready line, so send every console method to stderr. This
// must happen before oidc-provider is loaded (below).
console.log = console.info = console.debug = console.warn = console.error;

const CLIENT_ID = 'fitbox-web';
// Always allowed, used by token.mjs (nothing listens there; only the code in
// the redirect's Location header is read).
const SCRIPT_REDIRECT_URI = 'http://127.0.0.1/callback';
// RFC 8707 resource indicator of the fitbox API. oidc-provider requires it to
// be an absolute URI, but the access token's `aud` can be any string, so the
// two are decoupled: `aud` = --api-audience (default "fitbox-api").
const API_RESOURCE = 'urn:fitbox:api';
// Scopes the API "understands": they end up in the access token's `scope`
// claim (like Cognito's access tokens: "openid profile email").
const API_SCOPES = 'openid profile email';

function fail(msg) {
  console.error(`provider.mjs: ${msg}`);
  process.exit(2);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      issuer: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true, default: [] },
      ttl: { type: 'string', default: '300' },
      'api-audience': { type: 'string', default: 'fitbox-api' },
      // For manual runs in the background (`... &` gives a script /dev/null as
      // stdin, which would end the provider at once).
      'ignore-stdin': { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  fail(err.message);
}

const port0 = Number(opts.port);
if (!Number.isInteger(port0) || port0 < 0 || port0 > 65535) fail(`--port must be 0..65535, got ${opts.port}`);
const ttl = Number(opts.ttl);
if (!Number.isSafeInteger(ttl) || ttl <= 0) fail(`--ttl must be a positive integer, got ${opts.ttl}`);
const apiAudience = opts['api-audience'];
for (const uri of opts['redirect-uri']) {
  if (!URL.canParse(uri)) fail(`--redirect-uri is not a URL: ${uri}`);
}
const redirectUris = [...new Set([SCRIPT_REDIRECT_URI, ...opts['redirect-uri']])];

// Accounts: any login exists; sub = login; admin* logins are in group "admin".
const groupsOf = (login) => (login.startsWith('admin') ? ['admin'] : []);
function findAccount(_ctx, sub) {
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        'cognito:groups': groupsOf(sub),
        email: `${sub}@example.test`,
        email_verified: true,
        name: sub,
        preferred_username: sub,
      };
    },
  };
}

// A fresh signing key per process (so two instances never share keys), as a
// private JWK with a random kid. RS256 is the default for ID and access tokens.
function signingJwk(alg, keyType, keyOptions) {
  const { privateKey } = generateKeyPairSync(keyType, keyOptions);
  const kid = `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`;
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}
const jwks = {
  keys: [
    signingJwk('RS256', 'rsa', { modulusLength: 2048 }),
    signingJwk('ES256', 'ec', { namedCurve: 'P-256' }),
  ],
};

// Bind first: the default issuer needs the ephemeral port.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port0, '127.0.0.1', resolve);
});
const { port } = server.address();
const url = `http://127.0.0.1:${port}`; // where this instance is reachable
const issuer = opts.issuer ?? url; // may differ: see --issuer in README.md

const { default: Provider, errors } = await importE2E('oidc-provider');

const provider = new Provider(issuer, {
  // No `adapter`: oidc-provider's in-memory adapter (state dies with the process).
  clients: [{
    client_id: CLIENT_ID,
    token_endpoint_auth_method: 'none', // public client (browser app)
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: redirectUris,
    scope: 'openid profile email offline_access',
  }],
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 accepts
  jwks,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  // Which claims each scope releases. `cognito:groups` rides on `openid`, so
  // every ID token has it.
  claims: {
    openid: ['sub', 'cognito:groups'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  // Always issue a refresh token to fitbox-web (like Cognito). Per OIDC,
  // oidc-provider drops the offline_access scope unless prompt=consent, so
  // leaving this to offline_access would force a consent page on the app.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Put the group claim into JWT access tokens too.
  async extraTokenClaims(_ctx, token) {
    if (token.kind === 'AccessToken' && token.accountId) {
      return { 'cognito:groups': groupsOf(token.accountId) };
    }
    return undefined;
  },
  features: {
    devInteractions: { enabled: true }, // the built-in "any login" form
    revocation: { enabled: true },
    // Resource indicators make access tokens JWTs for the API. The client never
    // has to send `resource`: every request defaults to the fitbox API.
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => API_RESOURCE,
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, indicator) {
        if (indicator !== API_RESOURCE && indicator !== apiAudience) throw new errors.InvalidTarget();
        return {
          scope: API_SCOPES,
          audience: apiAudience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: ttl,
        };
      },
    },
  },
  ttl: {
    AccessToken: ttl,
    IdToken: ttl,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    RefreshToken: 24 * 3600,
  },
  // First-party dev client: skip the consent page by granting whatever is
  // requested (like Cognito's hosted UI). token.mjs still copes with consent.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    const grant = (grantId && await oidc.provider.Grant.find(grantId))
      || new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.account.accountId });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    grant.addOIDCClaims([...oidc.requestParamClaims]);
    for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers)) {
      grant.addResourceScope(indicator, resourceServer.scope);
    }
    await grant.save();
    return grant;
  },
  // The browser app may call /token (and /userinfo, /revocation) from the
  // origins of its redirect URIs.
  clientBasedCORS(_ctx, origin, client) {
    return client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin);
  },
  // Errors: plain text is enough for tests.
  renderError(ctx, out) {
    ctx.type = 'text';
    ctx.body = `oidc-provider error: ${JSON.stringify(out)}`;
  },
});

provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));
server.on('request', provider.callback());

function shutdown(why) {
  console.error(`provider.mjs: exiting (${why})`);
  server.close();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (!opts['ignore-stdin']) {
  // The parent keeps our stdin piped; when it exits (even by a crash) the pipe
  // closes and so do we.
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

process.stdout.write(`${JSON.stringify({
  issuer,
  url,
  port,
  client_id: CLIENT_ID,
  jwks_uri: new URL(provider.pathFor('jwks'), url).href,
  token_endpoint: new URL(provider.pathFor('token'), url).href,
  api_audience: apiAudience,
  ttl,
  redirect_uris: redirectUris,
})}\n`);
