#!/usr/bin/env bash
# The docs check: runs README.md's commands as a reader would. Every ```sh block that
# has the line `<!-- ci: run -->` just before its fence is taken, in order, into one
# script, run by one `bash -euo pipefail` from the project folder (so variables carry
# from block to block), each command echoed before it runs. At the end, whatever
# happened, the stack is removed with `stackgen down --volumes`, `stack.toml` and
# `generated/` are put back as committed, and the check fails if any command failed
# or if a container, volume or network of the project is left.
#
# It deploys the default project `stackgen` (127.0.0.1:8081 and 8082), so it refuses to
# start while anything of that project exists (it would delete its data at the end), or
# while stack.toml or generated/ has uncommitted changes. Usage:
#   bash scripts/docs-check.sh            # CI runs it from .ci/run, before `just test`
#   bash scripts/docs-check.sh --print    # only print the script it would run
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
readme=README.md
project=stackgen
# The README installs stackgen and just with cargo, into cargo's bin folder.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

log() { printf '== docs-check: %s\n' "$*" >&2; }

# The README's commands edit these (and put them back); refuse to start on local edits
# rather than lose them at the end.
touched=(stack.toml generated)
if [ -n "$(git status --porcelain -- "${touched[@]}")" ]; then
  log "stack.toml or generated/ has uncommitted changes; commit or stash them first"
  git status --short -- "${touched[@]}" >&2
  exit 1
fi

# What of the project exists in the engine: the check must start from nothing, since it
# ends by deleting the project's data.
leftovers() {
  docker ps -aq --filter "label=com.docker.compose.project=$project"
  docker volume ls -q --filter "label=com.docker.compose.project=$project"
  docker network ls -q --filter "label=com.docker.compose.project=$project"
}

script=$(mktemp /tmp/stackgen-docs-check.XXXXXX)
# Each marked block, after a comment naming its line in the README; `set -x` echoes
# each command (after `$ `) before it runs.
printf "PS4='\$ '\nset -x\n" >"$script"
awk -v readme="$readme" '
  /^<!-- ci: run -->[[:space:]]*$/ { marked = NR; next }
  marked && !inside {
    if ($0 != "```sh") {
      printf "%s:%d: `<!-- ci: run -->` must be followed by a ```sh fence\n", readme, marked > "/dev/stderr"
      bad = 1; exit
    }
    inside = 1; blocks++
    printf "\n# --- %s:%d ---\n", readme, NR
    next
  }
  inside && /^```[[:space:]]*$/ { inside = 0; marked = 0; next }
  inside { print }
  END {
    if (bad) exit 1
    if (inside) { printf "%s: a marked block is not closed\n", readme > "/dev/stderr"; exit 1 }
    if (!blocks) { printf "%s: no block is marked `<!-- ci: run -->`\n", readme > "/dev/stderr"; exit 1 }
  }
' "$readme" >>"$script" || { rm -f "$script"; exit 1; }

if [ "${1:-}" = "--print" ]; then
  cat "$script"
  rm -f "$script"
  exit 0
fi

if [ -n "$(leftovers)" ]; then
  log "project \`$project\` already has containers, volumes or networks; the check deploys it"
  log "and deletes its data at the end, so it starts only from nothing (\`stackgen down --volumes\`)"
  rm -f "$script"
  exit 1
fi

status=1
cleanup() {
  local code=$?
  if [ "$code" -ne 0 ]; then status=$code; fi
  trap - EXIT INT TERM
  log "cleaning up"
  local sg=stackgen
  if ! command -v stackgen >/dev/null 2>&1; then
    sg="${CARGO_TARGET_DIR:-$root/target}/release/stackgen"
  fi
  if [ -x "$(command -v "$sg")" ]; then
    "$sg" down --volumes || { log "\`stackgen down --volumes\` failed"; status=1; }
  else
    log "no stackgen binary to run \`down --volumes\` with"
  fi
  git checkout -- "${touched[@]}" || status=1
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    log "left behind by project \`$project\`:"
    printf '%s\n' "$left" >&2
    status=1
  fi
  rm -f "$script"
  if [ "$status" -eq 0 ]; then
    log "passed in $((SECONDS - started)) s"
  else
    log "FAILED (exit $status) after $((SECONDS - started)) s"
  fi
  exit "$status"
}
started=$SECONDS
trap cleanup EXIT
trap 'exit 130' INT TERM

log "running $(grep -c '^# --- ' "$script") marked blocks of $readme"
bash -euo pipefail "$script"
status=$?
