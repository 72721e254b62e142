#!/usr/bin/env bash
# Run make targets one after another, timing each, and end with one line per step:
#
#   scripts/steps.sh setup lint test-native ...     (what `make test` runs)
#
# Stops at the first step that fails (as make would) and still prints the summary of the steps
# that ran, so a slow or failing step shows at a glance. Each step prints its start time first.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

names=()
secs=()
results=()
started=$(date +%s)

summary() {
  local total=$(($(date +%s) - started)) i
  echo "== $(date +%T) summary of make test ($((total / 60)) min $((total % 60)) s in all):"
  for i in "${!names[@]}"; do
    printf '==   %-14s %5d s  %s\n' "${names[$i]}" "${secs[$i]}" "${results[$i]}"
  done
}

for step in "$@"; do
  t0=$(date +%s)
  echo "== $(date +%T) $step"
  make --no-print-directory "$step"
  rc=$?
  names+=("$step")
  secs+=($(($(date +%s) - t0)))
  if [ "$rc" != 0 ]; then
    results+=("FAILED (exit $rc)")
    summary
    exit "$rc"
  fi
  results+=(ok)
done
summary
