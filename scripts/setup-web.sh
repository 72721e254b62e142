#!/usr/bin/env bash
# Install the tools that build the web app (web/, index.html, Trunk.toml).
# Idempotent and quick when everything is present; safe on a brand-new machine (CI).
#
#   trunk 0.21.14                 ~/.cargo/bin   (cargo install --locked)
#   wasm-bindgen-cli = Cargo.lock ~/.cargo/bin   (wasm-bindgen, wasm-bindgen-test-runner)
#   binaryen 132 (wasm-opt)       .tools/node_modules/.bin (npm; Debian's wasm-opt 108 must not be used)
#
# The browser tests' tools (Chromium, playwright-core, oidc-provider) are scripts/setup-test.sh's.
#
# Afterwards put the repo-local tools first on PATH (the other scripts do this themselves):
#   export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132
say() { printf 'setup-web: %s\n' "$*"; }

# wasm-bindgen's CLI must match the library version in Cargo.lock exactly.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$WB_VERSION" ] || { say "no wasm-bindgen in Cargo.lock"; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION"
  # Trunk's own release profile asks for fat LTO and one codegen unit (minutes on 2 cores) and its
  # default features add an update check and TLS that fitbox never uses (Trunk runs offline here,
  # with wasm-bindgen and wasm-opt installed beside it). Trunk is not a hot path: build it lightly.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install trunk --version "$TRUNK_VERSION" --locked --no-default-features
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ] \
  || ! command -v wasm-bindgen-test-runner >/dev/null; then
  say "installing wasm-bindgen-cli $WB_VERSION"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
fi

if [ "$("$ROOT/.tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" != "$BINARYEN_VERSION" ]; then
  say "installing binaryen $BINARYEN_VERSION (wasm-opt) into .tools/"
  mkdir -p .tools
  [ -f .tools/package.json ] || echo '{"private": true}' > .tools/package.json
  npm install --prefix .tools --no-audit --no-fund --save-exact "binaryen@$BINARYEN_VERSION" >/dev/null
fi

say "ok: $(trunk --version), wasm-bindgen $WB_VERSION, wasm-opt $("$ROOT/.tools/node_modules/.bin/wasm-opt" --version | awk '{print $3}')"
