// The one conversion between absl::Status and grpc::Status. Both use the same
// canonical codes (google.rpc.Code), so a code crosses unchanged; handlers
// convert at the gRPC edge only.
#ifndef SIGNET_COMMON_GRPC_STATUS_H_
#define SIGNET_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace signet {

// ToGrpcStatus returns `s` as a grpc::Status: same code and message.
grpc::Status ToGrpcStatus(const absl::Status& s);

// FromGrpcStatus returns `s` as an absl::Status: same code and message.
absl::Status FromGrpcStatus(const grpc::Status& s);

}  // namespace signet

#endif  // SIGNET_COMMON_GRPC_STATUS_H_
