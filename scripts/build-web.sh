#!/usr/bin/env bash
# Build the web app into dist/ (what `make run` serves and the browser end-to-end tests load):
#
#   scripts/build-web.sh
#
# Trunk builds the page and the preview worker (index.html) with one cargo run each, one after
# the other, and each ends in a fat-LTO link on one core. Building both binaries first in one
# cargo run, exactly as Trunk asks for them (same package, target, profile and features), lets
# the two links run side by side; Trunk's own cargo runs then find them built and go on to
# wasm-bindgen and wasm-opt. About 10 s less on 2 cores, the same dist/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cargo build --target wasm32-unknown-unknown --manifest-path web/Cargo.toml \
  --profile wasm-release --bin fitbox-web --bin worker
trunk build --release
