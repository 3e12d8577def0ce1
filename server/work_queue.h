// WorkQueue: a few worker threads running posted closures in order. The Sync
// streams (gRPC callback API) compute their next state here, so a connected
// agent costs no thread of its own.
#ifndef SIGNET_SERVER_WORK_QUEUE_H_
#define SIGNET_SERVER_WORK_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace signet::server {

// WorkQueue is thread-safe. The destructor runs every closure already posted,
// then joins the workers; Post after destruction has begun is not allowed.
class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Post queues `fn` to run on a worker thread. Never blocks on `fn`.
  void Post(std::function<void()> fn);

 private:
  void Run();

  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  // Guarded by mu_
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_WORK_QUEUE_H_
