#!/usr/bin/env bash
# Run make targets one after another, timing each, and end with one line per step:
#
#   scripts/steps.sh setup lint test-native ...     (what `make test` runs)
#
# Stops at the first step that fails (as make would) and still prints the summary of the steps
# that ran, so a slow or failing step shows at a glance. Each step prints its start time first.
#
# Background builds: a step written `bg:name` starts `make name` in the background at the lowest
# CPU priority (nice 19), its output in target/steps/name.log, and the next steps go on at once.
# It only takes the cores the foreground steps leave idle (tests waiting on servers, browsers and
# sleeps, single-threaded link tails), so the foreground is not slowed. The step `wait` waits for
# every background build, shows the log of any that failed and stops there. Background builds
# must not share a cargo build directory with the foreground (cargo locks it per profile and
# target: an arm64 release build and the debug test build do not meet), and the foreground steps
# that use their output come after `wait`. On exit, early or not, background builds are stopped.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

names=()
secs=()
results=()
started=$(date +%s)
bg_names=()
bg_pids=()
bg_t0=()
LOGS=target/steps

summary() {
  local total=$(($(date +%s) - started)) i
  echo "== $(date +%T) summary of make test ($((total / 60)) min $((total % 60)) s in all):"
  for i in "${!names[@]}"; do
    printf '==   %-14s %5s s  %s\n' "${names[$i]}" "${secs[$i]}" "${results[$i]}"
  done
}

stop_background() {
  local pid
  for pid in "${bg_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -- "-$pid" 2>/dev/null
  done
  return 0
}
trap stop_background EXIT
trap 'exit 130' INT TERM

record() { # record NAME SECONDS RESULT
  names+=("$1")
  secs+=("$2")
  results+=("$3")
}

fail() { # fail RC: print the summary and stop
  summary
  exit "$1"
}

wait_background() {
  local i rc failed=0
  for i in "${!bg_pids[@]}"; do
    [ -n "${bg_pids[$i]}" ] || continue
    wait "${bg_pids[$i]}"
    rc=$?
    local end
    end=$(cat "$LOGS/${bg_names[$i]}.end" 2>/dev/null || date +%s)
    local took=$((end - bg_t0[i]))
    if [ "$rc" = 0 ]; then
      echo "== $(date +%T) background ${bg_names[$i]} took $took s (log $LOGS/${bg_names[$i]}.log)"
      record "bg:${bg_names[$i]}" "$took" "ok (in the background)"
    else
      echo "== background ${bg_names[$i]} FAILED (exit $rc); the end of $LOGS/${bg_names[$i]}.log:"
      tail -60 "$LOGS/${bg_names[$i]}.log"
      record "bg:${bg_names[$i]}" "$took" "FAILED (exit $rc, in the background)"
      failed=$rc
    fi
    bg_pids[i]=""
  done
  return "$failed"
}

for step in "$@"; do
  t0=$(date +%s)
  case "$step" in
    bg:*)
      name=${step#bg:}
      mkdir -p "$LOGS"
      echo "== $(date +%T) $name, in the background (log $LOGS/$name.log)"
      # setsid: its own process group, so stop_background ends the whole build. A new session is
      # also a new scheduler autogroup on Linux, and nice only orders processes within one: the
      # group's own nice value (/proc/PID/autogroup) must be lowered too, or the background
      # build would get half the CPU.
      # The job notes when it ends ($LOGS/NAME.end): it may end long before `wait` looks.
      rm -f "$LOGS/$name.end"
      setsid -w bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null
        nice -n 19 make --no-print-directory "$1"; rc=$?; date +%s >"$2"; exit $rc' \
        bg "$name" "$LOGS/$name.end" >"$LOGS/$name.log" 2>&1 &
      bg_names+=("$name")
      bg_pids+=("$!")
      bg_t0+=("$t0")
      continue
      ;;
    wait)
      echo "== $(date +%T) waiting for the background builds"
      wait_background
      rc=$?
      record wait $(($(date +%s) - t0)) "$([ "$rc" = 0 ] && echo ok || echo FAILED)"
      [ "$rc" = 0 ] || fail "$rc"
      continue
      ;;
  esac
  echo "== $(date +%T) $step"
  make --no-print-directory "$step"
  rc=$?
  if [ "$rc" != 0 ]; then
    record "$step" $(($(date +%s) - t0)) "FAILED (exit $rc)"
    fail "$rc"
  fi
  record "$step" $(($(date +%s) - t0)) ok
done
wait_background || fail $?
summary
