#!/usr/bin/env bash
# fitbox vs vipsthumbnail vs ImageMagick vs Pillow on every photo in $FITBOX_TESTDATA/photos:
# whole-process median time (tools alternating), ratio to vipsthumbnail, peak RSS, output bytes,
# DSSIM against an ImageMagick linear-light reference; then warm in-process time per image
# (fitbox-core `warm` example vs pyvips). Prints a markdown table and writes bench/RESULTS.md.
#
#   scripts/bench.sh            (or: make bench)
#   BENCH_ROUNDS=9 scripts/bench.sh
#   FITBOX_BIN=path/to/fitbox FITBOX_WARM_BIN=path/to/warm scripts/bench.sh   (skip the builds)
#   BENCH_BROWSER=0 scripts/bench.sh   (skip the browser part)
#
# The browser part builds the web app (trunk build --release) and runs the e2e timing test in
# benchmark mode against the release `fitbox serve`: for every photo, drop-to-preview with
# fitbox-core (wasm) in the page's Web Worker vs Chromium's own createImageBitmap resize + draw.
#
# Needs: vipsthumbnail (libvips-tools), /usr/bin/convert (ImageMagick), python3; installs on first
# use Pillow + pyvips into .tools/bench-venv and the dssim CLI (cargo install dssim --locked).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTDATA="${FITBOX_TESTDATA:-$ROOT/../shared/testdata}"
ROUNDS="${BENCH_ROUNDS:-5}"
WARM_RUNS="${BENCH_WARM_RUNS:-7}"
cd "$ROOT"

need() { command -v "$1" >/dev/null || { echo "bench: $1 is missing ($2)" >&2; exit 1; }; }
need vipsthumbnail "apt-get install libvips-tools"
[ -x /usr/bin/convert ] || { echo "bench: /usr/bin/convert is missing (apt-get install imagemagick)" >&2; exit 1; }
need python3 "apt-get install python3 python3-venv"

VENV="$ROOT/.tools/bench-venv"
if ! "$VENV/bin/python" -c 'import PIL, pyvips' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q Pillow pyvips
fi
DSSIM="$(command -v dssim || echo "$HOME/.cargo/bin/dssim")"
if [ ! -x "$DSSIM" ]; then
  # cargo install builds in its own temporary target dir.
  cargo install dssim --locked
  DSSIM="$HOME/.cargo/bin/dssim"
fi

# FITBOX_BIN / FITBOX_WARM_BIN: use already-built binaries (e.g. while the target dir is busy).
FITBOX_BIN="${FITBOX_BIN:-}"
FITBOX_WARM_BIN="${FITBOX_WARM_BIN:-}"
if [ -z "$FITBOX_BIN" ]; then
  cargo build --release -p fitbox
  FITBOX_BIN="$ROOT/target/release/fitbox"
fi
if [ -z "$FITBOX_WARM_BIN" ]; then
  cargo build --release -p fitbox --example warm
  FITBOX_WARM_BIN="$ROOT/target/release/examples/warm"
fi

BROWSER_JSON=""
if [ "${BENCH_BROWSER:-1}" != 0 ]; then
  scripts/setup-web.sh
  BROWSER_JSON="$ROOT/bench/browser.json"
  rm -f "$BROWSER_JSON"
  FITBOX_BIN="$FITBOX_BIN" FITBOX_TESTDATA="$TESTDATA" FITBOX_E2E_TIMING_OUT="$BROWSER_JSON" \
    scripts/test-web.sh e2e --test-name-pattern=createImageBitmap
  [ -s "$BROWSER_JSON" ] || { echo "bench: the browser timing wrote nothing to $BROWSER_JSON" >&2; exit 1; }
fi

shopt -s nullglob
PHOTOS=("$TESTDATA"/photos/*)
[ ${#PHOTOS[@]} -gt 0 ] || { echo "bench: no photos in $TESTDATA/photos" >&2; exit 1; }

exec "$VENV/bin/python" "$ROOT/bench/bench.py" \
  --fitbox "$FITBOX_BIN" \
  --warm "$FITBOX_WARM_BIN" \
  --dssim "$DSSIM" \
  --dssim-version "$(cargo install --list 2>/dev/null | grep -m1 '^dssim ' | tr -d ':' || echo dssim)" \
  --python "$VENV/bin/python" \
  --rounds "$ROUNDS" --warm-runs "$WARM_RUNS" \
  --results "$ROOT/bench/RESULTS.md" \
  ${BROWSER_JSON:+--browser-json "$BROWSER_JSON"} \
  "${PHOTOS[@]}"
