// Fuzzes SPIFFE bundle (JWKS) parsing; a parsed bundle must serialize and
// parse back to the same authorities.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const signet::TrustDomain td = *signet::TrustDomain::FromString("example.org");
  std::string json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<signet::Bundle> b = signet::Bundle::ParseJwks(td, json);
  if (b.ok()) {
    absl::StatusOr<signet::Bundle> again = signet::Bundle::ParseJwks(td, b->ToJwks());
    if (!again.ok() || !again->SameAuthorities(*b)) abort();
    (void)b->ToJwtJwks();
  }
  (void)signet::Bundle::FromX509Pem(td, json);
  (void)signet::Bundle::FromX509Der(td, json);
  return 0;
}
