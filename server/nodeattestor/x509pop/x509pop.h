// Server side of the x509pop node attestor: chain verification against the
// configured CA bundle, proof of possession, agent ID and selectors as SPIRE's.
#ifndef SIGNET_SERVER_NODEATTESTOR_X509POP_X509POP_H_
#define SIGNET_SERVER_NODEATTESTOR_X509POP_X509POP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/openssl_util.h"
#include "signet/types.pb.h"

namespace signet::server {

struct X509PopIdentity {
  std::string fingerprint;  // sha1 hex of the leaf DER
  std::vector<signet::types::Selector> selectors;
  EvpPkeyPtr leaf_key;  // public key the challenge must be signed with
};

// Sha1Hex returns the lowercase hex SHA-1 of `data`.
std::string Sha1Hex(absl::string_view data);

// VerifyX509PopChain parses `chain_der` (concatenated DER, leaf first) and
// verifies it chains to one of `roots` at `now`. PermissionDenied
// "x509pop: certificate chain verification failed: ..." when it does not,
// InvalidArgument when it does not parse.
[[nodiscard]] absl::StatusOr<X509PopIdentity> VerifyX509PopChain(absl::string_view chain_der,
                                                                 const std::vector<X509Ptr>& roots,
                                                                 absl::Time now);

// VerifyChallengeSignature checks `signature` over `challenge` with `key`
// (ECDSA DER or RSA PKCS#1 v1.5, SHA-256). PermissionDenied
// "x509pop: challenge response verification failed" otherwise.
[[nodiscard]] absl::Status VerifyChallengeSignature(const EVP_PKEY* key,
                                                    absl::string_view challenge,
                                                    absl::string_view signature);

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_X509POP_X509POP_H_
