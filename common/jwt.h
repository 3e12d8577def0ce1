// JWT-SVIDs (checklist C): signing and validation.
#ifndef SIGNET_COMMON_JWT_H_
#define SIGNET_COMMON_JWT_H_

#include <google/protobuf/struct.pb.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/openssl_util.h"
#include "common/spiffe_id.h"

namespace signet {

class BundleSet;

// Most clock skew tolerated when checking exp/nbf/iat.
inline constexpr absl::Duration kJwtLeeway = absl::Seconds(30);

// Bounds on the audiences of a JWT-SVID request, enforced by the agent's
// Workload API and again by the server (the agent is less trusted): at most
// kMaxJwtAudiences values of at most kMaxJwtAudienceBytes each. Real
// audiences are a few URLs or names.
inline constexpr int kMaxJwtAudiences = 32;
inline constexpr size_t kMaxJwtAudienceBytes = 1024;

// CheckJwtAudienceLimits returns InvalidArgument naming the bound when
// `audience` (a container of strings) has too many values or a value that is
// too long.
template <typename Container>
[[nodiscard]] absl::Status CheckJwtAudienceLimits(const Container& audience) {
  const int n = static_cast<int>(audience.size());
  if (n > kMaxJwtAudiences) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many audiences: ", n, " (at most ", kMaxJwtAudiences, ")"));
  }
  int i = 0;
  for (const auto& a : audience) {
    if (a.size() > kMaxJwtAudienceBytes) {
      return absl::InvalidArgumentError(absl::StrCat("audience ", i, " is too long: ", a.size(),
                                                     " bytes (at most ", kMaxJwtAudienceBytes,
                                                     ")"));
    }
    ++i;
  }
  return absl::OkStatus();
}

struct JwtSvidParams {
  SpiffeId subject;
  std::vector<std::string> audience;  // at least one
  absl::Time issued_at;
  absl::Time expires_at;
  std::string issuer;  // optional "iss"
};

// SignJwtSvid returns a compact JWS with header {alg, kid, typ:"JWT"} where alg
// follows the key (ES256 for P-256, ES384 for P-384, RS256 for RSA) and claims
// sub, aud, exp, iat (and iss when set). ECDSA signatures are JOSE raw r||s.
[[nodiscard]] absl::StatusOr<std::string> SignJwtSvid(const EVP_PKEY* key, absl::string_view kid,
                                                      const JwtSvidParams& p);

// SignCompactJws returns "<b64url(header_json)>.<b64url(payload_json)>.<sig>"
// signed with `key` using JWS algorithm `alg` (RS256/384/512, PS256/384/512,
// ES256/384/512; ECDSA signatures as raw r||s). The JSON texts are used as
// given and not checked (tests and tools build unusual tokens with it).
// InvalidArgument for an unknown alg or one that does not fit the key.
[[nodiscard]] absl::StatusOr<std::string> SignCompactJws(const EVP_PKEY* key, absl::string_view alg,
                                                         absl::string_view header_json,
                                                         absl::string_view payload_json);

struct JwtSvid {
  SpiffeId subject;
  std::vector<std::string> audience;
  absl::Time expires_at;
  std::string key_id;
  std::string algorithm;
  google::protobuf::Struct claims;  // every claim of the payload
};

// ParseJwtSvidInsecure parses and checks a JWT-SVID without its signature:
// C1 compact form, C3/C4 alg allowlist first, C2 header members, C6 typ, C7
// sub, C8 aud contains one of `audiences`, C9 exp, C10 nbf/iat not in the
// future beyond kJwtLeeway. InvalidArgument naming the defect.
[[nodiscard]] absl::StatusOr<JwtSvid> ParseJwtSvidInsecure(
    absl::string_view token, const std::vector<std::string>& audiences, absl::Time now);

// ValidateJwtSvid does what ParseJwtSvidInsecure does and verifies the
// signature with the key named by `kid` in the bundle of sub's trust domain
// (C5, C12). InvalidArgument naming the defect.
[[nodiscard]] absl::StatusOr<JwtSvid> ValidateJwtSvid(absl::string_view token,
                                                      const BundleSet& bundles,
                                                      absl::string_view audience, absl::Time now);

}  // namespace signet

#endif  // SIGNET_COMMON_JWT_H_
