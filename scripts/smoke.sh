#!/usr/bin/env bash
# Queries every published app of the running stack and fails unless each answers
# exactly "Hello, world!". Usage: scripts/smoke.sh [path/to/stackgen]
set -euo pipefail
stackgen="${1:-stackgen}"

urls=$("$stackgen" urls)
if [ -z "$urls" ]; then
  echo "smoke: no published services are running; run \`just deploy\` first" >&2
  exit 1
fi
failed=0
while IFS=$'\t' read -r service url; do
  body=$(curl --silent --show-error --max-time 5 "$url" 2>&1) || true
  if [ "$body" = "Hello, world!" ]; then
    echo "ok    $service $url -> $body"
  else
    echo "FAIL  $service $url -> $body" >&2
    failed=1
  fi
done <<<"$urls"
exit "$failed"
