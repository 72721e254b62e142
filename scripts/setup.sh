#!/usr/bin/env bash
# Install everything the build and the tests need, idempotently (seconds when all is present).
# Safe on a brand-new Debian 12 machine with rustup, cargo, Node/npm and Python 3 (CI runs it).
#
#   rust targets  wasm32-unknown-unknown (browser), aarch64-unknown-linux-gnu (Lambda on Graviton)
#   Debian        chromium + chromium-driver (browser tests), qemu-user + libc6-arm64-cross
#                 (aarch64 pixel check), curl + jq (the README curl test), python3-venv
#   web tools     trunk, wasm-bindgen-cli (= Cargo.lock), binaryen 132, playwright-core
#                 (scripts/setup-web.sh)
#   PyPI          cargo-lambda (the Lambda emulator test)
# Deploy checks install their own Python tools (scripts/check-deploy.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf 'setup: %s\n' "$*"; }

for t in wasm32-unknown-unknown aarch64-unknown-linux-gnu; do
  if ! rustup target list --installed 2>/dev/null | grep -qx "$t"; then
    say "adding rust target $t"
    rustup target add "$t"
  fi
done

need=()
for p in chromium chromium-driver qemu-user libc6-arm64-cross curl jq python3-venv; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  for attempt in 1 2 3 4 5 6; do
    if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null; then
      break
    fi
    [ "$attempt" = 6 ] && { say "apt-get failed"; exit 1; }
    say "apt-get failed (dpkg lock busy?); retrying in 10 s"
    sleep 10
  done
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

"$ROOT/scripts/setup-web.sh"
say "ready"
