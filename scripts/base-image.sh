#!/usr/bin/env bash
# Makes sure the base image every stackgen image builds FROM exists locally:
# already present -> done; else try a pull; else build it from Debian packages
# (debootstrap --variant=minbase + docker import). The last path needs no registry,
# which is the only path on air-gapped hosts and on this project's CI machines.
set -euo pipefail

image="${1:-debian:bookworm-slim}"
suite="${BASE_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image: present"
  exit 0
fi

if timeout 60 docker pull "$image" >/dev/null 2>&1; then
  echo "base image $image: pulled"
  exit 0
fi

echo "base image $image: no registry reachable, building it from Debian packages ($suite)"
if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  else
    echo "error: \`debootstrap\` is needed to build the base image" >&2
    echo "hint: \`sudo apt-get install debootstrap\`, then run \`just base\` again" >&2
    exit 1
  fi
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

root=$(mktemp -d /tmp/stackgen-base.XXXXXX)
trap '$sudo rm -rf "$root"' EXIT
$sudo debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
  echo "error: debootstrap failed; last lines of $root.log:" >&2
  tail -n 20 "$root.log" >&2
  exit 1
}
# The sources debian:*-slim lists: the release, its updates and Debian's security
# archive, so a base built today carries today's security fixes, and so does every
# `apt-get install` in a Dockerfile built on it. debootstrap installed from the release
# alone; the security fixes published since are applied here.
printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
  "$mirror" "$suite" "$mirror" "$suite" "$security" "$suite" |
  $sudo tee "$root/etc/apt/sources.list" >/dev/null
$sudo chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq' \
  >"$root.log" 2>&1 || {
  echo "error: applying the security updates failed; last lines of $root.log:" >&2
  tail -n 20 "$root.log" >&2
  exit 1
}
# Keep the image small and free of host-specific state, as debian:*-slim does.
$sudo rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/* "$root"/tmp/*
$sudo tar -C "$root" --numeric-owner -c . | docker import \
  --change 'CMD ["bash"]' \
  --change 'ENV LANG=C.UTF-8' \
  - "$image" >/dev/null
rm -f "$root.log"
echo "base image $image: built from Debian packages ($(docker image inspect -f '{{.Id}}' "$image"))"
