// Unit tests: the worker pool the server CA signs CSR batches on
// (ParallelFor), the server's Sync streams and the agent's Workload API
// attestations run on (Post).
#include "common/worker_pool.h"

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

TEST(WorkerPoolParallelForTest, EveryIndexRunsExactlyOnce) {
  WorkerPool pool(3);
  EXPECT_EQ(pool.workers(), 3);
  constexpr size_t kN = 1000;
  std::vector<std::atomic<int>> runs(kN);
  pool.ParallelFor(kN, 3, [&](size_t i) { runs[i].fetch_add(1); });
  for (size_t i = 0; i < kN; ++i) EXPECT_EQ(runs[i].load(), 1) << i;
}

TEST(WorkerPoolParallelForTest, ResultsWrittenByWorkersAreVisibleToTheCaller) {
  WorkerPool pool(2);
  for (int round = 0; round < 50; ++round) {
    std::vector<size_t> out(300, 0);  // plain writes, one slot per index
    pool.ParallelFor(out.size(), 2, [&](size_t i) { out[i] = i * i + 1; });
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], i * i + 1) << round << " " << i;
  }
}

// Two items that each wait for the other to start finish only when they run
// at the same time: a worker helps the caller.
TEST(WorkerPoolParallelForTest, AWorkerRunsItemsAlongsideTheCaller) {
  WorkerPool pool(1);
  absl::Mutex mu;
  int started = 0;
  std::atomic<int> met{0};
  std::set<std::thread::id> threads;
  pool.ParallelFor(2, 1, [&](size_t) {
    absl::MutexLock l(&mu);
    ++started;
    threads.insert(std::this_thread::get_id());
    auto both = [&started]() { return started == 2; };
    if (mu.AwaitWithTimeout(absl::Condition(&both), absl::Seconds(10))) met.fetch_add(1);
  });
  EXPECT_EQ(met.load(), 2);
  EXPECT_EQ(threads.size(), 2u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 1u);
}

TEST(WorkerPoolParallelForTest, NoHelpersOrNoWorkersRunsOnTheCallingThread) {
  WorkerPool pool(2);
  WorkerPool empty(0);
  EXPECT_EQ(empty.workers(), 0);
  for (WorkerPool* p : {&pool, &empty}) {
    std::set<std::thread::id> threads;
    int calls = 0;  // only the calling thread touches these
    p->ParallelFor(20, p == &pool ? 0 : 4, [&](size_t) {
      threads.insert(std::this_thread::get_id());
      ++calls;
    });
    EXPECT_EQ(calls, 20);
    ASSERT_EQ(threads.size(), 1u);
    EXPECT_EQ(*threads.begin(), std::this_thread::get_id());
  }
}

TEST(WorkerPoolParallelForTest, EmptyAndSingleItemBatches) {
  WorkerPool pool(2);
  int calls = 0;
  pool.ParallelFor(0, 2, [&](size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  std::thread::id ran_on;
  pool.ParallelFor(1, 2, [&](size_t i) {
    EXPECT_EQ(i, 0u);
    ran_on = std::this_thread::get_id();
    ++calls;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ran_on, std::this_thread::get_id());  // nothing to hand off
}

TEST(WorkerPoolParallelForTest, ConcurrentCallersShareTheWorkers) {
  WorkerPool pool(2);
  constexpr int kCallers = 8;
  constexpr size_t kN = 200;
  std::vector<std::vector<size_t>> out(kCallers, std::vector<size_t>(kN, 0));
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 20; ++round) {
        pool.ParallelFor(kN, 2, [&](size_t i) { out[c][i] += i + static_cast<size_t>(c); });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  for (int c = 0; c < kCallers; ++c) {
    for (size_t i = 0; i < kN; ++i) ASSERT_EQ(out[c][i], 20 * (i + c)) << c << " " << i;
  }
}

TEST(WorkerPoolParallelForTest, DestroyedRightAfterUse) {
  for (int i = 0; i < 20; ++i) {
    WorkerPool pool(4);
    std::atomic<int> n{0};
    pool.ParallelFor(5, 4, [&](size_t) { n.fetch_add(1); });
    EXPECT_EQ(n.load(), 5);
  }
}

// Formerly server_work_queue_test's WorkQueueTest.RunsPostedClosuresOnWorkers.
TEST(WorkerPoolPostTest, RunsPostedClosuresOnWorkers) {
  WorkerPool q(2);
  absl::Notification done;
  std::atomic<int> n{0};
  for (int i = 0; i < 100; ++i) {
    q.Post([&] {
      if (++n == 100) done.Notify();
    });
  }
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

// Formerly server_work_queue_test's WorkQueueTest.DestructorRunsEverythingAlreadyPosted.
TEST(WorkerPoolPostTest, DestructorRunsEverythingAlreadyPosted) {
  std::atomic<int> n{0};
  {
    WorkerPool q(1);
    absl::Notification release;
    q.Post([&] { release.WaitForNotification(); });
    for (int i = 0; i < 10; ++i) q.Post([&] { ++n; });
    release.Notify();
  }
  EXPECT_EQ(n.load(), 10);
}

TEST(WorkerPoolPostTest, OneWorkerRunsClosuresInPostOrder) {
  std::vector<int> order;
  {
    WorkerPool q(1);
    for (int i = 0; i < 50; ++i) q.Post([&order, i] { order.push_back(i); });
  }
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], i);
}

TEST(WorkerPoolPostTest, NoWorkerRunsOnTheCallingThread) {
  WorkerPool q(0);
  std::thread::id ran_on;
  q.Post([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

// A batch finishes while the only worker is busy with a posted closure: the
// caller works on it alone.
TEST(WorkerPoolPostTest, BatchFinishesWhileTheWorkerRunsAClosure) {
  WorkerPool q(1);
  absl::Notification started, release;
  q.Post([&] {
    started.Notify();
    release.WaitForNotification();
  });
  started.WaitForNotification();
  std::atomic<size_t> sum{0};
  q.ParallelFor(100, 1, [&](size_t i) { sum += i; });
  EXPECT_EQ(sum.load(), 4950u);
  release.Notify();
}

}  // namespace
}  // namespace signet
