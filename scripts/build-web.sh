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
# The binaries and the profile as index.html names them for Trunk, so the two never drift apart.
mapfile -t bins < <(grep -o 'data-bin="[^"]*"' index.html | cut -d'"' -f2)
mapfile -t profiles < <(grep -o 'data-cargo-profile-release="[^"]*"' index.html | cut -d'"' -f2 |
  sort -u)
if [ "${#bins[@]}" = 0 ] || [ "${#profiles[@]}" != 1 ]; then
  echo "build-web: expected data-bin and one data-cargo-profile-release in index.html" >&2
  exit 1
fi
cargo build --target wasm32-unknown-unknown --manifest-path web/Cargo.toml \
  --profile "${profiles[0]}" "${bins[@]/#/--bin=}"
trunk build --release
