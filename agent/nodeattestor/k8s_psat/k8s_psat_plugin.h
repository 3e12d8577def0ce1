// The agent's k8s_psat node attestor kind: sends the cluster name and the
// projected service-account token, re-read on every attestation.
#ifndef SIGNET_AGENT_NODEATTESTOR_K8S_PSAT_K8S_PSAT_PLUGIN_H_
#define SIGNET_AGENT_NODEATTESTOR_K8S_PSAT_K8S_PSAT_PLUGIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/nodeattestor/registry.h"

namespace signet::agent {

// K8sPsatNodeAttestor returns the k8s_psat kind.
NodeAttestorPlugin K8sPsatNodeAttestor();

// K8sPsatPayload returns the k8s_psat attestation payload for `cluster` and
// the projected service-account `token`: {"cluster":"...","token":"..."}
// (what SPIRE's agent plugin sends and the server's K8sPsatVerifier reads).
std::string K8sPsatPayload(absl::string_view cluster, absl::string_view token);

// ReadK8sPsatToken returns the token in `path` without surrounding
// whitespace. FailedPrecondition "k8s_psat: cannot read token ..." when it
// cannot be read or is empty (it is re-read on every attestation: the
// kubelet rotates it).
[[nodiscard]] absl::StatusOr<std::string> ReadK8sPsatToken(const std::string& path);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_NODEATTESTOR_K8S_PSAT_K8S_PSAT_PLUGIN_H_
