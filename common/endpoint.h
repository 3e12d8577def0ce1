// SPIFFE Workload Endpoint address handling (checklist E7-E10): turns a
// SPIFFE_ENDPOINT_SOCKET value ("unix:///run/a.sock", "tcp://127.0.0.1:8000")
// into a gRPC target string.
#ifndef SIGNET_COMMON_ENDPOINT_H_
#define SIGNET_COMMON_ENDPOINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet {

// Name of the environment variable clients fall back to (E7).
inline constexpr char kSpiffeEndpointSocketEnv[] = "SPIFFE_ENDPOINT_SOCKET";

// ParseWorkloadEndpoint validates a workload endpoint URI strictly:
//  - unix: no authority, no user info, no query or fragment, an absolute path
//    (no percent-encoding, shorter than sun_path) -> "unix:/abs/path";
//  - tcp: "tcp://<IP literal>:<port>", nothing else -> "ipv4:1.2.3.4:port" or
//    "ipv6:[::1]:port".
// Returns InvalidArgument naming the defect (go-spiffe's wording where it
// has one).
[[nodiscard]] absl::StatusOr<std::string> ParseWorkloadEndpoint(absl::string_view addr);

// WorkloadEndpointFromEnvOrFlag returns the gRPC target for `flag_value` when
// it is non-empty, else for $SPIFFE_ENDPOINT_SOCKET when set and non-empty.
// FailedPrecondition "workload endpoint socket address is not configured"
// when neither is given; InvalidArgument when the chosen value is malformed.
[[nodiscard]] absl::StatusOr<std::string> WorkloadEndpointFromEnvOrFlag(
    absl::string_view flag_value);

}  // namespace signet

#endif  // SIGNET_COMMON_ENDPOINT_H_
