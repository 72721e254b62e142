#!/usr/bin/env bash
# Remove a fitbox deployment completely: empty the three buckets (every object version, since
# the thumbnail bucket is versioned), then `sam delete` the stack. Irreversible: the thumbnails
# are the only copy of the images.
#
#   deploy/destroy.sh              asks for the stack name before deleting anything
#   deploy/destroy.sh --yes        no question (scripts)
#   deploy/destroy.sh --dry-run    print the commands instead of running them (no AWS calls)
#
# Environment: STACK_NAME (default fitbox), AWS_REGION / AWS_PROFILE as for the AWS CLI.
set -euo pipefail

STACK="${STACK_NAME:-fitbox}"
YES=0
DRY=0
for arg in "$@"; do
  case "$arg" in
    --yes) YES=1 ;;
    --dry-run) DRY=1 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "destroy: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

run() {
  printf '+ %s\n' "$*" >&2
  [ "$DRY" = 1 ] || "$@"
}
output() {
  if [ "$DRY" = 1 ]; then
    echo "<$1>"
    return
  fi
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

if [ "$YES" != 1 ] && [ "$DRY" != 1 ]; then
  printf 'This deletes stack %s and every upload, thumbnail and page in it. Type the stack name: ' "$STACK"
  read -r answer
  [ "$answer" = "$STACK" ] || { echo "destroy: not confirmed"; exit 1; }
fi

# Delete every version and delete marker, 1000 keys per call (S3's limit for DeleteObjects).
empty_bucket() { # empty_bucket NAME
  local bucket="$1" batch
  echo "emptying s3://$bucket"
  if [ "$DRY" = 1 ]; then
    run aws s3api list-object-versions --bucket "$bucket" --max-items 1000 "..."
    run aws s3api delete-objects --bucket "$bucket" --delete "{Objects: [...], Quiet: true}"
    return
  fi
  while :; do
    # shellcheck disable=SC2016 # backticks are a JMESPath literal, not a command
    batch="$(aws s3api list-object-versions --bucket "$bucket" --max-items 1000 --output json \
      --query '{Objects: [Versions, DeleteMarkers][][].{Key: Key, VersionId: VersionId}, Quiet: `true`}')"
    case "$batch" in *'"Key"'*) ;; *) break ;; esac
    run aws s3api delete-objects --bucket "$bucket" --delete "$batch" >/dev/null
  done
}

for out in UploadBucketName ResizedBucketName SiteBucketName; do
  bucket="$(output "$out")"
  if [ -n "$bucket" ] && [ "$bucket" != None ]; then
    empty_bucket "$bucket"
  fi
done

# CloudFront is disabled and deleted by CloudFormation; that alone takes several minutes.
run sam delete --stack-name "$STACK" --no-prompts
echo "destroy: stack $STACK deleted. SAM's own artifact bucket (aws-sam-cli-managed-default) is"
echo "shared by all SAM stacks in the region and stays; remove it separately if nothing else uses it."
