// Unit tests: the work queue the callback Sync streams run their steps on.
#include "server/work_queue.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace signet::server {
namespace {

TEST(WorkQueueTest, RunsPostedClosuresOnWorkers) {
  WorkQueue q(2);
  absl::Notification done;
  std::atomic<int> n{0};
  for (int i = 0; i < 100; ++i) {
    q.Post([&] {
      if (++n == 100) done.Notify();
    });
  }
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(WorkQueueTest, DestructorRunsEverythingAlreadyPosted) {
  std::atomic<int> n{0};
  {
    WorkQueue q(1);
    absl::Notification release;
    q.Post([&] { release.WaitForNotification(); });
    for (int i = 0; i < 10; ++i) q.Post([&] { ++n; });
    release.Notify();
  }
  EXPECT_EQ(n.load(), 10);
}

}  // namespace
}  // namespace signet::server
