// Validation of admin input: registration entries, selectors, DNS names, TTLs
// and paging. Messages name the offending field.
#ifndef SIGNET_SERVER_ENTRY_VALIDATION_H_
#define SIGNET_SERVER_ENTRY_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/spiffe_id.h"
#include "signet/types.pb.h"

namespace signet::server {

inline constexpr size_t kMaxHintBytes = 1024;
inline constexpr int32_t kMaxPageSize = 1000;
inline constexpr int kMaxSelectors = 64;
inline constexpr int kMaxDnsNames = 64;
// The latest entry_expiry accepted: 9999-12-31T23:59:59Z, the last instant an
// X.509 GeneralizedTime (RFC 5280) can express.
inline constexpr int64_t kMaxEntryExpiry = 253402300799;

// ServerSpiffeId returns "spiffe://<td>/spire/server".
std::string ServerSpiffeId(const TrustDomain& td);

// QuoteForMessage returns `s` quoted for an error message: control and
// bidirectional formatting characters escaped (EscapeForDisplay) and cut to
// 256 bytes, followed by "... (N bytes)" when cut, so a huge value cannot push
// the message past the gRPC metadata limit (the caller would see "received
// initial metadata size exceeds limit" instead of the error).
std::string QuoteForMessage(absl::string_view s);

// ValidateSelector checks `type:value` with both parts non-empty, no ":" in
// the type, neither holding a control or bidirectional formatting character
// (CheckDisplaySafe), and the numeric unix selectors (unix:uid, unix:gid,
// unix:supplementary_gid) holding a decimal number in [0, 2^32-1] without
// leading zeros. InvalidArgument "selector type must not be empty" etc.
[[nodiscard]] absl::Status ValidateSelector(const signet::types::Selector& s);

// ParseSelector splits "type:value" (the value may contain ':').
// InvalidArgument naming the selector when malformed.
[[nodiscard]] absl::StatusOr<signet::types::Selector> ParseSelector(absl::string_view s);

// ValidateDnsName checks a DNS name (optionally "*."-prefixed): labels of
// 1-63 chars [A-Za-z0-9-] not starting or ending with '-', total <= 253.
[[nodiscard]] absl::Status ValidateDnsName(absl::string_view name);

// ValidatePageSize accepts 0..kMaxPageSize. InvalidArgument otherwise.
[[nodiscard]] absl::Status ValidatePageSize(int32_t page_size);

// ValidateWorkloadSpiffeId checks `id` (as field `field`) is a strict SPIFFE
// ID in `td` with a path not under /spire/.
[[nodiscard]] absl::Status ValidateWorkloadSpiffeId(absl::string_view field, absl::string_view id,
                                                    const TrustDomain& td);

// ValidateEntry checks and normalises `entry` for create/update: spiffe_id,
// parent_id (set to the server's ID for node entries), selectors, TTLs in
// [0, ca_ttl], hint size and characters (as for selectors), DNS names, expiry
// in [0, kMaxEntryExpiry], federates_with. InvalidArgument with a message
// naming the field; a quoted value is escaped and cut to 256 bytes.
[[nodiscard]] absl::Status ValidateEntry(signet::types::RegistrationEntry& entry,
                                         const TrustDomain& td, absl::Duration ca_ttl);

}  // namespace signet::server

#endif  // SIGNET_SERVER_ENTRY_VALIDATION_H_
