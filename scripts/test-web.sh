#!/usr/bin/env bash
# The web app's own logic (card state machine, upload queue, URLs, formatting, worker messages)
# as wasm-bindgen-test tests in headless Debian Chromium, driven by chromedriver.
# Needs scripts/setup-web.sh (wasm-bindgen-test-runner = the wasm-bindgen in Cargo.lock).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

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
