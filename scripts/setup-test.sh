#!/usr/bin/env bash
# Install what only `make test` needs, idempotently (seconds when present):
#
#   cargo-fuzz                  ~/.cargo/bin (crates.io; built without LTO, it only drives cargo)
#   cfn-lint, checkov, SAM      .tools/deploy-venv (PyPI, pinned in scripts/check-deploy.sh)
#   translator, cargo-lambda
#
# scripts/setup.sh installs what building and running need; `make test` runs both.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null; then
  echo "setup-test: installing cargo-fuzz"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-fuzz --locked
fi
"$ROOT/scripts/check-deploy.sh" --tools-only
echo "setup-test: ready"
