#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages Signet builds and tests with.
# Idempotent: prints nothing and changes nothing when every package is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev openssl libabsl-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev googletest
  libsqlite3-dev sqlite3 libcurl4-openssl-dev libcpp-httplib-dev
  clang libclang-rt-14-dev
  nginx faketime
  docker.io podman busybox-static uidmap crun runc fuse-overlayfs slirp4netns catatonit iptables
  mmdebstrap systemd dpkg-dev file
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
