#include "absl/time/time.h"
#include "agent/agent.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

TEST(SyncReconnectDelayTest, GrowsBy250MsPerFailureUpTo5Seconds) {
  EXPECT_EQ(SyncReconnectDelay(0), absl::ZeroDuration());
  EXPECT_EQ(SyncReconnectDelay(1), absl::Milliseconds(250));
  EXPECT_EQ(SyncReconnectDelay(4), absl::Seconds(1));
  EXPECT_EQ(SyncReconnectDelay(19), absl::Milliseconds(4750));
  EXPECT_EQ(SyncReconnectDelay(20), absl::Seconds(5));
  EXPECT_EQ(SyncReconnectDelay(21), absl::Seconds(5));
  EXPECT_EQ(SyncReconnectDelay(1000000), absl::Seconds(5));
}

}  // namespace
}  // namespace signet::agent
