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
# Each Rust link's manifest and binary, as `href="DIR/Cargo.toml" data-bin="BIN"`.
mapfile -t links < <(grep -o 'href="[^"]*Cargo.toml" data-bin="[^"]*"' index.html)
mapfile -t profiles < <(grep -o 'data-cargo-profile-release="[^"]*"' index.html | cut -d'"' -f2 |
  sort -u)
if [ "${#links[@]}" = 0 ] || [ "${#profiles[@]}" != 1 ]; then
  echo "build-web: expected Rust links and one data-cargo-profile-release in index.html" >&2
  exit 1
fi
args=()
for link in "${links[@]}"; do
  manifest="$(cut -d'"' -f2 <<<"$link")"
  package="$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -1)"
  args+=(-p "$package" --bin "$(cut -d'"' -f4 <<<"$link")")
done
cargo build --target wasm32-unknown-unknown --profile "${profiles[0]}" "${args[@]}"
trunk build --release
