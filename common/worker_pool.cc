#include "common/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <utility>

#include "absl/synchronization/notification.h"

namespace signet {

// Batch is one ParallelFor call. Workers hold it by shared_ptr, so one that
// took it from the queue may still look at it after ParallelFor returned;
// by then every index is claimed and it never calls fn (which refers to the
// caller's frame) again.
struct WorkerPool::Batch {
  Batch(size_t n, absl::FunctionRef<void(size_t)> fn) : n(n), fn(fn) {}

  // Work claims and runs items until none is left unclaimed.
  void Work() {
    for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < n;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      fn(i);
      // acq_rel: the thread that completes the last item has seen every
      // other item's writes, and publishes them through all_done.
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == n) all_done.Notify();
    }
  }

  const size_t n;
  const absl::FunctionRef<void(size_t)> fn;
  std::atomic<size_t> next{0};  // next unclaimed index
  std::atomic<size_t> done{0};  // items whose fn has returned
  absl::Notification all_done;  // done == n
};

WorkerPool::WorkerPool(int workers) {
  threads_.reserve(static_cast<size_t>(std::max(0, workers)));
  for (int i = 0; i < workers; ++i) {
    try {
      threads_.emplace_back([this] { Run(); });
    } catch (const std::system_error&) {  // no more threads: work with those we have
      break;
    }
  }
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::Post(std::function<void()> fn) {
  if (threads_.empty()) {
    fn();
    return;
  }
  absl::MutexLock l(&mu_);
  queue_.push_back(Job{std::move(fn), nullptr});
}

void WorkerPool::ParallelFor(size_t n, int max_helpers, absl::FunctionRef<void(size_t)> fn) {
  if (n == 0) return;
  const size_t helpers =
      std::min({static_cast<size_t>(std::max(0, max_helpers)), threads_.size(), n - 1});
  if (helpers == 0) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto batch = std::make_shared<Batch>(n, fn);
  {
    absl::MutexLock l(&mu_);
    for (size_t h = 0; h < helpers; ++h) queue_.push_back(Job{nullptr, batch});
  }
  batch->Work();
  // Every item is claimed: helpers that have not started are not needed.
  {
    absl::MutexLock l(&mu_);
    queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                [&batch](const Job& j) { return j.batch == batch; }),
                 queue_.end());
  }
  batch->all_done.WaitForNotification();
}

void WorkerPool::Run() {
  while (true) {
    Job job;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything posted has run
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (job.batch != nullptr) {
      job.batch->Work();
    } else {
      job.fn();
    }
  }
}

}  // namespace signet
