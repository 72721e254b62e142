// Loads npm packages from tests/e2e/node_modules, where the project's Node test
// dependencies live (see tests/e2e/package.json). tests/oidc has no
// node_modules of its own, so a bare `import 'jose'` here would not resolve.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const e2eRequire = createRequire(new URL('../e2e/package.json', import.meta.url));

/** `await importE2E('oidc-provider')` = `import('oidc-provider')` as seen from tests/e2e. */
export async function importE2E(name) {
  let path;
  try {
    path = e2eRequire.resolve(name);
  } catch (err) {
    throw new Error(`cannot find npm package "${name}" under tests/e2e/node_modules; `
      + 'run `npm ci --prefix tests/e2e` first', { cause: err });
  }
  return import(pathToFileURL(path).href);
}
