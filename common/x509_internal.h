// Helpers shared by the X.509 core (common/x509.cc) and X.509 issuance
// (common/issuance/x509_issuer.cc). Not installed; not part of the client
// library's API.
#ifndef SIGNET_COMMON_X509_INTERNAL_H_
#define SIGNET_COMMON_X509_INTERNAL_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/openssl_util.h"
#include "common/spiffe_id.h"
#include "common/x509.h"

namespace signet {
namespace x509_internal {

// The longest CommonName X.520 allows (ub-common-name).
inline constexpr size_t kMaxCommonNameLength = 64;

// BuildName returns a name with O=`org` (when set) and CN=`cn` (when set and
// short enough). Internal on failure.
absl::StatusOr<X509NamePtr> BuildName(absl::string_view org, absl::string_view cn);

// BuildSans returns a GENERAL_NAMES with URI `uri` then DNS `dns_names`.
absl::StatusOr<GeneralNamesPtr> BuildSans(absl::string_view uri,
                                          const std::vector<std::string>& dns_names);

// DigestFor picks the signature digest for an issuer key: SHA-384 for P-384,
// SHA-256 otherwise.
const EVP_MD* DigestFor(const EVP_PKEY* key);

// Asn1TimeToTime converts an ASN.1 time; InfinitePast when it is unreadable.
absl::Time Asn1TimeToTime(const ASN1_TIME* t);

// CheckLeafProfile runs the leaf checks of an X.509-SVID (B1, B2, B4/B10,
// B6/B13) and returns its SPIFFE ID; InvalidArgument naming the defect.
absl::StatusOr<SpiffeId> CheckLeafProfile(const X509* cert);

}  // namespace x509_internal
}  // namespace signet

#endif  // SIGNET_COMMON_X509_INTERNAL_H_
