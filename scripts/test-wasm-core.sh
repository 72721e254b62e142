#!/usr/bin/env bash
# fitbox-core compiled to wasm32 (+simd128) and run in headless Chromium: its pixel hashes must
# equal the native ones (core/tests/golden/pixel-sha256.txt). Needs wasm-bindgen-cli matching
# Cargo.lock and Debian's chromium + chromedriver (scripts/setup-test.sh installs them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$ROOT/scripts/webdriver.json"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
exec cargo test -p fitbox-core --target wasm32-unknown-unknown --test wasm "$@"
