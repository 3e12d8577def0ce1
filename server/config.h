// signet-server configuration: YAML whose keys mirror SPIRE's server config.
#ifndef SIGNET_SERVER_CONFIG_H_
#define SIGNET_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/keys.h"
#include "server/nodeattestor/k8s_psat/k8s_psat_config.h"

namespace signet::server {

inline constexpr char kDefaultAdminSocketPath[] = "/tmp/signet-server/private/api.sock";

struct HealthChecksConfig {
  bool listener_enabled = false;
  std::string bind_address = "localhost";
  int bind_port = 80;
  std::string live_path = "/live";
  std::string ready_path = "/ready";
};

struct CaSubject {
  std::string country;
  std::string organization = "SPIFFE";
  std::string common_name;
};

struct ServerConfig {
  std::string config_path;
  // server:
  std::string bind_address = "0.0.0.0";
  int bind_port = 8081;
  std::string socket_path = kDefaultAdminSocketPath;
  std::string trust_domain;  // required
  std::string data_dir;      // required
  std::string log_level = "info";
  std::string log_format = "text";
  KeyType ca_key_type = KeyType::kEcP256;
  absl::Duration ca_ttl = absl::Hours(24);
  CaSubject ca_subject;
  KeyType jwt_key_type = KeyType::kEcP256;
  std::string jwt_issuer;
  absl::Duration default_x509_svid_ttl = absl::Hours(1);
  absl::Duration default_jwt_svid_ttl = absl::Minutes(5);
  absl::Duration agent_ttl = absl::ZeroDuration();  // zero: default_x509_svid_ttl
  bool audit_log_enabled = false;
  HealthChecksConfig health_checks;
  // Node API before authentication (SECURITY.md, "Server Node API before
  // authentication"): how many Attest streams may run at once, how long one
  // may take, and how long a connection may take to finish its TLS handshake.
  int attestation_max_concurrent = 32;
  absl::Duration attestation_timeout = absl::Seconds(30);
  absl::Duration tls_handshake_timeout = absl::Seconds(10);
  // Memory gRPC may hold for the Node API's connections (read buffers and
  // received messages of every peer, authenticated or not); past it, gRPC
  // cancels streams and closes connections instead of growing.
  int node_api_memory_limit_mb = 32;
  // plugins:
  std::string datastore_type = "sqlite3";  // "sqlite3" | "memory"
  std::string datastore_connection_string;
  std::string key_manager = "disk";  // "disk" | "memory"
  std::string keys_path;             // disk: directory of key files
  // plugins.NodeAttestor: the configured kinds, in registry order; each
  // kind's settings below are read by its own folder (nodeattestor/).
  std::vector<std::string> node_attestors;
  bool join_token_enabled = false;
  bool x509pop_enabled = false;
  std::string x509pop_ca_bundle_path;
  bool k8s_psat_enabled = false;
  K8sPsatConfig k8s_psat;  // plugins.NodeAttestor.k8s_psat
  // Set by `run -allowNewCA` only (no config key, so it does not outlive one
  // deliberate start): the server may start a new CA over existing CA state
  // (key files next to an empty datastore, unusable or missing key files).
  bool allow_new_ca = false;

  // EffectiveAgentTtl returns agent_ttl, or default_x509_svid_ttl when unset.
  absl::Duration EffectiveAgentTtl() const {
    return agent_ttl > absl::ZeroDuration() ? agent_ttl : default_x509_svid_ttl;
  }
};

// LoadServerConfig reads and validates `path`. Returns NotFound when the file
// cannot be read, or InvalidArgument listing every problem as
// "<file>:<line>: <key>: <problem>", one per line.
[[nodiscard]] absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path);

// ParseServerConfigYaml is LoadServerConfig on YAML text; `file` names it in
// messages. Same errors.
[[nodiscard]] absl::StatusOr<ServerConfig> ParseServerConfigYaml(const std::string& yaml,
                                                                 const std::string& file);

}  // namespace signet::server

#endif  // SIGNET_SERVER_CONFIG_H_
