#!/usr/bin/env bash
# `just swarm-demo`: the whole path to a three-node swarm on this machine, then back to
# clean. Three engines in network namespaces and a registry (scripts/nodes.sh, under a
# prefix of the demo's own, so a `just nodes up` of yours is left alone) -> label node 2
# for the database -> stackgen push (built on this host's engine) -> stackgen up --target
# swarm (deployed through the manager) -> every app task answers "Hello, world!" at its
# node's address -> the nodes and the pushed tags removed. The host engine's swarm state
# is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
sg="${STACKGEN_BIN:-$PWD/target/release/stackgen}"
name="stackgen-swarm"
work=$(mktemp -d /tmp/stackgen-swarm-demo.XXXXXX)
export STACKGEN_NODES_PREFIX=sgd STACKGEN_NODES_NET=10.97.0 STACKGEN_NODES_REGISTRY_PORT=5002
registry="127.0.0.1:$STACKGEN_NODES_REGISTRY_PORT"
host_engine="${DOCKER_HOST:-}"

cleanup() {
  echo "== cleaning up"
  scripts/nodes.sh down || true
  DOCKER_HOST="$host_engine" docker image ls --format '{{.Repository}}:{{.Tag}}' |
    grep -E "^$registry/$name/" | xargs -r env DOCKER_HOST="$host_engine" docker rmi >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== nodes"
scripts/nodes.sh down >/dev/null 2>&1 || true   # what a crashed demo left
exports=$(scripts/nodes.sh up)
echo "$exports"
eval "$exports"
docker node update --label-add stackgen.db=true sgd2 >/dev/null
docker node ls

echo "== stack copy in $work/p"
mkdir -p "$work/p"
cp -a stack.toml templates apps images db generated "$work/p/"
sed -i "s/^name = \"stackgen\"/name = \"$name\"/; s/^publish = [0-9]*/publish = 0/; s/^registry = .*/registry = \"$registry\"/" "$work/p/stack.toml"

echo "== stackgen push (built here, on the host's engine)"
"$sg" -C "$work/p" push
echo "== stackgen up --target swarm (deployed through the manager)"
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
docker service ls --format '{{.Name}} {{.Replicas}}'
docker service ps --filter desired-state=running --format '{{.Name}} on {{.Node}}' \
  "$name"_db "$name"_hello "$name"_greeter
if [ "$failed" = 0 ]; then
  echo "swarm demo: every app answers Hello, world!"
else
  echo "swarm demo: an app did not answer Hello, world!" >&2
  exit 1
fi
