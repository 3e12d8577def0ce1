// Fuzzes the server's selector parser (entry create -selector) and the
// validators applied to what it returns: an accepted selector prints back as
// itself, with no control or bidirectional formatting character.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/text.h"
#include "server/entry_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<signet::types::Selector> s = signet::server::ParseSelector(in);
  if (s.ok()) {
    if (s->type().empty() || s->value().empty()) abort();
    if (s->type() + ":" + s->value() != in) abort();
    // Nothing accepted needs escaping on a terminal.
    if (signet::EscapeForDisplay(in) != in) abort();
  }
  (void)signet::server::ValidateDnsName(in);
  (void)signet::server::ValidateWorkloadSpiffeId("spiffe_id", in,
                                                 *signet::TrustDomain::FromString("example.org"));
  return 0;
}
