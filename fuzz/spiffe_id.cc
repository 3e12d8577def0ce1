// Fuzzes SPIFFE ID and trust domain parsing: whatever parses must print back
// to the same string and parse again to an equal value.
#include "common/spiffe_id.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<signet::SpiffeId> id = signet::SpiffeId::FromString(in);
  if (id.ok()) {
    // A strict parser accepts only the normalized form.
    if (id->ToString() != in) abort();
    absl::StatusOr<signet::SpiffeId> again = signet::SpiffeId::FromString(id->ToString());
    if (!again.ok() || !(*again == *id)) abort();
  }
  absl::StatusOr<signet::TrustDomain> td = signet::TrustDomain::FromString(in);
  if (td.ok()) {
    absl::StatusOr<signet::TrustDomain> again = signet::TrustDomain::FromString(td->IdString());
    if (!again.ok() || *again != *td) abort();
  }
  (void)signet::ValidatePath(in);
  return 0;
}
