// Conversion of a trust bundle from its wire form (signet.types.Bundle, sent
// by the server to agents and the admin CLI) to a common Bundle.
#ifndef SIGNET_COMMON_BUNDLE_PROTO_H_
#define SIGNET_COMMON_BUNDLE_PROTO_H_

#include "absl/status/statusor.h"
#include "common/bundle.h"
#include "signet/types.pb.h"

namespace signet {

// BundleFromProto converts `b` to a Bundle. InvalidArgument when the trust
// domain, a certificate or a key does not parse.
//
// proto3 cannot tell an absent field from a zero one, so zero means "not
// set" for both optional bundle parameters (checklist D3, D4):
// - sequence_number 0 leaves the sequence unset (spiffe_sequence omitted):
//   the server numbers its bundle from 1, so 0 only comes from a bundle that
//   carried no sequence.
// - refresh_hint is set only when positive: a hint is a number of seconds to
//   wait before refreshing, and neither 0 nor a negative value is one.
[[nodiscard]] absl::StatusOr<Bundle> BundleFromProto(const signet::types::Bundle& b);

}  // namespace signet

#endif  // SIGNET_COMMON_BUNDLE_PROTO_H_
