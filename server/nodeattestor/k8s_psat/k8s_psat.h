// Server side of the k8s_psat node attestor (SPIRE's): the agent presents
// its projected service-account token; the kube-apiserver's TokenReview
// says whom it belongs to; the pod and node are then read from the apiserver.
// Agent ID: spiffe://<td>/spire/agent/k8s_psat/<cluster>/<node-uid>.
//
// Standalone: the apiserver is reached through an injected transport, so
// this module has no HTTP dependency; the server wires a libcurl transport
// (POST/GET https://<apiserver>/..., Bearer = the server's own token, CA =
// the cluster CA).
#ifndef SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_H_
#define SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/spiffe_id.h"
#include "signet/types.pb.h"

namespace signet::server {

struct KubeApiResponse {
  long status = 0;
  std::string body;
};

// KubeApiTransport sends one request to a cluster's apiserver: `method`
// ("GET"/"POST"), `path` ("/apis/authentication.k8s.io/v1/tokenreviews"),
// JSON `body`. Transport failures are returned as errors; any HTTP status
// is a response.
using KubeApiTransport = std::function<absl::StatusOr<KubeApiResponse>(
    const std::string& method, const std::string& path, const std::string& body)>;

struct K8sPsatClusterConfig {
  // Service accounts allowed to attest, "<namespace>:<name>".
  std::vector<std::string> service_account_allow_list;
  // Audiences the token must be valid for.
  std::vector<std::string> audience = {"spire-server"};
  // Node and pod label keys turned into selectors.
  std::vector<std::string> allowed_node_label_keys;
  std::vector<std::string> allowed_pod_label_keys;
  KubeApiTransport transport;
};

struct K8sPsatResult {
  SpiffeId agent_id;
  std::vector<signet::types::Selector> selectors;
};

// K8sPsatVerifier verifies k8s_psat attestation payloads. Thread-safe if
// the transports are.
class K8sPsatVerifier {
 public:
  // Create checks every cluster has a transport, a non-empty allow list of
  // "ns:name" entries and at least one audience; InvalidArgument otherwise.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<K8sPsatVerifier>> Create(
      TrustDomain td, std::map<std::string, K8sPsatClusterConfig> clusters);

  // Attest verifies `payload` ({"cluster": "...", "token": "..."}, as the
  // SPIRE agent sends it) and returns the agent ID and the k8s_psat:*
  // selectors (cluster, agent_ns, agent_sa, agent_pod_name, agent_pod_uid,
  // agent_node_ip, agent_node_name, agent_node_uid, agent_node_label,
  // agent_pod_label). Errors: InvalidArgument (malformed payload),
  // PermissionDenied (unknown cluster, token not authenticated or not for
  // our audience, service account not allowed, not a pod-bound token, pod
  // UID mismatch), Unavailable/Internal (apiserver unreachable or answering
  // other than 200/201, malformed answers).
  [[nodiscard]] absl::StatusOr<K8sPsatResult> Attest(absl::string_view payload) const;

 private:
  K8sPsatVerifier(TrustDomain td, std::map<std::string, K8sPsatClusterConfig> clusters)
      : td_(std::move(td)), clusters_(std::move(clusters)) {}

  const TrustDomain td_;
  const std::map<std::string, K8sPsatClusterConfig> clusters_;
};

// K8sPsatPayload returns the agent's attestation payload for `cluster` and
// `token` (JSON, as SPIRE's agent plugin sends it).
std::string K8sPsatPayload(absl::string_view cluster, absl::string_view token);

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_H_
