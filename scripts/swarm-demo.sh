#!/usr/bin/env bash
# `just swarm-demo`: the whole path to a swarm on one machine, then back to clean.
#   swarm init (if this engine is not in one) -> label this node for the database ->
#   local registry -> stackgen push -> stackgen up --target swarm -> both apps answer
#   "Hello, world!" -> stack removed, volumes, registry and swarm (if we made it) too.
# It deploys a copy of the shipped stack named `stackgen-swarm` with free host ports, so
# it never collides with a `just deploy` running on the same host.
set -euo pipefail
cd "$(dirname "$0")/.."
sg="${STACKGEN_BIN:-$PWD/target/release/stackgen}"
name="stackgen-swarm"
work=$(mktemp -d /tmp/stackgen-swarm-demo.XXXXXX)
registry_state="$work/registry"
made_swarm=0

cleanup() {
  echo "== cleaning up"
  "$sg" -C "$work/p" down --target swarm >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$name")" ] && break
    sleep 1
  done
  docker volume ls -q --filter "label=com.docker.stack.namespace=$name" | xargs -r docker volume rm >/dev/null || true
  scripts/registry.sh stop "$registry_state" >/dev/null || true
  if [ "$made_swarm" = 1 ]; then
    docker swarm leave --force >/dev/null || true
    docker network rm docker_gwbridge >/dev/null 2>&1 || true  # made by swarm init
  fi
  docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E "(^|/)$name/" | xargs -r docker rmi >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== swarm"
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  made_swarm=1
  echo "initialised a one-node swarm (it is left again at the end)"
fi
docker node update --label-add stackgen.db=true "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null

echo "== registry"
scripts/registry.sh start "$registry_state"

echo "== stack copy in $work/p"
mkdir -p "$work/p"
cp -a stack.toml templates apps images db generated "$work/p/"
sed -i "s/^name = \"stackgen\"/name = \"$name\"/; s/^publish = [0-9]*/publish = 0/" "$work/p/stack.toml"

echo "== stackgen push"
"$sg" -C "$work/p" push
echo "== stackgen up --target swarm"
"$sg" -C "$work/p" up --target swarm

echo "== smoke"
failed=0
for _ in $(seq 1 20); do
  failed=0
  while IFS=$'\t' read -r service url; do
    body=$(curl -s --max-time 3 "$url" || true)
    if [ "$body" != "Hello, world!" ]; then failed=1; fi
  done < <("$sg" -C "$work/p" urls --target swarm)
  [ "$failed" = 0 ] && break
  sleep 1
done
while IFS=$'\t' read -r service url; do
  echo "ok    $service $url -> $(curl -s --max-time 3 "$url" || true)"
done < <("$sg" -C "$work/p" urls --target swarm)
if [ "$failed" = 0 ]; then
  echo "swarm demo: every app answers Hello, world!"
else
  echo "swarm demo: an app did not answer Hello, world!" >&2
  exit 1
fi
