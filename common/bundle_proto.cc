#include "common/bundle_proto.h"

#include <string>
#include <utility>

#include "common/keys.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet {

absl::StatusOr<Bundle> BundleFromProto(const signet::types::Bundle& b) {
  ASSIGN_OR_RETURN(TrustDomain td, TrustDomain::FromString(b.trust_domain()));
  Bundle out(td);
  for (const std::string& der : b.x509_authorities()) {
    ASSIGN_OR_RETURN(X509Ptr cert, ParseCertDer(der));
    out.AddX509Authority(std::move(cert));
  }
  for (const signet::types::JwtKey& k : b.jwt_authorities()) {
    ASSIGN_OR_RETURN(EvpPkeyPtr key, ParsePublicKeyDer(k.public_key()));
    out.AddJwtAuthority(k.key_id(), std::move(key));
  }
  if (b.sequence_number() != 0) out.set_sequence_number(b.sequence_number());
  if (b.refresh_hint() > 0) out.set_refresh_hint_seconds(b.refresh_hint());
  return out;
}

}  // namespace signet
