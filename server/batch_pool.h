// BatchPool: a fixed set of worker threads, created once, that help a caller
// run the independent items of one batch in parallel (the server CA signs a
// BatchNewX509Svid request's CSRs on it).
#ifndef SIGNET_SERVER_BATCH_POOL_H_
#define SIGNET_SERVER_BATCH_POOL_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace signet::server {

// BatchPool is thread-safe: any number of callers may run batches at once;
// they share the workers (the calling thread always works on its own batch,
// so a batch finishes even when every worker is busy elsewhere). The
// destructor joins the workers; no ParallelFor may be running then.
class BatchPool {
 public:
  // BatchPool starts `workers` threads (fewer when the system refuses to
  // create more; workers() tells).
  explicit BatchPool(int workers);
  ~BatchPool();
  BatchPool(const BatchPool&) = delete;
  BatchPool& operator=(const BatchPool&) = delete;

  int workers() const { return static_cast<int>(threads_.size()); }

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
  void Run();

  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  // Guarded by mu_
  // One entry per helper a batch asked for; a worker takes one and works on
  // that batch until it has no unclaimed item left.
  std::deque<std::shared_ptr<Batch>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_BATCH_POOL_H_
