#!/usr/bin/env bash
# Deploy fitbox to AWS in one command: build both Lambda functions (arm64, cargo-lambda), create or
# update the CloudFormation stack, then build the web app and publish it behind CloudFront.
#
#   deploy/deploy.sh                 first run: `sam deploy --guided` (asks, saves samconfig.toml);
#                                    later runs: plain `sam deploy` with the saved answers
#   deploy/deploy.sh --guided        ask again (e.g. to change a parameter)
#   deploy/deploy.sh --web-only      only rebuild and republish the web app
#   deploy/deploy.sh --dry-run       print the commands instead of running them (no AWS calls)
#
# Environment: STACK_NAME (default fitbox), AWS_REGION / AWS_PROFILE as for the AWS CLI.
# Needs: sam (AWS SAM CLI), aws (AWS CLI v2), cargo-lambda (and zig), trunk + wasm-bindgen
# (scripts/setup-web.sh installs the web tools; `pip install cargo-lambda` brings cargo-lambda
# with zig), and the aarch64-unknown-linux-gnu Rust target.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/deploy-venv/bin:$ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

STACK="${STACK_NAME:-fitbox}"
GUIDED=auto
STACK_STEP=1
DRY=0
for arg in "$@"; do
  case "$arg" in
    --guided) GUIDED=yes ;;
    --web-only) STACK_STEP=0 ;;
    --dry-run) DRY=1 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "deploy: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\ndeploy: %s\n' "$*"; }
run() { # echo, then run unless --dry-run
  printf '+ %s\n' "$*" >&2
  [ "$DRY" = 1 ] || "$@"
}
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$DRY" = 1 ] && { echo "(dry run: $1 not installed: $2)"; return 0; }
  echo "deploy: '$1' not found: $2" >&2
  exit 1
}

need aws "install the AWS CLI v2 and configure credentials (aws configure / AWS_PROFILE)"
if [ "$STACK_STEP" = 1 ]; then
  need sam "install the AWS SAM CLI (pip install aws-sam-cli, or AWS's installer)"
  need cargo-lambda "pip install cargo-lambda (brings zig too), or see cargo-lambda.info"
  if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    run rustup target add aarch64-unknown-linux-gnu
  fi
fi
need trunk "run scripts/setup-web.sh"

# One stack output, or a placeholder in a dry run.
output() {
  if [ "$DRY" = 1 ]; then
    echo "<$1>"
    return
  fi
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

stack_exists() {
  [ "$DRY" = 1 ] && return 1
  aws cloudformation describe-stacks --stack-name "$STACK" >/dev/null 2>&1
}

# ------------------------------------------------------------------------------------------------
# 1. Functions and stack
# ------------------------------------------------------------------------------------------------
if [ "$STACK_STEP" = 1 ]; then
  say "building fitbox-resize and fitbox-presign for arm64 (sam build -> cargo lambda build)"
  # rust-cargolambda is a SAM beta build method: --beta-features opts in without a prompt.
  run sam build --beta-features

  if [ "$GUIDED" = yes ] || { [ "$GUIDED" = auto ] && ! [ -f samconfig.toml ] && ! stack_exists; }; then
    say "first deployment of stack $STACK: sam deploy --guided (answers are saved to samconfig.toml)"
    # The origin secret (CloudFront -> API) is asked for as a hidden, unsaved parameter: offer a
    # fresh random one to paste, never a fixed value.
    say "OriginSecret: paste a new random value when asked, e.g. $(openssl rand -hex 32 2>/dev/null || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    run sam deploy --guided --stack-name "$STACK" --capabilities CAPABILITY_IAM
  else
    say "updating stack $STACK with the answers in samconfig.toml"
    resolve=()
    [ -f samconfig.toml ] || resolve=(--resolve-s3) # no saved answers here: let SAM pick its bucket
    run sam deploy --stack-name "$STACK" --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset "${resolve[@]}"
  fi
fi

# ------------------------------------------------------------------------------------------------
# 2. Web app
# ------------------------------------------------------------------------------------------------
SITE_BUCKET="$(output SiteBucketName)"
DISTRIBUTION="$(output DistributionId)"
SITE_URL="$(output SiteUrl)"
if [ -z "$SITE_BUCKET" ] || [ "$SITE_BUCKET" = None ]; then
  echo "deploy: stack $STACK has no SiteBucketName output; deploy the stack first" >&2
  exit 1
fi

say "building the web app (trunk build --release -> dist/)"
run trunk build --release

say "publishing dist/ to s3://$SITE_BUCKET"
# Files whose names carry Trunk's content hash (unpadded hex of a 64-bit seahash) never change:
# cache them for a year. Everything else (index.html, copied assets without a hash) is
# revalidated, so a deploy shows at once. New files go up before index.html, so a page never
# refers to an asset that is not there yet.
publish() { # publish FILE
  local file="$1" key="${1#dist/}" cache type=()
  if [[ "$(basename "$file")" =~ -[0-9a-f]{12,16}(_bg)?\.[a-z0-9]+$ ]]; then
    cache="public, max-age=31536000, immutable"
  else
    cache="no-cache"
  fi
  case "$file" in
    *.wasm) type=(--content-type application/wasm) ;;
    *.html) type=(--content-type "text/html; charset=utf-8") ;;
  esac
  run aws s3 cp "$file" "s3://$SITE_BUCKET/$key" --only-show-errors --cache-control "$cache" "${type[@]}"
}
if [ "$DRY" = 1 ] && ! [ -d dist ]; then
  echo "(dry run: no dist/ yet; each file would be copied with aws s3 cp --cache-control ...)"
else
  while IFS= read -r -d '' file; do
    [ "$file" = dist/index.html ] || publish "$file"
  done < <(find dist -type f -print0 | sort -z)
  publish dist/index.html
fi
# Old hashed files stay (a page loaded before this deploy may still fetch them); remove them
# with `aws s3 sync dist/ s3://$SITE_BUCKET --delete` once no such page can be open.

say "invalidating the cached index.html"
run aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION" --paths /index.html / >/dev/null

say "done: $SITE_URL (API: ${SITE_URL%/}/api)"
