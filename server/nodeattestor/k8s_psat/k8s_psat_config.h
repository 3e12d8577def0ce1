// Configuration of the server's k8s_psat node attestor, with SPIRE's keys:
//
//   NodeAttestor:
//     k8s_psat:
//       plugin_data:
//         clusters:
//           <cluster name>:
//             service_account_allow_list: ["spire:spire-agent"]
//             audience: ["spire-server"]          # default
//             allowed_node_label_keys: []
//             allowed_pod_label_keys: []
//             kube_config_file: ""                # optional
//             # Signet additions (else kubeconfig / in-cluster defaults):
//             api_server_url: "https://10.96.0.1:443"
//             ca_path: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
//             token_path: "/var/run/secrets/kubernetes.io/serviceaccount/token"
//             request_timeout: "10s"
#ifndef SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_CONFIG_H_
#define SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_CONFIG_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/spiffe_id.h"
#include "server/nodeattestor/k8s_psat/k8s_psat.h"
#include "server/nodeattestor/k8s_psat/kube_api_client.h"

namespace signet::server {

struct K8sPsatClusterSettings {
  std::vector<std::string> service_account_allow_list;
  std::vector<std::string> audience = {"spire-server"};
  std::vector<std::string> allowed_node_label_keys;
  std::vector<std::string> allowed_pod_label_keys;
  KubeApiClientConfig api;  // unresolved: empty fields mean defaults
};

// K8sPsatConfig is the parsed plugin_data of k8s_psat (plain data, copyable).
struct K8sPsatConfig {
  std::map<std::string, K8sPsatClusterSettings> clusters;
};

// ParseK8sPsatConfig reads a k8s_psat plugin_data section. Problems (no
// clusters, empty or malformed allow list, empty audience, bad duration,
// unknown keys) are recorded in the section's ConfigErrors with file and
// line; no files are read here. Each cluster's mapping is Finish()ed; `data`
// itself is left to the caller to Finish() (the server's ReadPlugin does),
// so unknown keys beside "clusters" are reported once.
K8sPsatConfig ParseK8sPsatConfig(ConfigSection& data);

// NewK8sPsatVerifier resolves each cluster's apiserver settings (kubeconfig,
// then in-cluster defaults read through `env`; the process environment when
// null) and builds the verifier with libcurl HTTPS transports. Errors name
// the cluster: InvalidArgument (no apiserver URL, malformed kubeconfig, bad
// allow list), NotFound (kubeconfig unreadable), FailedPrecondition (token or
// CA file unreadable).
[[nodiscard]] absl::StatusOr<std::unique_ptr<K8sPsatVerifier>> NewK8sPsatVerifier(
    const TrustDomain& td, const K8sPsatConfig& config, const EnvLookup& env = nullptr);

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_CONFIG_H_
