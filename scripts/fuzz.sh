#!/usr/bin/env bash
# Run every cargo-fuzz target for SECONDS each (default 60), with the limits of a 512 MB Lambda:
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   scripts/fuzz.sh --build      (only build every target: what `make test` starts in the background)
# Targets run as many at a time as there are cores (libFuzzer's own loop uses one each); set
# FUZZ_JOBS to change that.
# Corpora are seeded at run time from ../shared/testdata/edge (or $FITBOX_EDGE) plus the committed
# regression inputs, into fuzz/corpus/<target> (not committed). A crash, OOM or timeout leaves
# its input in fuzz/artifacts/<target>/ and makes this script fail; minimise it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin <target> <artifact>
# and commit it under core/tests/regressions/ with a test in core/tests/regressions.rs.
# Needs `cargo install cargo-fuzz --locked` (installed here when missing). No nightly toolchain: a
# brand-new machine has only the stable one and may not be able to fetch another, so cargo-fuzz's
# nightly-only flags (-Zsanitizer=address) are allowed on stable with RUSTC_BOOTSTRAP=1; the ASan
# runtime ships with stable's x86_64 Linux std.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_ONLY=0
if [ "${1:-}" = --build ]; then BUILD_ONLY=1; shift; fi
SECONDS_EACH=${1:-60}
shift || true
JOBS=${FUZZ_JOBS:-$(nproc)}
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(guard decode thumbnail api_json)
EDGE=${FITBOX_EDGE:-$ROOT/../shared/testdata/edge}
export PATH="$HOME/.cargo/bin:$PATH"
# -rss_limit_mb measures the whole fuzzer process: the corpus held in memory and ASan's freed-memory
# quarantine (256 MB by default) count too. With the defaults the image targets reported false
# out-of-memory errors on inputs that need under 20 MB alone; a small quarantine and seeds of at
# most 256 KB keep the 512 MB limit about the input. -malloc_limit_mb bounds any single allocation.
export RUSTC_BOOTSTRAP=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
# libwebp's C (fitbox-libwebp) built as the Rust is: with AddressSanitizer and the coverage
# counters libFuzzer follows (Debian's clang; scripts/setup-web.sh installs it).
export CC_x86_64_unknown_linux_gnu=clang
export CFLAGS_x86_64_unknown_linux_gnu="-fsanitize=address,fuzzer-no-link"
# Leaks of jpeg-decoder's worker threads, which outlive a decode by a moment (fuzz/lsan.supp).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/fuzz/lsan.supp}
MAX_LEN=262144

# cargo-fuzz only drives cargo (scripts/setup-test.sh installs it; here for `make fuzz` alone).
command -v cargo-fuzz >/dev/null || "$ROOT/scripts/install-tool.sh" cargo-fuzz --locked

seed() {
  local target=$1 dir=$ROOT/fuzz/corpus/$1
  mkdir -p "$dir"
  case $target in
    api_json)
      printf '%s' '{"filename":"cat.jpg","content_type":"image/jpeg","size":1234}' > "$dir/one.json"
      printf '%s' '[{"filename":"a.png","content_type":"image/png","size":1},{"filename":"b","content_type":"image/gif","size":0}]' > "$dir/array.json"
      printf '%s' '{"filename":"x","content_type":"image/webp","size":18446744073709551615,"extra":1}' > "$dir/unknown.json"
      printf '%s' 'aW1hZ2VzLzAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YS9-' > "$dir/cursor.txt"
      printf '%s' 'images/0123456789abcdef0123456789a/400x300.jpg' > "$dir/key.txt"
      printf '%s' '0123456789abcdef0123456789a' > "$dir/id.txt"
      printf '%s' 'C:\Users\me\日本 語%41%zz.jpg' > "$dir/name.txt"
      ;;
    thumbnail)
      # Three option bytes (box width, box height, enlarge|quality) in front of the image.
      if [ -d "$EDGE" ]; then
        for f in "$EDGE"/*; do
          [ "$(stat -c %s "$f")" -le $MAX_LEN ] || continue
          { printf '\x1f\x1f\x55'; cat "$f"; } > "$dir/$(basename "$f")"
        done
      fi
      ;;
    *)
      if [ -d "$EDGE" ]; then
        for f in "$EDGE"/*; do
          [ "$(stat -c %s "$f")" -le $MAX_LEN ] && cp -f "$f" "$dir/"
        done
      fi
      ;;
  esac
  if [ "$target" != api_json ] && [ -d "$ROOT/core/tests/regressions" ]; then
    for f in "$ROOT"/core/tests/regressions/*; do
      [ -f "$f" ] || continue
      if [ "$target" = thumbnail ]; then
        { printf '\x1f\x1f\x55'; cat "$f"; } > "$dir/reg-$(basename "$f")"
      else
        cp -f "$f" "$dir/reg-$(basename "$f")"
      fi
    done
  fi
}

cd "$ROOT/fuzz"
# One cargo run builds every target (as `cargo fuzz run` builds them: ASan, release + debug
# assertions), so the runs below only start the binaries.
cargo fuzz build
[ "$BUILD_ONLY" = 1 ] && exit 0

run() { # run TARGET: fuzz it for SECONDS_EACH; the exit code is libFuzzer's
  local t=$1
  cargo fuzz run "$t" "corpus/$t" -- \
    -rss_limit_mb=512 -malloc_limit_mb=512 -timeout=10 -max_len=$MAX_LEN \
    -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"$ROOT/fuzz/target/fuzz-$t.log" 2>&1
}

mkdir -p "$ROOT/fuzz/target"
pids=()
for t in "${TARGETS[@]}"; do
  seed "$t"
  mkdir -p "$ROOT/fuzz/artifacts/$t"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  echo "== fuzz $t for ${SECONDS_EACH}s"
  run "$t" &
  pids+=("$!")
done

status=0
for i in "${!TARGETS[@]}"; do
  t=${TARGETS[$i]}
  rc=0
  wait "${pids[$i]}" || rc=$?
  log=$ROOT/fuzz/target/fuzz-$t.log
  echo "== fuzz $t:"
  grep -E '^#[0-9]+: *(INITED|DONE)|stat::number_of_executed_units|SUMMARY|Test unit written' "$log" || true
  if [ "$rc" != 0 ]; then
    tail -40 "$log"
    echo "!! fuzz $t FAILED (exit $rc; log $log, input in fuzz/artifacts/$t/)"
    status=1
  fi
done
exit $status
