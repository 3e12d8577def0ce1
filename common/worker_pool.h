// WorkerPool: a fixed set of worker threads, created once, for two kinds of
// work: closures posted to run in order (the server's callback Sync streams
// compute their next state on one; the agent's Workload API attests callers
// on one), and the independent items of one batch run in parallel with the
// caller (the server CA signs a BatchNewX509Svid request's CSRs on one).
#ifndef SIGNET_COMMON_WORKER_POOL_H_
#define SIGNET_COMMON_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace signet {

// WorkerPool is thread-safe: any number of callers may post closures and run
// batches at once; they share the workers (the calling thread always works
// on its own batch, so a batch finishes even when every worker is busy
// elsewhere). The destructor runs every closure already posted, then joins
// the workers; no ParallelFor may be running then, nor Post be called.
class WorkerPool {
 public:
  // WorkerPool starts `workers` threads (fewer when the system refuses to
  // create more; workers() tells).
  explicit WorkerPool(int workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int workers() const { return static_cast<int>(threads_.size()); }

  // Post queues `fn` to run on a worker; closures start in the order they
  // were posted. Never blocks on `fn`. With no worker at all, fn runs on the
  // calling thread before Post returns.
  void Post(std::function<void()> fn);

  // ParallelFor calls fn(i) exactly once for every i in [0, n) and returns
  // when all calls have returned. The calls run on the calling thread and
  // on up to `max_helpers` workers (fewer when n is small), each taking the
  // next unclaimed index, so the order in which they run is unspecified:
  // fn must be safe to call concurrently for different i (typically it
  // writes slot i of a result vector sized beforehand). Every write fn makes
  // is visible to the caller when ParallelFor returns. fn must not throw.
  void ParallelFor(size_t n, int max_helpers, absl::FunctionRef<void(size_t)> fn);

 private:
  struct Batch;
  // Job is one queue entry: a posted closure, or a batch a worker helps with
  // until it has no unclaimed item left.
  struct Job {
    std::function<void()> fn;
    std::shared_ptr<Batch> batch;
  };
  void Run();

  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  // Guarded by mu_
  // Posted closures, and one entry per helper a batch asked for.
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace signet

#endif  // SIGNET_COMMON_WORKER_POOL_H_
