// OpenSSL TLS contexts that authenticate with the workload's current
// X.509-SVID and accept only peers whose X.509-SVID verifies against the
// bundle of the peer's own trust domain and passes an Authorizer.
#ifndef SIGNET_CLIENT_TLS_H_
#define SIGNET_CLIENT_TLS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/authorizer.h"
#include "client/workload_api.h"
#include "common/openssl_util.h"
#include "common/spiffe_id.h"

namespace signet::client {

// VerifyPeer verifies `chain` (leaf first) at `now` with VerifyX509Svid
// against the bundles of `bundles` (B12-B14), then applies `authorizer`.
// Returns the peer ID; PermissionDenied/InvalidArgument from verification,
// Unavailable when the source has no bundles, or the authorizer's status.
[[nodiscard]] absl::StatusOr<SpiffeId> VerifyPeer(const std::vector<X509Ptr>& chain,
                                                  const X509BundleSource& bundles,
                                                  const Authorizer& authorizer, absl::Time now);

// MakeTlsServerContext / MakeTlsClientContext return an SSL_CTX (TLS 1.2 or
// 1.3) that, at every handshake, presents the SVID `svids` holds at that
// moment (so rotations apply to new connections while established ones keep
// theirs), requires a peer certificate, verifies it with VerifyPeer and
// refuses the handshake on any failure. No host name checks; no session
// resumption (every connection is verified and authorized afresh).
// `svids` and `bundles` are borrowed: they must outlive the SSL_CTX and every
// SSL made from it. Internal on OpenSSL failures.
[[nodiscard]] absl::StatusOr<SslCtxPtr> MakeTlsServerContext(const X509SvidSource& svids,
                                                             const X509BundleSource& bundles,
                                                             Authorizer authorizer);
[[nodiscard]] absl::StatusOr<SslCtxPtr> MakeTlsClientContext(const X509SvidSource& svids,
                                                             const X509BundleSource& bundles,
                                                             Authorizer authorizer);

// PeerSpiffeId returns the peer ID accepted during `ssl`'s handshake;
// FailedPrecondition when no peer was accepted (yet).
[[nodiscard]] absl::StatusOr<SpiffeId> PeerSpiffeId(const SSL* ssl);

// PeerVerificationStatus returns why our side refused the peer of `ssl`
// (the verification or authorizer status), OK when it was accepted, and
// FailedPrecondition when no peer certificate was checked.
absl::Status PeerVerificationStatus(const SSL* ssl);

}  // namespace signet::client

#endif  // SIGNET_CLIENT_TLS_H_
