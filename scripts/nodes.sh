#!/usr/bin/env bash
# nodes.sh: three Docker engines on this one machine, each in a network namespace of its
# own, joined into a swarm, plus an image registry; the host's own engine is never
# touched (no swarm init or leave, no daemon setting, no iptables rule of its own).
#
#   nodes.sh up      make the nodes; the last lines are the `export`s a shell needs
#   nodes.sh down    remove everything `up` made (also after a crash; safe to re-run)
#   nodes.sh status  what runs, and each engine's memory
#   nodes.sh env     the `export` lines again
#   nodes.sh kill N | restart N   node N loses power (every process of it, SIGKILL) / boots
#
# Layout (nothing is routed off this machine: the node namespaces have no default route):
#   netns <p>sw   a bridge joining the nodes and the host (an empty "switch" namespace)
#   netns <p>1..3 eth0 <net>.11..13/24, containerd + dockerd (socket /run/<p>I.sock),
#                 data under /var/lib/<p>/<p>I; a registry on 127.0.0.1:<port>
#   host          veth <p>host <net>.1/24, a registry on 127.0.0.1:<port>, and a route to
#                 each node's container subnets (<a>.<16*I>.0/20) through the node
# The four registries share one storage folder, so an image the host engine pushes to
# 127.0.0.1:<port> is what every node pulls from 127.0.0.1:<port>: one image reference for
# both, and a loopback registry, which every engine trusts without TLS.
# Every process started here lives in cgroup /<p> (cgroup v1), which is how `down` finds
# what is left after a crash.
#
# Env: STACKGEN_NODES_PREFIX (sgn), STACKGEN_NODES_NET (10.99.0; the /16 around it is the
# nodes' own), STACKGEN_NODES_REGISTRY_PORT (5000). Tests use their own prefix and net.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy DOCKER_CONTEXT
HOST_ENGINE=${DOCKER_HOST:-unix:///var/run/docker.sock}
unset DOCKER_HOST

P=${STACKGEN_NODES_PREFIX:-sgn}
NET=${STACKGEN_NODES_NET:-10.99.0}
PORT=${STACKGEN_NODES_REGISTRY_PORT:-5000}
NODES=3
A=${NET%.*}                      # 10.99: node I's container subnets are $A.(16*I).0/20
SW=${P}sw HOSTIF=${P}host DATA=/var/lib/$P STATE=/run/$P.nodes
REG=127.0.0.1:$PORT
CTRLS="pids memory cpu"

T0=$(date +%s%N)
log() { printf '[%5.1fs] %s\n' "$(( ($(date +%s%N) - T0) / 100000000 ))e-1" "$*" >&2; }
die() { printf 'error: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf 'hint: %s\n' "$2" >&2; exit 1; }
ip_of() { echo "$NET.1$1"; }
sock() { echo "unix:///run/$P$1.sock"; }
D() { local i=$1; shift; docker -H "$(sock "$i")" "$@"; }
until_ok() { local secs=$1 k; shift; for ((k = 0; k < secs * 5; k++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
pid_in() { [ -s "$1" ] && cat "$1" 2>/dev/null; }
ours() { grep -q ":pids:/$P\(/\|$\)" "/proc/$1/cgroup" 2>/dev/null; }
signal_ours() { local sig=$1 pid; shift; for pid in "$@"; do [ -n "$pid" ] && ours "$pid" && kill -s "$sig" "$pid" 2>/dev/null; done; true; }
our_pids() { [ -d "/sys/fs/cgroup/pids/$P${1:+/$1}" ] && find "/sys/fs/cgroup/pids/$P${1:+/$1}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un; }
our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$P(sw|[0-9]+)$"; }

# Runs CMD in the background inside cgroup /<p>/SUB (every controller in $CTRLS).
in_cgroup() {
  local sub=$1 c; shift
  for c in $CTRLS; do mkdir -p "/sys/fs/cgroup/$c/$P/$sub"; done
  echo 256 >"/sys/fs/cgroup/cpu/$P/cpu.shares" 2>/dev/null || true
  setsid bash -c 'for c in '"$CTRLS"'; do echo $$ >/sys/fs/cgroup/$c/'"$P/$sub"'/cgroup.procs; done; exec "$@"' _ "$@" </dev/null >/dev/null 2>&1 &
}

refuse_unless_possible() {
  [ "$(id -u)" -eq 0 ] || die "the nodes need root (network namespaces, engines of their own)" "run it as root: sudo just nodes up"
  [ -d /sys/fs/cgroup/pids ] && [ -d /sys/fs/cgroup/memory ] ||
    die "this host has cgroup v2 only; the nodes are written for cgroup v1 or hybrid hosts" \
      "boot with systemd.unified_cgroup_hierarchy=0, or run the nodes on another machine"
  local cmd
  for cmd in ip unshare nsenter containerd dockerd docker-registry iptables curl; do
    command -v "$cmd" >/dev/null || die "\`$cmd\` is not installed" "scripts/ensure-tools.sh nodes installs what the nodes need"
  done
  if [ -e "$STATE" ]; then
    die "the nodes are already up, or a run of them crashed ($STATE exists)" "run \`just nodes down\` first"
  fi
  local left
  left=$(our_namespaces | paste -sd ' ')
  [ -z "$left" ] || die "network namespaces $left exist and were not made by this script" \
    "remove them (ip netns del ...) or pick another STACKGEN_NODES_PREFIX"
  ip link show "$HOSTIF" >/dev/null 2>&1 && die "a network interface $HOSTIF exists and was not made by this script" \
    "remove it (ip link del $HOSTIF) or pick another STACKGEN_NODES_PREFIX"
  ip -4 addr | grep -q " $NET\." && die "an address in $NET.0/24 is in use on this host" "pick another STACKGEN_NODES_NET"
  curl -s -m 1 "http://$REG/v2/" >/dev/null && die "something already listens on $REG" "stop it, or pick another STACKGEN_NODES_REGISTRY_PORT"
  true
}

network_up() {
  ip netns add "$SW" && ip -n "$SW" link set lo up
  ip -n "$SW" link add br0 type bridge && ip -n "$SW" link set br0 up
  local i
  for i in $(seq $NODES); do
    ip netns add "$P$i" && ip -n "$P$i" link set lo up
    ip -n "$SW" link add "n$i" type veth peer name eth0 netns "$P$i"
    ip -n "$SW" link set "n$i" master br0 up
    ip netns exec "$P$i" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 net.ipv4.ip_forward=1
    ip -n "$P$i" addr add "$(ip_of "$i")/24" dev eth0 && ip -n "$P$i" link set eth0 up
  done
  ip link add "$HOSTIF" type veth peer name host netns "$SW"
  ip -n "$SW" link set host master br0 up
  sysctl -qw "net.ipv6.conf.$HOSTIF.disable_ipv6=1"
  ip addr add "$NET.1/24" dev "$HOSTIF" && ip link set "$HOSTIF" up
  for i in $(seq $NODES); do ip route add "$A.$((16 * i)).0/20" via "$(ip_of "$i")" dev "$HOSTIF"; done
}

registry_config() {   # registry_config DIR: one registry's config, on the shared storage
  mkdir -p "$1"
  cat >"$1/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DATA/registry
  delete:
    enabled: true
http:
  addr: $REG
EOF
}

registry_start() {   # registry_start WHERE (host | node number)
  local where=$1 d=$DATA/reg-$1
  registry_config "$d"
  if [ "$where" = host ]; then
    in_cgroup registry-host bash -c "echo \$\$ >$d/pid; exec docker-registry serve $d/config.yml >>$d/log 2>&1"
  else
    in_cgroup "registry-$where" nsenter "--net=/run/netns/$P$where" -- \
      bash -c "echo \$\$ >$d/pid; exec docker-registry serve $d/config.yml >>$d/log 2>&1"
  fi
}

engine_files() {
  local i=$1 d=$DATA/$P$1 r=/run/$P$1
  mkdir -p "$d/docker" "$d/containerd" "$r/docker" "$r/containerd"
  cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd"
state = "$r/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$r/containerd/containerd.sock"
[ttrpc]
  address = "$r/containerd/containerd.sock.ttrpc"
[debug]
  address = "$r/containerd/debug.sock"
  level = "warn"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$d/containerd/opt"
EOF
  # Its own config file (/etc/docker/daemon.json is the host engine's), its own key (so
  # its own engine ID), and container subnets of its own, which the host routes to it.
  cat >"$d/daemon.json" <<EOF
{"deprecated-key-path": "$d/key.json", "log-driver": "json-file",
 "log-opts": {"max-size": "5m", "max-file": "2"},
 "bip": "$A.$((16 * i + 15)).1/24",
 "default-address-pools": [{"base": "$A.$((16 * i)).0/21", "size": 24}]}
EOF
}

engine_args() {
  local i=$1 d=$DATA/$P$1 r=/run/$P$1 driver=overlay2
  command -v fuse-overlayfs >/dev/null && [ -c /dev/fuse ] && driver=fuse-overlayfs
  echo "--config-file $d/daemon.json --data-root $d/docker --exec-root $r/docker" \
    "-H $(sock "$i") --pidfile $r/dockerd.pid --containerd $r/containerd/containerd.sock" \
    "--storage-driver $driver --cgroup-parent /$P/$P$i/ctr --log-level warn" \
    "--swarm-default-advertise-addr $(ip_of "$i")"
}

# `ip netns exec` mounts a fresh /sys, which hides the cgroup hierarchies dockerd and runc
# need: mount the same (v1) hierarchies again in there.
CGMOUNTS=$(awk '$2 ~ "^/sys/fs/cgroup/." {print $3, $2, $4}' /proc/mounts)
REMOUNT='mount -t tmpfs -o rw,nosuid,nodev,noexec,mode=755 tmpfs /sys/fs/cgroup
while read -r t mp o; do mkdir -p "$mp" && mount -t "$t" -o "$o" "$t" "$mp"; done <<"EOM"
'"$CGMOUNTS"'
EOM'

engine_start() {   # containerd + dockerd in netns <p>I, own UTS namespace (hostname <p>I)
  local i=$1 d=$DATA/$P$1 r=/run/$P$1
  in_cgroup "$P$i/daemon" ip netns exec "$P$i" unshare --uts -- bash -c "
    $REMOUNT
    hostname $P$i
    nice -n 10 containerd --config $d/containerd.toml >>$d/containerd.log 2>&1 </dev/null &
    echo \$! >$r/containerd.pid
    for k in \$(seq 100); do [ -S $r/containerd/containerd.sock ] && break; sleep 0.1; done
    nice -n 10 dockerd $(engine_args "$i") >>$d/dockerd.log 2>&1 </dev/null &
    wait"
}

engine_restart() {   # node I's engine again: in the namespaces of the containerd that kept
  # running when only dockerd was killed, else (the node lost power) from scratch
  local i=$1 d=$DATA/$P$1 r=/run/$P$1 cpid
  rm -f "$r/dockerd.pid"
  if cpid=$(pid_in "$r/containerd.pid") && ours "$cpid"; then
    in_cgroup "$P$i/daemon" nsenter -t "$cpid" -n -m -u -- \
      bash -c "exec nice -n 10 dockerd $(engine_args "$i") >>$d/dockerd.log 2>&1"
  else
    rm -f "$r/containerd/containerd.sock"
    engine_start "$i"
  fi
  until_ok 60 D "$i" info || die "node $i's engine did not come back (see $d/dockerd.log)"
  open_container_subnets "$i"
}

power_off() {   # every process of node I (engine, containerd, shims, containers): SIGKILL
  local i=$1 n left
  for ((n = 0; n < 20; n++)); do
    left=$(our_pids "$P$i")
    [ -z "$left" ] && return 0
    signal_ours KILL $left
    sleep 0.1
  done
  die "node $i's processes did not all die"
}

# The host reaches the containers of a node through its route; dockerd's FORWARD chain
# drops that unless a port is published, so the node's DOCKER-USER chain lets in what
# comes from the host's side (the node's own iptables, never the host's).
open_container_subnets() {
  ip netns exec "$P$1" iptables -C DOCKER-USER -i eth0 -s "$NET.1" -j ACCEPT 2>/dev/null ||
    ip netns exec "$P$1" iptables -I DOCKER-USER -i eth0 -s "$NET.1" -j ACCEPT
}

print_env() {
  echo "export DOCKER_HOST=$(sock 1)"
  echo "export STACKGEN_BUILD_HOST=$HOST_ENGINE"
}

cmd_up() {
  refuse_unless_possible
  echo "HOST_ENGINE=$HOST_ENGINE" >"$STATE"
  mkdir -p "$DATA/registry"
  trap 'echo "error: nodes up failed; \`just nodes down\` removes what it made" >&2' ERR
  set -e
  network_up
  log "network: $(for i in $(seq $NODES); do printf '%s=%s ' "$P$i" "$(ip_of "$i")"; done)host=$NET.1"
  registry_start host
  local i
  for i in $(seq $NODES); do registry_start "$i"; engine_files "$i"; engine_start "$i"; done
  for i in $(seq $NODES); do
    until_ok 90 D "$i" info || { tail -20 "$DATA/$P$i/dockerd.log" >&2; die "node $i's engine did not start"; }
    [ -z "$(ip -n "$P$i" route show default)" ] || die "netns $P$i has a default route"
    open_container_subnets "$i"
    until_ok 20 ip netns exec "$P$i" curl -sf "http://$REG/v2/" || die "node $i's registry did not start"
  done
  until_ok 20 curl -sf "http://$REG/v2/" || die "the host's registry did not start"
  log "engines up ($(D 1 info --format '{{.ServerVersion}}, {{.Driver}}')); registry on $REG everywhere"
  D 1 swarm init --advertise-addr "$(ip_of 1)" --listen-addr "$(ip_of 1):2377" \
    --default-addr-pool "$A.128.0/17" --default-addr-pool-mask-length 24 \
    --dispatcher-heartbeat 5s --task-history-limit 2 >/dev/null
  local token
  token=$(D 1 swarm join-token -q worker)
  for i in $(seq 2 $NODES); do
    D "$i" swarm join --token "$token" --advertise-addr "$(ip_of "$i")" \
      --listen-addr "$(ip_of "$i"):2377" "$(ip_of 1):2377" >/dev/null
  done
  until_ok 60 sh -c "[ \$(docker -H $(sock 1) node ls --format '{{.Status}}' | grep -c Ready) -eq $NODES ]" ||
    die "the nodes did not all become Ready"
  set +e
  trap - ERR
  log "swarm of $NODES nodes: manager $P""1"
  print_env
}

cmd_down() {
  local i n pid
  if timeout 5 docker -H "$(sock 1)" info >/dev/null 2>&1; then
    local s; s=$(timeout 10 docker -H "$(sock 1)" service ls -q 2>/dev/null)
    [ -n "$s" ] && timeout 30 docker -H "$(sock 1)" service rm $s >/dev/null 2>&1
  fi
  for i in $(seq $NODES -1 1); do
    [ -S "/run/$P$i.sock" ] && timeout 15 docker -H "$(sock "$i")" swarm leave --force >/dev/null 2>&1
  done
  for i in $(seq $NODES); do signal_ours TERM "$(pid_in "/run/$P$i/dockerd.pid")"; done
  for ((n = 0; n < 75; n++)); do
    local alive=0
    for i in $(seq $NODES); do pid=$(pid_in "/run/$P$i/dockerd.pid") && ours "$pid" && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  # Tasks a killed engine left behind: removed through their containerd, so that their
  # shims exit and clean up after themselves.
  local cs id
  for i in $(seq $NODES); do
    cs=/run/$P$i/containerd/containerd.sock
    [ -S "$cs" ] || continue
    for id in $(timeout 5 ctr -a "$cs" -n moby tasks ls -q 2>/dev/null); do
      timeout 10 ctr -a "$cs" -n moby tasks rm -f "$id" >/dev/null 2>&1
    done
  done
  for i in $(seq $NODES); do signal_ours TERM "$(pid_in "/run/$P$i/containerd.pid")"; done
  for f in "$DATA"/reg-*/pid; do [ -e "$f" ] && signal_ours TERM "$(pid_in "$f")"; done
  sleep 0.5
  for ((n = 0; n < 50; n++)); do   # whatever is left in our cgroup (launchers, shims, containers)
    local left; left=$(our_pids)
    [ -z "$left" ] && break
    signal_ours KILL $left
    sleep 0.2
  done
  [ -z "$(our_pids)" ] || log "warning: processes left in cgroup /$P: $(our_pids | tr '\n' ' ')"
  # A killed shim cannot remove its socket, /run/containerd/s/sha256(<address>/moby/<id>).
  for i in $(seq $NODES); do
    for id in $(ls "/run/$P$i/containerd/io.containerd.runtime.v2.task/moby" "$DATA/$P$i/docker/containers" 2>/dev/null | grep -xE '[0-9a-f]{64}' | sort -u); do
      rm -f "/run/containerd/s/$(printf '%s' "/run/$P$i/containerd/containerd.sock/moby/$id" | sha256sum | cut -d' ' -f1)"
    done
  done
  for i in $(seq $NODES); do ip route del "$A.$((16 * i)).0/20" 2>/dev/null; done
  local ns
  for ns in $(our_namespaces); do ip netns del "$ns"; done
  ip link show "$HOSTIF" >/dev/null 2>&1 && ip link del "$HOSTIF"
  # fuse-overlayfs mounts of a killed engine
  grep -o " $DATA/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$DATA"
  for i in $(seq $NODES); do rm -rf "/run/$P$i" "/run/$P$i.sock"; done
  local c
  for c in /sys/fs/cgroup/*/; do [ -d "$c$P" ] && find "$c$P" -depth -type d -exec rmdir {} + 2>/dev/null; done
  rm -f "$STATE"
  local bad=""
  [ -n "$(our_namespaces)" ] && bad="$bad namespaces"
  ip link show "$HOSTIF" >/dev/null 2>&1 && bad="$bad $HOSTIF"
  ls -d /run/"$P"[0-9]* "$DATA" 2>/dev/null | grep -q . && bad="$bad files"
  ls -d /sys/fs/cgroup/*/"$P" 2>/dev/null | grep -q . && bad="$bad cgroups"
  [ -z "$bad" ] || die "down left:$bad"
  log "nodes down: nothing of $P left"
}

mem_mib() { awk -v k="$2" '$1==k{print int($2/1048576)}' "/sys/fs/cgroup/memory/$P/$1/memory.stat" 2>/dev/null || echo 0; }

cmd_status() {
  [ -e "$STATE" ] || { echo "nodes ($P): down"; return 3; }
  local i
  for i in $(seq $NODES); do
    printf '%s  %s  engine %s  memory: engine %s MiB, containers %s MiB\n' "$P$i" "$(ip_of "$i")" \
      "$(timeout 5 docker -H "$(sock "$i")" info --format '{{.ServerVersion}} {{.Swarm.LocalNodeState}}' 2>/dev/null || echo down)" \
      "$(mem_mib "$P$i/daemon" total_rss)" "$(mem_mib "$P$i/ctr" total_rss)"
  done
  timeout 5 docker -H "$(sock 1)" node ls 2>/dev/null
  echo "registry $REG: $(curl -s -m 2 "http://$REG/v2/_catalog" || echo down)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) [ -e "$STATE" ] && . "$STATE"; print_env ;;
  kill) power_off "${2:?node}" ;;
  restart) engine_restart "${2:?node}" ;;
  *) echo "usage: $0 up|down|status|env|kill N|restart N" >&2; exit 2 ;;
esac
