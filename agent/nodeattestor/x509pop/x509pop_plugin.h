// The agent's x509pop node attestor kind: sends its certificate chain and
// signs the server's challenge with the chain's key.
#ifndef SIGNET_AGENT_NODEATTESTOR_X509POP_X509POP_PLUGIN_H_
#define SIGNET_AGENT_NODEATTESTOR_X509POP_X509POP_PLUGIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/nodeattestor/registry.h"
#include "common/openssl_util.h"

namespace signet::agent {

// X509PopNodeAttestor returns the x509pop kind.
NodeAttestorPlugin X509PopNodeAttestor();

// SignChallenge signs `challenge` with SHA-256 (ECDSA DER or RSA PKCS#1 v1.5)
// as the x509pop protocol requires.
[[nodiscard]] absl::StatusOr<std::string> SignChallenge(const EVP_PKEY* key,
                                                        absl::string_view challenge);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_NODEATTESTOR_X509POP_X509POP_PLUGIN_H_
