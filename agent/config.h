// signet-agent configuration (YAML, keys mirroring SPIRE's agent config).
#ifndef SIGNET_AGENT_CONFIG_H_
#define SIGNET_AGENT_CONFIG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/spiffe_id.h"

namespace signet::agent {

inline constexpr char kDefaultSocketPath[] = "/tmp/signet-agent/public/api.sock";
// SPIRE's default location of the agent's projected service-account token.
inline constexpr char kDefaultK8sPsatTokenPath[] = "/var/run/secrets/tokens/spire-agent";

// The problem reported for agent.admin_socket_path when it lies in the
// directory of socket_path (or below it), which workloads can reach.
inline constexpr char kAdminSocketSameDirError[] =
    "must be in a different directory from socket_path, not in it or below it "
    "(workloads can reach the Workload API socket's directory)";

struct AgentConfig {
  std::string config_path;
  std::string data_dir = "./.data";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string server_address;
  int server_port = 8081;
  std::string socket_path = kDefaultSocketPath;
  std::optional<TrustDomain> trust_domain;
  std::string trust_bundle_path;
  bool insecure_bootstrap = false;
  std::string join_token;
  // When set, the admin API (SPIRE's agent Debug API) is served there;
  // never in socket_path's directory.
  std::string admin_socket_path;
  // How long the selectors of a Workload API connection are reused for
  // further calls on it from the same, still running process; 0 attests
  // every call (as SPIRE does).
  absl::Duration selector_cache_ttl = absl::Seconds(1);
  // Workload API resource limits (SECURITY.md, "Agent resource limits").
  // Live connections in total and per caller uid; more are closed at once.
  int max_connections = 8192;
  int max_connections_per_uid = 1024;
  // A connection that has not sent the HTTP/2 preface within this time is
  // closed; one without calls for connection_idle_timeout is closed (GOAWAY).
  absl::Duration connection_preface_timeout = absl::Seconds(10);
  absl::Duration connection_idle_timeout = absl::Minutes(5);
  // Bytes of JWT-SVIDs (token and cache key) the agent keeps cached; the
  // least recently used are dropped beyond it.
  int64_t jwt_cache_max_bytes = 8 << 20;

  // plugins.NodeAttestor: a kind of agent/nodeattestor/registry.h; each
  // kind's settings below are read by its own folder.
  std::string node_attestor;
  std::string x509pop_private_key_path;
  std::string x509pop_certificate_path;
  std::string x509pop_intermediates_path;
  // k8s_psat: the cluster name the server knows this cluster by, and the
  // projected service-account token (audience spire-server) to present.
  std::string k8s_psat_cluster;
  std::string k8s_psat_token_path = kDefaultK8sPsatTokenPath;
  // plugins.KeyManager: "disk" (agent SVID and key persisted) or "memory".
  std::string key_manager = "disk";

  // plugins.WorkloadAttestor as read (checked by building it once); the
  // agent's wiring builds the catalog from it (AttestorCatalog::FromPlugins).
  std::shared_ptr<const YAML::Node> workload_attestor_plugins;
};

// LoadAgentConfig reads and checks `path`. `join_token_flag` (from
// -joinToken) overrides agent.join_token. Returns InvalidArgument listing
// every problem as "<file>:<line>: <key>: <problem>", NotFound when the file
// cannot be read.
[[nodiscard]] absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path,
                                                          const std::string& join_token_flag = "");

}  // namespace signet::agent

#endif  // SIGNET_AGENT_CONFIG_H_
