// The agent side of node attestation: one NodeAttestor per plugin kind
// (join_token, x509pop, k8s_psat, ...), each in its own folder beside this
// header, listed in registry.h's table. AttestAgent (node_client.h) keeps
// the protocol; a NodeAttestor only produces the data and the answers.
#ifndef SIGNET_AGENT_NODEATTESTOR_NODE_ATTESTOR_H_
#define SIGNET_AGENT_NODEATTESTOR_NODE_ATTESTOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet::agent {

// NodeAttestor produces one attestation's data. Used by one attestation at
// a time (not thread-safe).
class NodeAttestor {
 public:
  virtual ~NodeAttestor() = default;
  // Payload returns the attestation data sent with the CSR (its type is the
  // kind's name). Errors (unreadable key or token, ...) end the attestation
  // before the server is contacted.
  [[nodiscard]] virtual absl::StatusOr<std::string> Payload() = 0;
  // AnswerChallenge returns the answer to the server's `challenge`.
  // Internal "server sent an unexpected challenge" for kinds without one.
  [[nodiscard]] virtual absl::StatusOr<std::string> AnswerChallenge(
      absl::string_view challenge) = 0;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_NODEATTESTOR_NODE_ATTESTOR_H_
