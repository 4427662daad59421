#!/usr/bin/env bash
# A local image registry for swarm deploys on one machine: Debian's `docker-registry`,
# with filesystem storage and no auth, listening on 127.0.0.1:5000 only (the engine
# treats 127.0.0.0/8 registries as insecure-allowed, so plain http works).
# Usage: scripts/registry.sh start|stop [state-folder]
set -euo pipefail
cmd="${1:-start}"
state="${2:-${TMPDIR:-/tmp}/stackgen-registry}"
addr="127.0.0.1:5000"

case "$cmd" in
  start)
    if curl -fsS "http://$addr/v2/" >/dev/null 2>&1; then
      echo "registry: already answering on $addr"
      exit 0
    fi
    if ! command -v docker-registry >/dev/null 2>&1; then
      if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
      else
        echo "error: \`docker-registry\` is not installed" >&2
        echo "hint: sudo apt-get install docker-registry" >&2
        exit 1
      fi
    fi
    mkdir -p "$state/data"
    cat >"$state/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $state/data
http:
  addr: $addr
YML
    nohup docker-registry serve "$state/config.yml" >"$state/registry.log" 2>&1 &
    echo $! >"$state/pid"
    for _ in $(seq 1 50); do
      curl -fsS "http://$addr/v2/" >/dev/null 2>&1 && { echo "registry: started on $addr"; exit 0; }
      sleep 0.1
    done
    echo "error: the registry did not start; see $state/registry.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$state/pid" ]; then
      kill "$(cat "$state/pid")" 2>/dev/null || true
      rm -f "$state/pid"
    fi
    rm -rf "$state"
    echo "registry: stopped"
    ;;
  *)
    echo "usage: $0 start|stop [state-folder]" >&2
    exit 2
    ;;
esac
