// Tests for common/grpc_status: code and message cross unchanged both ways.
#include "common/grpc_status.h"

#include <gtest/gtest.h>

namespace signet {
namespace {

TEST(GrpcStatusTest, ToGrpcKeepsCodeAndMessage) {
  grpc::Status s = ToGrpcStatus(absl::PermissionDeniedError("no identity issued"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "no identity issued");
}

TEST(GrpcStatusTest, ToGrpcOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(GrpcStatusTest, FromGrpcKeepsCodeAndMessage) {
  absl::Status s = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server down"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "server down");
}

TEST(GrpcStatusTest, FromGrpcOk) { EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok()); }

TEST(GrpcStatusTest, EveryCodeRoundTrips) {
  for (int c = 0; c <= 16; ++c) {
    absl::Status in(static_cast<absl::StatusCode>(c), c == 0 ? "" : "m");
    EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(in)), in) << c;
  }
}

}  // namespace
}  // namespace signet
