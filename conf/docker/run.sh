#!/usr/bin/env bash
# conf/docker/run.sh up|down: Signet on one Docker host, without compose.
#
#   up    starts container signet-server (packaged /etc/signet/server.yaml,
#         data in volume signet-server-data), exports its trust bundle,
#         generates a join token and starts container signet-agent (root, host
#         PID namespace, data in volume signet-agent-data) whose Workload API
#         socket directory is the host directory $SIGNET_SOCKET_DIR; then
#         prints how a workload container reaches it.
#   down  removes both containers (the volumes stay: `docker volume rm
#         signet-server-data signet-agent-data` to forget the CA and entries).
#
# Environment:
#   SIGNET_IMAGE       image (default signet:<version from CMakeLists.txt>, as
#                      scripts/image.sh tags it)
#   SIGNET_SOCKET_DIR  host directory shared with workloads
#                      (default /run/signet-docker/agent)
#   SIGNET_STATE_DIR   host directory for the exported bundle
#                      (default /run/signet-docker)
#   SIGNET_NETWORK     host (default): both containers in the host's network,
#                      the server listening on port 8081 for agents of other
#                      hosts too; private: the server has only a loopback
#                      interface of its own and the agent shares it (one host,
#                      no port opened; used by scripts/image-test.sh)
#   SIGNET_NAME_PREFIX prefix of the container and volume names (default
#                      signet-)
#   DOCKER             docker CLI (default docker)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^project(Signet VERSION \([0-9.]*\).*/\1/p' "$here/../../CMakeLists.txt")
image=${SIGNET_IMAGE:-signet:$version}
socket_dir=${SIGNET_SOCKET_DIR:-/run/signet-docker/agent}
state_dir=${SIGNET_STATE_DIR:-/run/signet-docker}
network=${SIGNET_NETWORK:-host}
prefix=${SIGNET_NAME_PREFIX:-signet-}
docker=${DOCKER:-docker}
server=${prefix}server
agent=${prefix}agent
sock=/run/signet/server/api.sock

srv() { "$docker" exec "$server" signet-server "$@" -socketPath "$sock"; }
wait_for() {  # wait_for WHAT CMD...: retries CMD for up to 60 s
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "run.sh: $what not ready within 60 s" >&2
  return 1
}

case "${1:-}" in
  up)
    case "$network" in
      host) server_net=(--network host); agent_net=(--network host) ;;
      private) server_net=(--network none); agent_net=(--network "container:$server") ;;
      *) echo "run.sh: SIGNET_NETWORK must be host or private" >&2; exit 2 ;;
    esac
    "$docker" run -d --name "$server" --restart unless-stopped "${server_net[@]}" \
      -v "${prefix}server-data:/var/lib/signet/server" \
      "$image" signet-server run -config /etc/signet/server.yaml >/dev/null
    wait_for "signet-server" srv healthcheck
    mkdir -p "$state_dir" "$socket_dir"
    chmod 0755 "$socket_dir"
    srv bundle show >"$state_dir/bundle.crt"
    token=$(srv token generate | sed -n 's/^Token: //p')
    # The agent runs as root in the host's PID namespace: it attests callers
    # by reading /proc/<pid> of processes in other containers, and needs
    # CAP_SYS_PTRACE (not in Docker's default set) to read the executable
    # (/proc/<pid>/exe) of another user's process: unix:path, unix:sha256.
    "$docker" run -d --name "$agent" --restart unless-stopped "${agent_net[@]}" \
      --pid host --user 0 --cap-add SYS_PTRACE \
      -v "$state_dir/bundle.crt:/etc/signet/bundle.crt:ro" \
      -v "$socket_dir:/run/signet/agent/public" \
      -v "${prefix}agent-data:/var/lib/signet/agent" \
      "$image" signet-agent run -config /etc/signet/agent.yaml -joinToken "$token" >/dev/null
    wait_for "signet-agent" "$docker" exec "$agent" signet-agent healthcheck \
      -socketPath /run/signet/agent/public/api.sock
    echo "agent SPIFFE ID: spiffe://example.org/spire/agent/join_token/$token"
    cat <<MSG
Register a workload (here: any process of uid 1000) and fetch its SVID:
  $docker exec $server signet-server entry create -socketPath $sock \\
    -parentID spiffe://example.org/spire/agent/join_token/$token \\
    -spiffeID spiffe://example.org/myservice -selector unix:uid:1000
  $docker run --rm --user 1000 -v $socket_dir:/run/signet/agent/public:ro $image \\
    signet-agent api fetch x509 -socketPath /run/signet/agent/public/api.sock
MSG
    ;;
  down)
    "$docker" rm -f "$agent" "$server" >/dev/null
    ;;
  *)
    echo "usage: conf/docker/run.sh up|down" >&2
    exit 2
    ;;
esac
