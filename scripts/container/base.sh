#!/usr/bin/env bash
# The container tools and the local base image that `make image-test` and `make stack-test`
# build on, where no container registry is reachable (so python:3.11-slim cannot be pulled).
#
# 1. podman, runc, debootstrap (and podman's networking) from apt, when missing (root only).
# 2. localhost/bookworm-python: Debian bookworm (minbase) with python3 3.11, venv and
#    `python`, made by debootstrap from Debian's archive and imported into podman; made once
#    (about 5 minutes) and reused while podman has it (BASE_REBUILD=1 makes it again).
# Prints nothing but one line per step; exits non-zero with one line when a step fails.
set -euo pipefail
BASE_IMAGE=${BASE_IMAGE:-localhost/bookworm-python}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
ulimit -n 1024 -u 1024

need=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "base.sh: ${need[*]} missing and cannot be installed here (needs root and apt-get)" >&2
        exit 1
    fi
    echo "installing podman, runc, debootstrap from apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        podman runc debootstrap uidmap slirp4netns fuse-overlayfs netavark aardvark-dns \
        containernetworking-plugins >/dev/null
fi

if [ -z "${BASE_REBUILD:-}" ] && podman image exists "$BASE_IMAGE"; then
    echo "base image $BASE_IMAGE present: reused"
    exit 0
fi
echo "making $BASE_IMAGE with debootstrap (about 5 minutes)"
start=$(date +%s)
rootfs=$(mktemp -d /var/tmp/bookworm-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
if ! debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3 \
        bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1; then
    echo "base.sh: debootstrap failed, last lines of $rootfs.log:" >&2
    tail -5 "$rootfs.log" >&2
    exit 1
fi
rm -f "$rootfs.log"
# Smaller, and what a slim image leaves out: apt's lists and caches, docs, man pages.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | podman import --quiet \
    --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
echo "made $BASE_IMAGE in $(($(date +%s) - start)) s"
