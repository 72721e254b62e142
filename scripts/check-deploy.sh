#!/usr/bin/env bash
# Check the AWS deployment without an AWS account (issue 7):
#
#   1. tools     a Python venv in .tools/deploy-venv with pinned cfn-lint, checkov,
#                aws-sam-translator and cargo-lambda (+ its zig); reinstalled only when a pin changes
#   2. cfn-lint  template.yaml as written (SAM schemas), no errors or warnings
#   3. sam       template.yaml through the real SAM transform, then cfn-lint on the result
#   4. checkov   template.yaml; fails on any failed check not in deploy/checkov-skips.txt,
#                on a skip without a reason, and on a skip that no longer fails
#   5. lambda    cargo lambda build --release --arm64 for fitbox-resize and fitbox-presign, and
#                check each bootstrap is an aarch64 ELF executable (scripts/build-arm64.sh: the
#                one arm64 build, which also gives check-aarch64 its `fitbox`)
#
# Usage: scripts/check-deploy.sh [--no-build | --tools-only]
#   --no-build: steps 1-4 only, seconds when warm; --tools-only: step 1 only
# Never calls AWS: the SAM transform runs offline with a placeholder region and code location.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.tools/deploy-venv"
PINS="cfn-lint==1.58.0 checkov==3.3.30 aws-sam-translator==1.115.0 cargo-lambda==1.9.2"
TEMPLATE=template.yaml
SKIPS=deploy/checkov-skips.txt

BUILD=1
TOOLS_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --tools-only) TOOLS_ONLY=1 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "check-deploy: unknown argument $arg" >&2; exit 2 ;;
  esac
done

say() { printf 'check-deploy: %s\n' "$*"; }
TIMINGS=()
CURRENT=""
on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "$CURRENT" ]; then
    printf 'check-deploy: FAILED in step %s (exit %s)\n' "$CURRENT" "$rc" >&2
  fi
}
trap on_exit EXIT
now() { date +%s.%N; }
step() { # step NAME FUNCTION: run under set -e (a failure anywhere ends the script), timed
  local name="$1" start
  shift
  CURRENT="$name"
  say "== $name"
  start=$(now)
  "$@"
  TIMINGS+=("$(awk -v a="$start" -v b="$(now)" -v n="$name" 'BEGIN { printf "%-9s %6.1f s", n, b - a }')")
  CURRENT=""
}

tools() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
  fi
  if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ]; then
    say "installing $PINS"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $PINS
    "$VENV/bin/pip" check
    echo "$PINS" >"$VENV/.pins"
  fi
  "$VENV/bin/python" -c 'import importlib.metadata as m, sys; print("check-deploy:", ", ".join(p + " " + m.version(p) for p in sys.argv[1:]))' \
    cfn-lint checkov aws-sam-translator cargo-lambda ziglang
}

cfn_lint() {
  "$VENV/bin/cfn-lint" -- "$TEMPLATE"
}

sam_transform() {
  local out="$ROOT/target/check-deploy"
  mkdir -p "$out"
  AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    "$VENV/bin/python" - "$TEMPLATE" "$out/template.transformed.json" <<'PY'
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

src, dst = sys.argv[1], sys.argv[2]
with open(src) as f:
    tpl = yaml_parse(f.read())
# `sam build` / `sam package` replace the local CodeUri by an S3 location; use a placeholder.
tpl.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
for res in tpl["Resources"].values():
    if res.get("Type") == "AWS::Serverless::Function":
        res.setdefault("Properties", {})["CodeUri"] = "s3://placeholder-bucket/code.zip"


class ManagedPolicies:  # offline: the only managed policy SAM attaches here
    def load(self):
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        }


out = transform(tpl, {}, ManagedPolicies())
with open(dst, "w") as f:
    json.dump(out, f, indent=1)
print(f"{len(out['Resources'])} CloudFormation resources after the SAM transform")
PY
  "$VENV/bin/cfn-lint" -- "$out/template.transformed.json"
}

checkov_run() {
  local out="$ROOT/target/check-deploy"
  mkdir -p "$out"
  # --skip-download: no platform calls; --soft-fail: the verdict is ours, made below.
  "$VENV/bin/checkov" --skip-download --soft-fail \
    --framework cloudformation -f "$TEMPLATE" -o json >"$out/checkov.json"
  "$VENV/bin/python" - "$out/checkov.json" "$SKIPS" <<'PY'
import json
import sys

report_path, skips_path = sys.argv[1], sys.argv[2]
with open(report_path) as f:
    report = json.load(f)
if isinstance(report, list):  # one entry per framework
    report = next(r for r in report if r.get("check_type") == "cloudformation")
results = report["results"]
failed = {(c["check_id"], c["resource"]): c["check_name"] for c in results["failed_checks"]}
passed = len(results["passed_checks"])

skips, bad = {}, []
with open(skips_path) as f:
    for n, line in enumerate(f, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[2].strip():
            bad.append(f"{skips_path}:{n}: needs CHECK_ID RESOURCE reason")
            continue
        skips[(parts[0], parts[1])] = parts[2]

unexpected = sorted(set(failed) - set(skips))
stale = sorted(set(skips) - set(failed))
for check_id, resource in unexpected:
    bad.append(f"{check_id} {resource}: {failed[(check_id, resource)]} (not in {skips_path})")
for check_id, resource in stale:
    bad.append(f"{check_id} {resource}: listed in {skips_path} but passes now; remove the line")
print(f"checkov: {passed} passed, {len(failed)} failed, {len(failed) - len(unexpected)} of them accepted in {skips_path}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
PY
}

lambda_build() {
  "$ROOT/scripts/build-arm64.sh"
}

step tools tools
if [ "$TOOLS_ONLY" = 1 ]; then
  printf '  %s\n' "${TIMINGS[@]}"
  exit 0
fi
step cfn-lint cfn_lint
step sam sam_transform
step checkov checkov_run
if [ "$BUILD" = 1 ]; then
  step lambda lambda_build
else
  say "skipping cargo lambda build (--no-build)"
fi

say "all checks passed"
printf '  %s\n' "${TIMINGS[@]}"
