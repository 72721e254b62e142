#!/usr/bin/env bash
# Tests of the web app.
#
#   scripts/test-web.sh        the app's own logic (card state machine, upload queue, URLs,
#                              formatting, worker messages): wasm-bindgen-test in headless Debian
#                              Chromium via chromedriver
#   scripts/test-web.sh e2e    build dist/ (scripts/build-web.sh), then the browser end-to-end
#                              tests (tests/e2e, playwright-core) against a real `fitbox serve`
#                              started from $FITBOX_BIN (default target/debug/fitbox: build it first)
#
# Needs scripts/setup-web.sh (wasm-bindgen-test-runner = the wasm-bindgen in Cargo.lock,
# wasm-opt 132, playwright-core, chromium + chromedriver).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

if [ "${1:-}" = "e2e" ]; then
  shift
  "$ROOT/scripts/build-web.sh"
  cd tests/e2e
  exec node --test --test-concurrency=1 "$@" e2e.test.mjs signin.test.mjs
fi

# Chromium runs as root here: it needs --no-sandbox; the rest keeps it quiet and offline.
WEBDRIVER_JSON="$(mktemp -d)/webdriver.json"
cat > "$WEBDRIVER_JSON" <<'JSON'
{
  "goog:chromeOptions": {
    "binary": "/usr/bin/chromium",
    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run"]
  }
}
JSON

export WASM_BINDGEN_USE_BROWSER=1
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$WEBDRIVER_JSON"
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT=120
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
exec cargo test -p fitbox-web --target wasm32-unknown-unknown --lib "$@"
