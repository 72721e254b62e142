#!/usr/bin/env bash
# The Lambda runs on Graviton (aarch64): `fitbox thumbnail` for aarch64 from the one arm64 cross
# build (scripts/build-arm64.sh, which also builds the Lambdas), run under qemu-aarch64 on every
# corpus file of the golden list, must give the same pixel SHA-256 as x86_64 and wasm32
# (core/tests/golden/pixel-sha256.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA="${FITBOX_TESTDATA:-$ROOT/../shared/testdata}"
[ -f "$DATA/MANIFEST.md" ] || { echo "check-aarch64: test data not found at $DATA" >&2; exit 1; }
"$ROOT/scripts/build-arm64.sh"
BIN="$ROOT/target/lambda/fitbox/bootstrap" # `fitbox`, as cargo lambda leaves it
[ "$(od -An -tx1 -j18 -N1 "$BIN" | tr -d " ")" = b7 ] || { echo "check-aarch64: $BIN is not an aarch64 binary" >&2; exit 1; }
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
pass=0; fail=0
while read -r want rel; do
  got="$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$BIN" thumbnail "$DATA/$rel" -o "$out/t" --json \
        | sed -n 's/.*"pixel_sha256":"\([0-9a-f]*\)".*/\1/p')"
  if [ "$got" = "$want" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "MISMATCH $rel: aarch64 $got, golden $want"; fi
done < core/tests/golden/pixel-sha256.txt
echo "aarch64: $pass passed, $fail failed"
[ "$fail" = 0 ]
