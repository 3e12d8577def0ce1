// The agent's side of the server protocol (signet.agent.Node): TLS channels
// that pin the server's SPIFFE ID, node attestation, proto conversions.
#ifndef SIGNET_AGENT_NODE_CLIENT_H_
#define SIGNET_AGENT_NODE_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/config.h"
#include "common/bundle.h"
#include "common/openssl_util.h"
#include "signet/agent.grpc.pb.h"

namespace signet::agent {

// AgentIdentity is the agent's own X.509-SVID and key.
struct AgentIdentity {
  std::vector<X509Ptr> chain;  // leaf first
  EvpPkeyPtr key;
};

// kServerClockSkewLeeway is how far ahead of this node's clock the server's
// clock may be: a server certificate whose NotBefore is at most this far in
// the future is accepted (issue: clock skew of +-5 minutes is tolerated).
inline constexpr absl::Duration kServerClockSkewLeeway = absl::Minutes(5);

// ServerSpiffeId returns "spiffe://<td>/spire/server".
std::string ServerSpiffeId(const TrustDomain& td);

// ServerChannelCredentials returns TLS credentials that trust `bundle`'s
// X.509 authorities (or, when `bundle` is null, any certificate chain:
// insecure bootstrap), require the server's URI SAN to be
// ServerSpiffeId(td), and present `identity` when not null.
// FailedPrecondition when `bundle` holds no X.509 authority, InvalidArgument
// when `identity` lacks its certificate or key, Internal when gRPC cannot
// build the credentials. No argument reaches one of gRPC's assertions.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ServerChannelCredentials(
    const TrustDomain& td, const Bundle* bundle, const AgentIdentity* identity);

// NewServerChannel returns a channel to `target` with
// ServerChannelCredentials(td, bundle, identity), or its error.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::Channel>> NewServerChannel(
    const std::string& target, const TrustDomain& td, const Bundle* bundle,
    const AgentIdentity* identity);

// ChainFromProto parses an X509Svid's certificate chain (at least one).
[[nodiscard]] absl::StatusOr<std::vector<X509Ptr>> ChainFromProto(
    const signet::types::X509Svid& svid);

struct AttestOutcome {
  std::vector<X509Ptr> chain;
  Bundle bundle;
};

// AttestAgent runs node attestation with the configured NodeAttestor over
// `stub`, asking for an agent SVID for `agent_key`. Returns the server's
// status (PermissionDenied for a refused token, ...) or Internal for a
// malformed answer.
[[nodiscard]] absl::StatusOr<AttestOutcome> AttestAgent(signet::agent::Node::Stub* stub,
                                                        const AgentConfig& config,
                                                        const EVP_PKEY* agent_key);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_NODE_CLIENT_H_
