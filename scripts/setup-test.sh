#!/usr/bin/env bash
# Install what only `make test` needs, idempotently (seconds when all is present). Safe on a
# brand-new Debian 12 machine with rustup, cargo, Node/npm and Python 3 (CI runs it, after
# scripts/setup.sh, which installs what building and running need).
#
#   rust target    aarch64-unknown-linux-gnu (the arm64 Lambda build, the aarch64 pixel check)
#   Debian         chromium + chromium-driver (browser tests; never a downloaded browser),
#                  qemu-user + libc6-arm64-cross (aarch64 pixel check), curl + jq (the README's
#                  curl test), python3-venv
#   npm            playwright-core, oidc-provider, @axe-core/playwright: tests/e2e/node_modules (npm ci, from the
#                  committed lock file; oidc-provider is the sign-in tests' OpenID provider)
#   PyPI           cargo-lambda (the Lambda emulator test)
#   crates.io      cargo-fuzz (~/.cargo/bin; built unoptimised, it only drives cargo)
#   deploy checks  cfn-lint, checkov, SAM translator, cargo-lambda: .tools/deploy-venv
#                  (pinned in scripts/check-deploy.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf 'setup-test: %s\n' "$*"; }

if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  say "adding rust target aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu
fi

"$ROOT/scripts/install-debian.sh" chromium chromium-driver qemu-user libc6-arm64-cross curl jq python3-venv

# Installed again whenever the lock file changed since the last install (a copy of it is kept
# in node_modules), so a pin moved in package.json reaches machines that have the old one.
if ! cmp -s tests/e2e/package-lock.json tests/e2e/node_modules/.fitbox-installed-lock.json; then
  say "installing playwright-core, oidc-provider and @axe-core/playwright (tests/e2e)"
  (cd tests/e2e && npm ci --no-audit --no-fund >/dev/null &&
    cp package-lock.json node_modules/.fitbox-installed-lock.json)
fi

# cargo-lambda (PyPI; the resize Lambda's `cargo lambda watch` test): same pin as check-deploy.sh.
if ! cargo lambda --version >/dev/null 2>&1; then
  say "installing cargo-lambda from PyPI"
  # Into the user's Python when it takes packages (pyenv, CI); a Debian system Python refuses
  # ("externally managed"), so then into .tools/lambda-venv, which the Makefile puts on PATH.
  if python3 -m pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2; then
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  else
    say "pip refused; installing cargo-lambda into .tools/lambda-venv"
    python3 -m venv "$ROOT/.tools/lambda-venv"
    "$ROOT/.tools/lambda-venv/bin/pip" install --quiet --disable-pip-version-check cargo-lambda==1.9.2
    export PATH="$ROOT/.tools/lambda-venv/bin:$PATH"
  fi
  cargo lambda --version >/dev/null
fi

if ! command -v cargo-fuzz >/dev/null; then
  say "installing cargo-fuzz"
  "$ROOT/scripts/install-tool.sh" cargo-fuzz --locked
fi
"$ROOT/scripts/check-deploy.sh" --tools-only
say "ready"
