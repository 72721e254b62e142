#!/usr/bin/env bash
# `cargo install` for a tool that only drives other programs (Trunk, wasm-bindgen-cli,
# cargo-fuzz): built unoptimised, without debug info or LTO, whatever its own release profile
# asks for. On 2 cores that is minutes less per tool (Trunk 2m40s instead of 5m50s at opt-level 1
# or 10.7 min as published; wasm-bindgen-cli 54 s instead of 3m32s; cargo-fuzz 19 s), at no cost
# where it matters (`trunk build --release` the same 23 s; numbers in scripts/setup-web.sh).
#
#   scripts/install-tool.sh CRATE [cargo install flags...]
set -euo pipefail
export CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=false \
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
exec cargo install "$@"
