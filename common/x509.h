// X.509-SVIDs and CSRs (checklist B): parsing, encoding, CSR creation and
// SVID verification. Issuance (CAs, leaves, CSR signing) is in
// common/issuance/x509_issuer.h, which the client library does not link.
#ifndef SIGNET_COMMON_X509_H_
#define SIGNET_COMMON_X509_H_

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/openssl_util.h"
#include "common/spiffe_id.h"

namespace signet {

class BundleSet;

using X509NamePtr = std::unique_ptr<X509_NAME, OpensslDeleter<X509_NAME, X509_NAME_free>>;
using X509PubkeyPtr = std::unique_ptr<X509_PUBKEY, OpensslDeleter<X509_PUBKEY, X509_PUBKEY_free>>;

// How far NotBefore is set in the past to absorb clock skew.
inline constexpr absl::Duration kNotBeforeBackdate = absl::Seconds(10);

// CreateCsrDer returns a DER CSR signed by `key`; with `id` set it carries
// that URI SAN.
[[nodiscard]] absl::StatusOr<std::string> CreateCsrDer(const EVP_PKEY* key,
                                                       const SpiffeId* id = nullptr);

// Encoding.
[[nodiscard]] absl::StatusOr<std::string> CertToDer(const X509* cert);
[[nodiscard]] absl::StatusOr<std::string> CertToPem(const X509* cert);
[[nodiscard]] absl::StatusOr<X509Ptr> ParseCertDer(absl::string_view der);
// ParseCertsDer parses concatenated DER certificates (at least one).
[[nodiscard]] absl::StatusOr<std::vector<X509Ptr>> ParseCertsDer(absl::string_view der);
// ParseCertsPem parses every CERTIFICATE block (at least one).
[[nodiscard]] absl::StatusOr<std::vector<X509Ptr>> ParseCertsPem(absl::string_view pem);
// CopyCert returns another owning reference (X509_up_ref).
X509Ptr CopyCert(const X509* cert);

absl::Time CertNotBefore(const X509* cert);
absl::Time CertNotAfter(const X509* cert);
// CertSerialHex returns the serial number in lowercase hex.
std::string CertSerialHex(const X509* cert);
// CertIsCa reports basicConstraints cA=true.
bool CertIsCa(const X509* cert);

// SpiffeIdFromCert returns the SPIFFE ID of a certificate with exactly one URI
// SAN (B1). InvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<SpiffeId> SpiffeIdFromCert(const X509* cert);

// VerifyX509Svid validates `chain` (leaf first, then intermediates) at time
// `now` against the bundle of the leaf's trust domain in `bundles` (B12-B14):
// leaf checks B1, B2, B4, B6, B10/B13 then RFC 5280 path validation. Returns
// the leaf's SPIFFE ID, or PermissionDenied/InvalidArgument naming the defect
// (InvalidArgument for a malformed leaf, PermissionDenied for an untrusted one).
// Every X.509 authority of that one bundle is a trust anchor (self-signed or
// not, as in go-spiffe); certificates after the leaf are untrusted
// intermediates; X509_V_FLAG_X509_STRICT is on; EKU is not enforced.
[[nodiscard]] absl::StatusOr<SpiffeId> VerifyX509Svid(const std::vector<X509Ptr>& chain,
                                                      const BundleSet& bundles, absl::Time now);

}  // namespace signet

#endif  // SIGNET_COMMON_X509_H_
