#!/usr/bin/env bash
# The one arm64 (Graviton) cross build that the checks share:
#
#   cargo lambda build --release --arm64 --no-default-features \
#     -p fitbox-resize -p fitbox-presign -p fitbox
#
# gives the two Lambda bootstraps (target/lambda/<function>/bootstrap, checked by
# scripts/check-deploy.sh) and `fitbox thumbnail` for aarch64 (target/lambda/fitbox/bootstrap:
# cargo lambda moves every binary it builds there; run under qemu by scripts/check-aarch64.sh).
# One cargo run builds the shared dependencies (fitbox-core and its decoders, tokio, ...) once
# instead of once per check. `--no-default-features` leaves `fitbox` with `thumbnail` only (its
# `server` feature); the Lambdas have no optional features. Each output is checked to be a
# 64-bit aarch64 ELF. A second run is a no-op for cargo (about a second).
#
# Uses cargo-lambda and its zig from .tools/deploy-venv (pinned in scripts/check-deploy.sh;
# installed here through `scripts/check-deploy.sh --tools-only` when missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.tools/deploy-venv"
[ -x "$VENV/bin/cargo-lambda" ] || "$ROOT/scripts/check-deploy.sh" --tools-only
export PATH="$VENV/bin:$HOME/.cargo/bin:$PATH" # cargo-lambda, and the zig it finds via `python3 -m ziglang`
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
  rustup target add aarch64-unknown-linux-gnu

OUT=(target/lambda/fitbox-resize/bootstrap target/lambda/fitbox-presign/bootstrap
  target/lambda/fitbox/bootstrap)
rm -f "${OUT[@]}" # never pass on a stale build
cargo lambda build --release --arm64 --no-default-features \
  -p fitbox-resize -p fitbox-presign -p fitbox
for bin in "${OUT[@]}"; do
  [ -f "$bin" ] || { echo "build-arm64: missing $bin" >&2; exit 1; }
  # ELF, 64-bit, e_machine 0xB7 = AArch64
  if [ "$(od -An -tx1 -j0 -N5 "$bin" | tr -d ' \n')" != "7f454c4602" ] ||
    [ "$(od -An -tx1 -j18 -N2 "$bin" | tr -d ' \n')" != "b700" ]; then
    echo "build-arm64: $bin is not a 64-bit aarch64 ELF" >&2
    exit 1
  fi
  echo "build-arm64: $bin: aarch64 ELF, $(du -h "$bin" | cut -f1)"
done
