#!/usr/bin/env bash
# image.sh [--debs DIR] [--base IMAGE]: builds the container image
# signet:<version> (also tagged signet:<project version>) from Dockerfile,
# with the Docker daemon that $DOCKER_HOST (or the default socket) names.
#
#   (no flag)    compiles Signet inside the image build (stage debs-source).
#   --debs DIR   installs the signet-server/agent/helper .debs from DIR
#                instead (made by cpack from a tree configured with
#                -DCMAKE_INSTALL_PREFIX=/usr on a Debian 12 host; see
#                scripts/image-test.sh). The runtime stage is the same.
#   --base IMAGE the Debian 12 base image (default: signet-base:bookworm,
#                made here when missing, see below).
#
# Base image: when the daemon has neither IMAGE nor debian:bookworm and cannot
# pull debian:bookworm, image.sh builds a minimal Debian 12 root filesystem
# with mmdebstrap from the apt sources this machine uses and imports it as
# signet-base:bookworm. The tarball is cached in $SIGNET_IMAGE_CACHE
# (default /var/cache/signet-image) for the next daemon.
#
# Needs BuildKit (RUN --mount, skipping unused stages): Debian's docker.io CLI
# (/usr/bin/docker) drives the daemon's built-in BuildKit with
# DOCKER_BUILDKIT=1 and no buildx plugin; $DOCKER overrides the CLI.
# Prints the image name (signet:<version>) on stdout as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

debs="" base=""
while [ $# -gt 0 ]; do
  case "$1" in
    --debs) debs=$(cd "$2" && pwd); shift 2 ;;
    --base) base=$2; shift 2 ;;
    *) echo "image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
export DOCKER_BUILDKIT=1

version=$(sed -n 's/^project(Signet VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
tag="signet:${version}-${commit}"

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# make_base: mmdebstrap bookworm (minbase) from this machine's apt sources,
# then docker import as signet-base:bookworm.
make_base() {
  local cache=${SIGNET_IMAGE_CACHE:-/var/cache/signet-image}
  local tar=$cache/bookworm-minbase.tar
  if [ ! -s "$tar" ]; then
    command -v mmdebstrap >/dev/null || { echo "image.sh: mmdebstrap is not installed (scripts/install-deps.sh)" >&2; exit 1; }
    mkdir -p "$cache"
    local sources=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
      [ -s "$f" ] && sources+=("$f")
    done
    [ ${#sources[@]} -gt 0 ] || { echo "image.sh: no apt sources in /etc/apt" >&2; exit 1; }
    echo "image.sh: building a Debian 12 base with mmdebstrap (${sources[*]})" >&2
    mmdebstrap --variant=minbase --format=tar --quiet \
      --aptopt='Acquire::Check-Valid-Until "false"' \
      bookworm "$cache/partial-bookworm-minbase.tar" "${sources[@]}" >&2
    mv "$cache/partial-bookworm-minbase.tar" "$tar"
  fi
  "$DOCKER" import -c 'CMD ["/bin/bash"]' "$tar" signet-base:bookworm >/dev/null
}

if [ -z "$base" ]; then
  base=signet-base:bookworm
  if ! have_image "$base"; then
    if have_image debian:bookworm; then
      base=debian:bookworm
    elif timeout 30 "$DOCKER" pull -q debian:bookworm >/dev/null 2>&1; then
      base=debian:bookworm
    else
      make_base
    fi
  fi
fi
have_image "$base" || { echo "image.sh: base image $base not found" >&2; exit 1; }

args=(--network host --build-arg "BASE_IMAGE=$base" --build-arg "SIGNET_VERSION=${version}-${commit}"
      --build-arg "SIGNET_GIT_COMMIT=$commit" -t "$tag" -t "signet:${version}" --progress plain)
start=$SECONDS
if [ -n "$debs" ]; then
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  mkdir "$ctx/debs"
  cp "$debs"/signet-server_*.deb "$debs"/signet-agent_*.deb "$debs"/signet-helper_*.deb "$ctx/debs/"
  "$DOCKER" build "${args[@]}" --build-arg SIGNET_DEBS=prebuilt -f "$src/Dockerfile" "$ctx" >&2
else
  "$DOCKER" build "${args[@]}" "$src" >&2
fi
echo "image.sh: built $tag from $base ($((SECONDS - start)) s)" >&2
echo "$tag"
