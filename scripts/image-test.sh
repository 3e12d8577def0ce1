#!/usr/bin/env bash
# image-test.sh [BUILD_DIR]: packages and containers, run for real (as root).
#   1. CPack makes the .debs from BUILD_DIR (default build, already built;
#      its install prefix is set to /usr for this);
#   2. a private dockerd (own data root and socket in a temp dir,
#      --iptables=false --bridge=none) is started;
#   3. scripts/image.sh builds signet:<version> from those .debs (the Debian
#      12 base image is made with mmdebstrap when needed);
#   4. the .debs are installed with apt into a fresh container of the same
#      base: the versions, the signet user and `systemd-analyze verify` of the
#      units are checked there;
#   5. a server container, an agent container (host PID namespace, Workload
#      API socket directory bind-mounted, attested with a join token) and a
#      workload container (uid 4321, no network, only the socket directory
#      mounted) that fetches its X.509-SVID and JWT-SVID;
#   6. everything is stopped and removed, the image too, and dockerd stopped,
#      also on failure.
# Any failed check exits non-zero with "image-test.sh: FAILED".
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build_dir=$(cd "${1:-build}" && pwd)
start=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
  echo "image-test.sh: must run as root (it starts its own dockerd)" >&2
  exit 1
fi
DOCKER=/usr/bin/docker
export DOCKER
for tool in /usr/sbin/dockerd "$DOCKER" cpack mmdebstrap dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "image-test.sh: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /var/tmp/signet-image-test.XXXXXX)
export DOCKER_HOST="unix://$work/docker.sock"
dockerd_pid=""
image=""
fail() {
  echo "image-test.sh: $*" >&2
  exit 1
}
cleanup() {
  local rc=$?
  set +e
  if [ -n "$dockerd_pid" ]; then
    if [ "$rc" -ne 0 ]; then
      for c in signet-it-server signet-it-agent; do
        echo "--- docker logs $c" >&2
        "$DOCKER" logs "$c" 2>&1 | tail -30 >&2
      done
    fi
    "$DOCKER" rm -f signet-it-server signet-it-agent signet-it-workload signet-it-debs >/dev/null 2>&1
    if [ -n "$image" ]; then
      "$DOCKER" rmi "$image" "${image%-*}" >/dev/null 2>&1
    fi
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$dockerd_pid" 2>/dev/null
    if [ "$rc" -ne 0 ]; then tail -20 "$work/dockerd.log" >&2; fi
  fi
  # Mounts dockerd may have left under the work dir (overlays, netns).
  awk -v w="$work" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m"
  done
  rm -rf "$work"
  if [ "$rc" -ne 0 ]; then
    echo "image-test.sh: FAILED (exit $rc)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT

# 1. The .debs, from the tree the release suite just built.
if ! grep -q '^CMAKE_INSTALL_PREFIX:PATH=/usr$' "$build_dir/CMakeCache.txt"; then
  cmake -DCMAKE_INSTALL_PREFIX=/usr "$build_dir" >/dev/null
fi
cmake --build "$build_dir" --target signet-server signet-agent signet-helper signet_client_pkg >/dev/null
cpack --config "$build_dir/CPackConfig.cmake" -B "$work/debs" >/dev/null
rm -rf "$work/debs/_CPack_Packages"
version=$("$build_dir/server/signet-server" --version)
deb_version="${version%-*}+g${version##*-}-1"
for p in signet-server signet-agent signet-helper libsignet-dev; do
  [ -s "$work/debs/${p}_${deb_version}_amd64.deb" ] || fail "no ${p}_${deb_version}_amd64.deb from cpack"
done
echo "image-test.sh: packages $deb_version built ($((SECONDS - start)) s)" >&2

# 2. A private dockerd.
/usr/sbin/dockerd --data-root "$work/data" --exec-root "$work/x" --pidfile "$work/dockerd.pid" \
  --host "$DOCKER_HOST" --iptables=false --ip-masq=false --bridge=none \
  --exec-opt native.cgroupdriver=cgroupfs >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 1 60); do
  "$DOCKER" info >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || fail "dockerd exited: $(tail -5 "$work/dockerd.log")"
  sleep 1
done
"$DOCKER" info >/dev/null 2>&1 || fail "dockerd did not answer within 60 s"

# 3. The image.
image=$(bash scripts/image.sh --debs "$work/debs" | tail -1)
[ "$image" = "signet:$version" ] || fail "image.sh built $image, expected signet:$version"
label=$("$DOCKER" image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$image")
[ "$label" = "$version" ] || fail "image label version $label, expected $version"
base=signet-base:bookworm
"$DOCKER" image inspect "$base" >/dev/null 2>&1 || base=debian:bookworm
echo "image-test.sh: image $image built ($((SECONDS - start)) s)" >&2

# 4. The .debs in a fresh container of the same base.
"$DOCKER" run --rm --name signet-it-debs --network host -v "$work/debs:/debs:ro" \
  -e "VERSION=$version" -e "DEB_VERSION=$deb_version" "$base" bash -euc '
    check() { local what=$1; shift; "$@" || { echo "debs: $what" >&2; exit 1; }; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends systemd \
      ./debs/signet-server_*.deb ./debs/signet-agent_*.deb ./debs/signet-helper_*.deb \
      ./debs/libsignet-dev_*.deb >/tmp/apt.log 2>&1 || {
        tail -30 /tmp/apt.log >&2; echo "debs: apt install of the .debs failed" >&2; exit 1; }
    cd /
    check "signet-server --version is not $VERSION" test "$(signet-server --version)" = "$VERSION"
    check "signet-agent version is not $VERSION" test "$(signet-agent version)" = "$VERSION"
    for p in signet-server signet-agent signet-helper libsignet-dev; do
      check "package $p is not version $DEB_VERSION" \
        test "$(dpkg-query -W -f="\${Version}" "$p")" = "$DEB_VERSION"
    done
    check "postinst did not create user signet" getent passwd signet >/dev/null
    check "libsignet-dev has no SignetConfig.cmake" \
      test -f /usr/lib/x86_64-linux-gnu/cmake/Signet/SignetConfig.cmake -o \
           -f /usr/lib/cmake/Signet/SignetConfig.cmake
    check "packaged server.yaml invalid" signet-server validate -config /etc/signet/server.yaml
    check "packaged agent.yaml invalid" signet-agent validate -config /etc/signet/agent.yaml
    out=$(systemd-analyze verify /usr/lib/systemd/system/signet-server.service \
            /usr/lib/systemd/system/signet-agent.service 2>&1) || {
      echo "debs: systemd-analyze verify failed: $out" >&2; exit 1; }
    if [ -n "$out" ]; then echo "debs: systemd-analyze verify warned: $out" >&2; exit 1; fi
    apt-get remove -y -qq signet-server signet-agent signet-helper libsignet-dev >/tmp/apt.log 2>&1 || {
      tail -30 /tmp/apt.log >&2; echo "debs: apt remove failed" >&2; exit 1; }
    echo "debs: installed and removed, $VERSION, units verified"
  ' >&2 || fail "the .debs did not install and check out in a fresh $base container"
echo "image-test.sh: packages checked ($((SECONDS - start)) s)" >&2

# 5. Server, agent and workload containers, started by the single-host
# example conf/docker/run.sh (SIGNET_NETWORK=private: the server has its own
# loopback-only network namespace and the agent shares it, so no host port
# is used; the agent is in the host's PID namespace and its Workload API
# socket directory is a host directory).
sock=/run/signet/server/api.sock
srv() { "$DOCKER" exec signet-it-server signet-server "$@" -socketPath "$sock"; }
wait_for() {  # wait_for WHAT CMD...: retries CMD for up to 60 s
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  fail "$what not ready within 60 s"
}
up=$(SIGNET_IMAGE=$image SIGNET_NETWORK=private SIGNET_NAME_PREFIX=signet-it- \
  SIGNET_SOCKET_DIR="$work/agent-sockets" SIGNET_STATE_DIR="$work" \
  bash conf/docker/run.sh up) || fail "conf/docker/run.sh up failed"
agent_id=$(sed -n 's/^agent SPIFFE ID: //p' <<<"$up")
[[ "$agent_id" == spiffe://example.org/spire/agent/join_token/* ]] || fail "no agent ID in: $up"
# (No `| grep -q` on a command's output: with pipefail an early match fails
# the writer with SIGPIPE.)
[ "$("$DOCKER" inspect -f '{{.HostConfig.PidMode}} {{.Config.User}}' signet-it-agent)" = "host 0" ] ||
  fail "the agent container is not root in the host PID namespace"
[ "$("$DOCKER" inspect -f '{{.Config.User}}' signet-it-server)" = "signet" ] ||
  fail "the server container does not run as user signet"
server_log=$("$DOCKER" logs signet-it-server 2>&1)
grep -q "INFO signet-server started version=$version " <<<"$server_log" ||
  fail "server startup log line lacks version=$version"
agent_log=$("$DOCKER" logs signet-it-agent 2>&1)
grep -q "INFO signet-agent starting version=$version$" <<<"$agent_log" ||
  fail "agent startup log line lacks version=$version"
[ -S "$work/agent-sockets/api.sock" ] || fail "no Workload API socket in the shared directory"
srv entry create -parentID "$agent_id" -spiffeID spiffe://example.org/image-test/workload \
  -selector unix:uid:4321 >/dev/null || fail "entry create failed"
workload() {
  "$DOCKER" run --rm --name signet-it-workload --network none --user 4321:4321 \
    -v "$work/agent-sockets:/run/signet/agent/public:ro" "$image" \
    signet-agent api "$@" -socketPath /run/signet/agent/public/api.sock
}
wait_for "workload X.509-SVID" workload fetch x509
x509=$(workload fetch x509)
grep -q "SPIFFE ID:.*spiffe://example.org/image-test/workload" <<<"$x509" ||
  fail "X.509-SVID fetch did not return the workload's SVID: $x509"
jwt=$(workload fetch jwt -audience image-test)
grep -q "spiffe://example.org/image-test/workload" <<<"$jwt" ||
  fail "JWT-SVID fetch did not return the workload's SVID: $jwt"
token_jwt=$(grep -o 'ey[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*' <<<"$jwt" | head -1)
[ -n "$token_jwt" ] || fail "no JWT in: $jwt"
workload validate jwt -audience image-test -svid "$token_jwt" >/dev/null ||
  fail "the agent did not validate the workload's own JWT-SVID"
echo "image-test.sh: server, agent and workload containers passed ($((SECONDS - start)) s)" >&2

# 6. Stop and remove (the trap stops dockerd and removes its data root).
SIGNET_NAME_PREFIX=signet-it- bash conf/docker/run.sh down
"$DOCKER" rmi "$image" "signet:${version%-*}" >/dev/null
image=""
echo "image-test.sh: passed ($((SECONDS - start)) s)" >&2
