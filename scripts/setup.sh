#!/usr/bin/env bash
# Install what building and running fitbox need (`make run`), idempotently: seconds when all is
# present. Safe on a brand-new Debian 12 machine with rustup, cargo, Node/npm and Python 3.
#
#   rust target   wasm32-unknown-unknown (the web app and its preview worker)
#   web tools     trunk, wasm-bindgen-cli (= Cargo.lock), binaryen 132 (scripts/setup-web.sh)
#
# What only the tests need (Chromium, qemu, the aarch64 target, cargo-lambda, cargo-fuzz, the
# deploy checks' Python tools, the browser tests' npm packages) is scripts/setup-test.sh's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup-web.sh"
echo "setup: ready"
