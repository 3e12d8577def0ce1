// EntryExpiryTimer: pushes entry expiry to the Sync streams. One timer armed
// on the soonest entry_expiry (never a scan of every entry); when it fires,
// the streams of the agents each expired entry was authorized for are woken
// and recompute their state, which leaves the expired entry out.
#ifndef SIGNET_SERVER_ENTRY_EXPIRY_H_
#define SIGNET_SERVER_ENTRY_EXPIRY_H_

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/clock.h"
#include "server/entry_cache.h"
#include "server/sync_hub.h"

namespace signet::server {

// EntryExpiryTimer is thread-safe. `entries`, `hub` and `clock` are borrowed
// and must outlive it. Construct it before the cache is shared: it installs
// the cache's expiry callback.
class EntryExpiryTimer {
 public:
  EntryExpiryTimer(EntryCache* entries, SyncHub* hub, Clock* clock);
  ~EntryExpiryTimer();
  EntryExpiryTimer(const EntryExpiryTimer&) = delete;
  EntryExpiryTimer& operator=(const EntryExpiryTimer&) = delete;

  // Start runs the timer thread (sleeps until the soonest expiry, or until an
  // entry with an earlier expiry is stored). Call once.
  void Start();
  // Stop ends the thread (idempotent).
  void Stop();

  // FireDue wakes the streams affected by every entry that expired after the
  // previous FireDue (or construction) and at or before the clock's now.
  // Returns how many entries expired. The thread calls it; tests may too.
  size_t FireDue();
  // NextDue returns when the soonest not yet fired expiry passes, or
  // InfiniteFuture when none.
  absl::Time NextDue();

 private:
  void Loop();
  void Rearm();

  EntryCache* const entries_;
  SyncHub* const hub_;
  Clock* const clock_;
  std::thread thread_;

  absl::Mutex mu_;
  // Guarded by mu_
  int64_t fired_through_ ABSL_GUARDED_BY(mu_);  // unix seconds handled so far
  bool rearm_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_ENTRY_EXPIRY_H_
