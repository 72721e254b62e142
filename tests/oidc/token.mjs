#!/usr/bin/env node
// Prints real tokens from a running provider.mjs as ONE JSON line:
//   {"access_token":...,"expires_in":...,"id_token":...,"refresh_token":...,"scope":...,"token_type":"Bearer"}
// by driving the authorization code + PKCE flow (see flow.mjs). Exit status 1
// with a message on stderr on any failure, 2 on bad usage.
//
//   node tests/oidc/token.mjs --issuer URL --login alice
//        [--client fitbox-web] [--redirect-uri http://127.0.0.1/callback]
//        [--scope "openid profile email"] [--prompt consent]
//
// --issuer is where the provider is reached (the ready line's `url`); --url is
// a synonym, clearer when provider.mjs was started with a foreign --issuer.

import { parseArgs } from 'node:util';
import { DEFAULTS, tokens } from './flow.mjs';

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      issuer: { type: 'string' },
      url: { type: 'string' },
      login: { type: 'string' },
      client: { type: 'string', default: DEFAULTS.client },
      'redirect-uri': { type: 'string', default: DEFAULTS.redirectUri },
      scope: { type: 'string', default: DEFAULTS.scope },
      prompt: { type: 'string' },
    },
  }));
} catch (err) {
  console.error(`token.mjs: ${err.message}`);
  process.exit(2);
}
const issuer = opts.url ?? opts.issuer;
if (!issuer || !opts.login) {
  console.error('usage: node tests/oidc/token.mjs --issuer URL --login NAME [--client ID] [--redirect-uri URI] [--scope SCOPES] [--prompt consent]');
  process.exit(2);
}

try {
  const result = await tokens({
    issuer,
    login: opts.login,
    client: opts.client,
    redirectUri: opts['redirect-uri'],
    scope: opts.scope,
    prompt: opts.prompt,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (err) {
  console.error(`token.mjs: ${err.message}`);
  process.exit(1);
}
