#!/usr/bin/env bash
# Fuzz the presign API with schemathesis against openapi.yaml, bounded in count.
#
#   fuzz-api.sh [--url http://127.0.0.1:PORT] [--max-examples N] [--seed N]
#
# Fails on any 5xx and on any response that breaks the document (status, content type, schema,
# headers), on schema-violating requests that are not refused with a documented 4xx, and on
# schema-valid requests that are refused (except cursors; see schemathesis.toml).
# schemathesis is installed from PyPI into $CARGO_TARGET_DIR/schemathesis-venv (default
# target/) on first use; python3 is required. Without --url the `local` example (presign API
# over an in-process S3) is built and started on a free port, and stopped afterwards.
# The last line printed is `fuzz-api: N requests, 0 failures`.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
venv=$target/schemathesis-venv
url=""
max_examples=30
seed=1

while [ $# -gt 0 ]; do
    case $1 in
        --url) url=$2; shift 2 ;;
        --max-examples) max_examples=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        *) echo "fuzz-api.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if ! command -v python3 >/dev/null 2>&1; then
    echo "fuzz-api.sh: python3 is required (apt-get install python3 python3-venv)" >&2
    exit 2
fi

# Install (or repair) the pinned schemathesis once; a lock keeps parallel runs from racing.
mkdir -p "$target"
(
    flock 9
    if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
        echo "fuzz-api: installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
    fi
) 9>"$target/schemathesis-venv.lock"

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$url" ]; then
    (cd "$root" && cargo build --quiet -p fitbox-presign --example local)
    "$target/debug/examples/local" >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    for _ in $(seq 1 100); do
        url=$(sed -n 's/^api //p' "$work/server.out")
        [ -n "$url" ] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$url" ] || { echo "fuzz-api.sh: the local example printed no URL" >&2; exit 1; }
fi

status=0
"$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$here/openapi.yaml" \
    --url "$url" \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --workers 1 \
    --generation-database none \
    --request-timeout 10 \
    --no-color \
    --report har --report-har-path "$work/requests.har" || status=$?

requests=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["log"]["entries"]))' "$work/requests.har" 2>/dev/null || echo 0)
if [ "$status" -eq 0 ]; then
    echo "fuzz-api: $requests requests, 0 failures"
else
    echo "fuzz-api: $requests requests, schemathesis exited $status" >&2
fi
exit "$status"
