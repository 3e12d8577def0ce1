// SyncHub: wakes the Sync streams of exactly the agents a change affects.
// Each stream registers the set of parent IDs its authorized entries hang
// from; an entry change looks up the streams watching the entry's old and new
// parent (and, for node aliases, the streams whose agent selectors match).
#ifndef SIGNET_SERVER_SYNC_HUB_H_
#define SIGNET_SERVER_SYNC_HUB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "signet/types.pb.h"

namespace signet::server {

class SyncHub;

// SyncSubscription is one connected Sync stream. Created by SyncHub.
class SyncSubscription {
 public:
  const std::string& agent_id() const { return agent_id_; }

 private:
  friend class SyncHub;
  SyncSubscription(std::string agent_id, std::function<void()> on_wake)
      : agent_id_(std::move(agent_id)), on_wake_(std::move(on_wake)) {}
  const std::string agent_id_;
  // Called with SyncHub::mu_ held whenever the subscription is woken or
  // closed; must be quick and must not call into the hub. Set at Subscribe.
  const std::function<void()> on_wake_;
  // Guarded by SyncHub::mu_
  std::vector<signet::types::Selector> selectors_;
  std::set<std::string> parents_;
  uint64_t pending_ = 1;  // wakeups not yet consumed (the first: initial state)
  uint64_t wakeups_ = 0;
  bool closed_ = false;
  absl::Status close_status_;
  absl::CondVar cv_;
};

// SyncHub is thread-safe.
class SyncHub {
 public:
  // Subscribe registers a stream for `agent_id`; the first Wait returns at once.
  // `on_wake`, when set, is called (with the hub's lock held: it must only
  // schedule work, never call the hub) each time the stream is woken or
  // closed, until Unsubscribe returns; Wait with an InfinitePast deadline then
  // polls the state without blocking.
  std::shared_ptr<SyncSubscription> Subscribe(const std::string& agent_id,
                                              std::vector<signet::types::Selector> selectors,
                                              std::function<void()> on_wake = nullptr);
  void Unsubscribe(const std::shared_ptr<SyncSubscription>& sub);
  // Watch records the parent IDs `sub`'s authorized entries depend on.
  void Watch(const std::shared_ptr<SyncSubscription>& sub, std::set<std::string> parents);

  // Wait blocks until `sub` has a pending change (returns OK, consuming it),
  // is closed (returns the close status), or `deadline` passes (returns
  // DeadlineExceeded).
  [[nodiscard]] absl::Status Wait(const std::shared_ptr<SyncSubscription>& sub,
                                  absl::Time deadline);

  // EntryChanged wakes every stream affected by an entry going from `before`
  // to `after` (either may be absent). Returns how many streams were woken.
  size_t EntryChanged(const std::optional<signet::types::RegistrationEntry>& before,
                      const std::optional<signet::types::RegistrationEntry>& after);
  // AgentSelectorsChanged updates and wakes the streams of `agent_id`.
  size_t AgentSelectorsChanged(const std::string& agent_id,
                               const std::vector<signet::types::Selector>& selectors);
  // WakeAll wakes every stream (bundle change). Returns how many.
  size_t WakeAll();
  // CloseAgent ends every stream of `agent_id` with `status`.
  size_t CloseAgent(const std::string& agent_id, const absl::Status& status);
  // CloseAll ends every stream (shutdown).
  void CloseAll(const absl::Status& status);

  // Revision increases with every change seen.
  uint64_t revision();
  size_t subscribers();
  // Wakeups returns how many times `sub` was woken by changes (tests).
  uint64_t Wakeups(const std::shared_ptr<SyncSubscription>& sub);

 private:
  void WakeLocked(SyncSubscription* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseLocked(SyncSubscription* s, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  // Guarded by mu_
  absl::flat_hash_set<SyncSubscription*> subs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_set<SyncSubscription*>> by_parent_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_set<SyncSubscription*>> by_agent_
      ABSL_GUARDED_BY(mu_);
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_SYNC_HUB_H_
