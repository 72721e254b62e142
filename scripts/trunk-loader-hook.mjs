// Trunk post_build hook (Trunk.toml): move the inline <script> elements Trunk writes into
// index.html (the module that loads the wasm app, and `trunk serve`'s auto-reload) into files of
// their own, loaded by `src` with an `integrity` hash like Trunk's other assets. The page then
// runs no inline script at all, so its Content-Security-Policy (fitbox serve and the CloudFront
// response headers in template.yaml) allows scripts from the page's own origin only, without
// 'unsafe-inline' or a per-build hash.
//
// Trunk runs it with TRUNK_STAGING_DIR (the build before it becomes dist/) and TRUNK_PUBLIC_URL.
// Fails the build when the page would be left with an inline script.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) {
  console.error('trunk-loader-hook: TRUNK_STAGING_DIR is not set (run by Trunk as a post_build hook)');
  process.exit(1);
}
const publicUrl = (process.env.TRUNK_PUBLIC_URL || '/').replace(/\/?$/, '/');
const page = join(staging, 'index.html');
const html = readFileSync(page, 'utf8');

// An opening tag without `src`, its body, and the closing tag. Trunk's own output: attributes
// in double quotes, no `</script>` inside a script body.
const inline = /<script\b(?![^>]*\ssrc=)([^>]*)>([\s\S]*?)<\/script>/gi;
let moved = 0;
const out = html.replace(inline, (_whole, attrs, body) => {
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const name = `loader-${digest}.js`;
  writeFileSync(join(staging, name), body);
  const integrity = createHash('sha384').update(body).digest('base64');
  moved += 1;
  return `<script${attrs} src="${publicUrl}${name}" integrity="sha384-${integrity}"></script>`;
});
if (/<script\b(?![^>]*\ssrc=)[^>]*>/i.test(out)) {
  console.error('trunk-loader-hook: an inline <script> is left in index.html');
  process.exit(1);
}
writeFileSync(page, out);
console.log(`trunk-loader-hook: ${moved} inline script(s) moved to files`);
