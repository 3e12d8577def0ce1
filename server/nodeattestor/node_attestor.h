// The server side of node attestation: one NodeAttestor per plugin kind
// (join_token, x509pop, k8s_psat, ...), each in its own folder beside this
// header, listed in registry.h's table. NodeService keeps the protocol
// (stream, size caps, deadline); a NodeAttestor only verifies.
#ifndef SIGNET_SERVER_NODEATTESTOR_NODE_ATTESTOR_H_
#define SIGNET_SERVER_NODEATTESTOR_NODE_ATTESTOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/spiffe_id.h"
#include "signet/types.pb.h"

namespace signet::server {

// ChallengeResponder is the attestation stream as a NodeAttestor sees it.
class ChallengeResponder {
 public:
  virtual ~ChallengeResponder() = default;
  // Challenge sends `challenge` to the agent and returns its answer.
  // Unavailable when the agent went away, InvalidArgument "missing challenge
  // response" when it sent something else, ResourceExhausted when its
  // answer is over the attestation message limit.
  [[nodiscard]] virtual absl::StatusOr<std::string> Challenge(absl::string_view challenge) = 0;
};

// AttestationResult is what a verified attestation proves.
struct AttestationResult {
  SpiffeId agent_id;  // spiffe://<td>/spire/agent/<type>/...
  std::vector<signet::types::Selector> selectors;
  // When not empty, a registration entry with this SPIFFE ID is created
  // under the agent (join_token's -spiffeID).
  std::string alias_spiffe_id;
};

// NodeAttestor verifies one kind of attestation data. Implementations are
// thread-safe: Attest runs concurrently for different agents.
class NodeAttestor {
 public:
  virtual ~NodeAttestor() = default;
  // Attest verifies `payload` (the agent's attestation data, at most
  // kMaxAttestMessageBytes), asking `responder` for challenge answers when
  // the kind needs proof of possession. Errors carry the code the agent
  // sees: InvalidArgument for malformed data, PermissionDenied when the
  // data does not prove an identity, Unavailable/Internal when a backend
  // failed.
  [[nodiscard]] virtual absl::StatusOr<AttestationResult> Attest(
      absl::string_view payload, ChallengeResponder& responder) const = 0;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_NODE_ATTESTOR_H_
