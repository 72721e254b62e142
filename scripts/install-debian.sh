#!/usr/bin/env bash
# Install the Debian packages named that are missing, idempotently (nothing is run when all are
# present): `scripts/install-debian.sh PACKAGE...`. Uses sudo unless root; retries apt-get while
# another dpkg holds the lock. Called by scripts/setup-web.sh and scripts/setup-test.sh.
set -euo pipefail
say() { printf 'install-debian: %s\n' "$*"; }
need=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
[ ${#need[@]} -gt 0 ] || exit 0
say "installing Debian packages: ${need[*]}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
for attempt in 1 2 3 4 5 6; do
  if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null; then
    exit 0
  fi
  [ "$attempt" = 6 ] && { say "apt-get failed"; exit 1; }
  say "apt-get failed (dpkg lock busy?); retrying in 10 s"
  sleep 10
done
