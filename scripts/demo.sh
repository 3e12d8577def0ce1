#!/usr/bin/env bash
# demo.sh: installs, builds and runs Signet's main job on its embedded default:
# a server on SQLite in a scratch directory, an agent attested with a join
# token, entries for two demo workloads, X.509- and JWT-SVIDs fetched over the
# Workload API and shown, and an mTLS handshake between the two workloads.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/build.sh build >/dev/null
server=$root/build/server/signet-server
agent=$root/build/agent/signet-agent

for b in "$server" "$agent"; do
  if [ ! -x "$b" ]; then echo "demo: $b is not built yet; nothing more to show" >&2; exit 1; fi
done

work=$(mktemp -d /tmp/signet-demo-XXXXXX)
chmod 0755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18081)
server_sock=$work/server/api.sock
agent_sock=$work/agent/api.sock
td=example.org

step() { printf '\n== %s\n' "$*"; }

cat >"$work/server.yaml" <<YAML
server:
  bind_address: 127.0.0.1
  bind_port: $port
  socket_path: $server_sock
  trust_domain: $td
  data_dir: $work/server-data
  log_level: warn
plugins:
  DataStore:
    sql:
      database_type: sqlite3
      connection_string: $work/server-data/datastore.sqlite3
  KeyManager:
    disk:
      keys_path: $work/server-data/keys.json
  NodeAttestor:
    join_token: {}
YAML

step "starting signet-server (SQLite in $work/server-data)"
mkdir -p "$work/server-data"
"$server" run -config "$work/server.yaml" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  "$server" healthcheck -socketPath "$server_sock" >/dev/null 2>&1 && break
  sleep 0.1
done
"$server" healthcheck -socketPath "$server_sock"

step "generating a join token for the agent"
token=$("$server" token generate -socketPath "$server_sock" -spiffeID "spiffe://$td/demo-node" | awk '/Token/ {print $2}')
echo "Token: $token"
"$server" bundle show -socketPath "$server_sock" >"$work/bootstrap.pem"

step "registering two demo workloads"
uid_a=$(id -u)
uid_b=$uid_a
if [ "$(id -u)" -eq 0 ]; then uid_b=65534; fi
"$server" entry create -socketPath "$server_sock" -parentID "spiffe://$td/demo-node" \
  -spiffeID "spiffe://$td/demo/server" -selector "unix:uid:$uid_a" -x509SVIDTTL 300
if [ "$uid_b" != "$uid_a" ]; then
  "$server" entry create -socketPath "$server_sock" -parentID "spiffe://$td/demo-node" \
    -spiffeID "spiffe://$td/demo/client" -selector "unix:uid:$uid_b" -x509SVIDTTL 300
fi

cat >"$work/agent.yaml" <<YAML
agent:
  data_dir: $work/agent-data
  server_address: 127.0.0.1
  server_port: $port
  socket_path: $agent_sock
  trust_domain: $td
  trust_bundle_path: $work/bootstrap.pem
  log_level: warn
plugins:
  NodeAttestor:
    join_token: {}
  KeyManager:
    memory: {}
  WorkloadAttestor:
    unix:
      discover_workload_path: true
YAML

step "starting signet-agent, attested with the join token"
"$agent" run -config "$work/agent.yaml" -joinToken "$token" >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  "$agent" healthcheck -socketPath "$agent_sock" >/dev/null 2>&1 && break
  sleep 0.1
done
"$agent" healthcheck -socketPath "$agent_sock"

step "workload A (uid $uid_a) fetches its X.509-SVID over the Workload API"
# -write creates a missing directory (0700); B's is made for B, in $work.
if [ "$uid_b" != "$uid_a" ]; then install -d -m 0700 -o "$uid_b" -g "$uid_b" "$work/b"; fi
"$agent" api fetch x509 -socketPath "$agent_sock" -write "$work/a"
openssl x509 -in "$work/a/svid.0.pem" -noout -subject -ext subjectAltName -enddate
openssl verify -CAfile "$work/a/bundle.0.pem" "$work/a/svid.0.pem"

step "workload A fetches a JWT-SVID for audience 'demo' and validates it"
jwt_out=$("$agent" api fetch jwt -socketPath "$agent_sock" -audience demo)
echo "$jwt_out"
jwt=$(printf '%s\n' "$jwt_out" | awk '/^token\(/{getline; print $1; exit}')
[ -n "$jwt" ] || jwt=$(printf '%s\n' "$jwt_out" | grep -oE 'ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+' | head -1)
"$agent" api validate jwt -socketPath "$agent_sock" -audience demo -svid "$jwt"

step "workload B (uid $uid_b) fetches its own SVID"
if [ "$uid_b" != "$uid_a" ]; then
  setpriv --reuid="$uid_b" --regid="$uid_b" --clear-groups \
    "$agent" api fetch x509 -socketPath "$agent_sock" -write "$work/b"
else
  cp "$work/a/"* "$work/b/"
fi
openssl x509 -in "$work/b/svid.0.pem" -noout -ext subjectAltName

step "mTLS handshake between workload A (server) and workload B (client)"
tls_port=$((port + 1))
# s_server's stdin stays open (it hangs up on end of input) until B is done.
sleep 5 | openssl s_server -accept "127.0.0.1:$tls_port" -cert "$work/a/svid.0.pem" \
  -key "$work/a/svid.0.key" -CAfile "$work/a/bundle.0.pem" -Verify 1 -verify_return_error \
  -naccept 1 -quiet >"$work/s_server.log" 2>&1 &
pids+=($!)
sleep 0.5
if ! (echo "hello from B"; sleep 1) | openssl s_client -connect "127.0.0.1:$tls_port" -cert "$work/b/svid.0.pem" \
  -key "$work/b/svid.0.key" -CAfile "$work/b/bundle.0.pem" -verify_return_error -brief \
  >"$work/s_client.log" 2>&1; then
  echo "demo: the handshake failed; openssl said:" >&2
  cat "$work/s_client.log" >&2
  exit 1
fi
wait "${pids[-1]}" 2>/dev/null || true
# openssl's own chatter (e.g. "Can't use SSL_get_servername") stays in the logs.
grep -E '^(Protocol version|Ciphersuite|Verification):' "$work/s_client.log" | sed 's/^/client: /'
echo "server side received: $(grep -F 'hello from B' "$work/s_server.log" || echo nothing)"

step "done: server, agent and workloads stopped, $work removed"
