#!/usr/bin/env bash
# Install the tools that build the web app (web/, index.html, Trunk.toml).
# Idempotent and quick when everything is present; safe on a brand-new machine (CI).
#
#   trunk 0.21.14                 ~/.cargo/bin   (cargo install --locked)
#   wasm-bindgen-cli = Cargo.lock ~/.cargo/bin   (wasm-bindgen, wasm-bindgen-test-runner)
#   binaryen 132 (wasm-opt)       .tools/node_modules/.bin (npm; Debian's wasm-opt 108 must not be used)
#   clang, llvm, wasi-libc        Debian: libwebp's C compiled for wasm32 (fitbox-libwebp; the
#                                 settings are in .cargo/config.toml's [env])
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

# C for wasm32: clang (Debian's 14 targets wasm32), llvm-ar (llvm), and wasi-libc's headers.
"$ROOT/scripts/install-debian.sh" clang llvm wasi-libc

# wasm-bindgen's CLI must match the library version in Cargo.lock exactly.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$WB_VERSION" ] || { say "no wasm-bindgen in Cargo.lock"; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# Trunk and wasm-bindgen-cli come from crates.io and are compiled here, the biggest part of a first
# `make run`: unoptimised (scripts/install-tool.sh; neither is a hot path) and both at once, so
# their single-threaded stretches overlap. Measured on 2 cores, alone: Trunk 2m40s (5m50s at
# opt-level 1), wasm-bindgen-cli 54 s (3m32s optimised). The price: wasm-bindgen takes 0.6 s
# instead of 0.15 s on the page's wasm and 3 s instead of 0.5 s on a debug test binary;
# `trunk build --release` takes the same 23 s warm. Default features dropped: Trunk's update
# check and TLS (it runs offline here), and wasm-bindgen-cli's TLS for ureq (its test runner
# only talks to chromedriver on loopback).
names=()
pids=()
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT # an install left running if the script fails
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION"
  "$ROOT/scripts/install-tool.sh" trunk --version "$TRUNK_VERSION" --locked --no-default-features &
  names+=(trunk)
  pids+=($!)
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ] \
  || ! command -v wasm-bindgen-test-runner >/dev/null; then
  say "installing wasm-bindgen-cli $WB_VERSION"
  # Not --locked: its published lock file asks for a webpki-roots version the registry here lacks.
  "$ROOT/scripts/install-tool.sh" wasm-bindgen-cli --version "$WB_VERSION" \
    --no-default-features --force &
  names+=(wasm-bindgen-cli)
  pids+=($!)
fi
if [ "$("$ROOT/.tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" != "$BINARYEN_VERSION" ]; then
  say "installing binaryen $BINARYEN_VERSION (wasm-opt) into .tools/"
  mkdir -p .tools
  [ -f .tools/package.json ] || echo '{"private": true}' > .tools/package.json
  npm install --prefix .tools --no-audit --no-fund --save-exact "binaryen@$BINARYEN_VERSION" >/dev/null
fi

# binaryen (above) came from npm while Trunk and wasm-bindgen-cli were compiling.
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { say "installing ${names[$i]} failed"; failed=1; }
done
[ "$failed" = 0 ] || exit 1

say "ok: $(trunk --version), wasm-bindgen $WB_VERSION, wasm-opt $("$ROOT/.tools/node_modules/.bin/wasm-opt" --version | awk '{print $3}')"
