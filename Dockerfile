# Signet container image: signet-server, signet-agent and signet-helper.
#
# Build with scripts/image.sh (tags signet:<version>; makes a Debian 12 base
# image with mmdebstrap when the daemon has none), or by hand, with BuildKit
# (Debian's docker.io: DOCKER_BUILDKIT=1 /usr/bin/docker build ...):
#   DOCKER_BUILDKIT=1 docker build --network host \
#     --build-arg BASE_IMAGE=signet-base:bookworm \
#     --build-arg SIGNET_GIT_COMMIT=$(git rev-parse --short HEAD) -t signet:dev .
#
# Stages:
#   build          Debian 12 with the -dev packages, compiler, cmake, ccache.
#   debs-source    (default) compiles Signet from this context and builds the
#                  .debs with CPack; ccache lives in a BuildKit cache mount,
#                  so rebuilds on the same daemon recompile only what changed.
#   debs-prebuilt  (--build-arg SIGNET_DEBS=prebuilt) takes the .debs from
#                  debs/ in the build context instead: packages CPack made
#                  from a tree built on a Debian 12 host (scripts/image.sh
#                  --debs DIR). CI uses this so that the image test does not
#                  compile Signet a second time.
#   runtime        (final) the base image plus the signet-server,
#                  signet-agent and signet-helper packages, which pull in
#                  only the runtime libraries (apt resolves their
#                  dpkg-shlibdeps dependencies); no compiler, no headers.
#
# Users: the default user is "signet" (uid/gid 1000, as conf/k8s expects),
# which is all signet-server needs. signet-agent must run as root in the
# host's PID namespace (docker run --user 0 --pid host, Kubernetes hostPID:
# true): workload attestation reads /proc/<pid> of the calling processes,
# which belong to other users and live in other containers. With the unix
# attestor's discover_workload_path (as in the packaged agent.yaml) it also
# needs CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE) to read another
# user's /proc/<pid>/exe.
#
# Paths (from the packaged configs in /etc/signet): server admin socket
# /run/signet/server/api.sock, server data /var/lib/signet/server, agent
# Workload API socket /run/signet/agent/public/api.sock (bind-mount that
# directory to share it), agent data /var/lib/signet/agent.

ARG BASE_IMAGE=signet-base:bookworm
ARG SIGNET_DEBS=source

FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config ccache dpkg-dev file \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libssl-dev libabsl-dev libyaml-cpp-dev libsqlite3-dev libcurl4-openssl-dev \
      >/dev/null \
 && rm -rf /var/lib/apt/lists/*

FROM build AS debs-source
ARG SIGNET_GIT_COMMIT=
COPY . /src
RUN --mount=type=cache,target=/ccache,id=signet-ccache \
    export CCACHE_DIR=/ccache CCACHE_BASEDIR=/src CCACHE_NOHASHDIR=true \
 && cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
      -DSIGNET_BUILD_TESTS=OFF -DSIGNET_GIT_COMMIT="${SIGNET_GIT_COMMIT}" >/dev/null \
 && cmake --build /build -j"$(nproc)" \
 && cpack --config /build/CPackConfig.cmake -B /debs >/dev/null \
 && rm -rf /debs/_CPack_Packages /build

FROM scratch AS debs-prebuilt
COPY debs/ /debs/

FROM debs-${SIGNET_DEBS} AS debs

FROM ${BASE_IMAGE} AS runtime
ARG SIGNET_VERSION=unknown
LABEL org.opencontainers.image.title="signet" \
      org.opencontainers.image.description="Signet SPIFFE server, agent and helper" \
      org.opencontainers.image.version="${SIGNET_VERSION}"
ENV DEBIAN_FRONTEND=noninteractive
# The user exists before the packages are installed, so the server package's
# postinst keeps its fixed uid.
RUN groupadd --gid 1000 signet \
 && useradd --uid 1000 --gid signet --home-dir /var/lib/signet --no-create-home \
      --shell /usr/sbin/nologin signet
RUN --mount=type=bind,from=debs,source=/debs,target=/debs \
    apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      /debs/signet-server_*.deb /debs/signet-agent_*.deb /debs/signet-helper_*.deb >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -m 0755 /run/signet /var/lib/signet \
 && install -d -o signet -g signet -m 0700 /run/signet/server /var/lib/signet/server \
 && install -d -m 0755 /run/signet/agent /run/signet/agent/public \
 && install -d -m 0700 /run/signet/agent/private /var/lib/signet/agent \
 && signet-server --version && signet-agent --version
USER signet
WORKDIR /var/lib/signet
EXPOSE 8081
CMD ["signet-server", "--help"]
