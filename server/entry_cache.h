// In-memory index of registration entries by id and by parent_id, and the
// computation of the entries authorized for an agent.
#ifndef SIGNET_SERVER_ENTRY_CACHE_H_
#define SIGNET_SERVER_ENTRY_CACHE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/datastore/datastore.h"
#include "signet/types.pb.h"

namespace signet::server {

struct AuthorizedEntries {
  std::vector<signet::types::RegistrationEntry> entries;
  // IDs whose children are authorized for the agent: its own ID, matching
  // node aliases, and the SPIFFE IDs of authorized entries.
  std::set<std::string> parents;
};

// EntryCache mirrors the datastore's entries. Thread-safe.
class EntryCache {
 public:
  // LoadAll replaces the cache with every entry in `ds`. Errors from `ds`.
  [[nodiscard]] absl::Status LoadAll(Datastore* ds);

  // Put inserts or replaces `e` and returns the previous version.
  std::optional<signet::types::RegistrationEntry> Put(const signet::types::RegistrationEntry& e);
  // Remove deletes entry `id` and returns it.
  std::optional<signet::types::RegistrationEntry> Remove(const std::string& id);
  std::optional<signet::types::RegistrationEntry> Get(const std::string& id);
  size_t size();

  // ComputeAuthorized returns the entries authorized for agent `agent_id`
  // with node selectors `selectors` at `now` (expired entries are left out):
  // entries parented to the agent, node aliases whose selectors are a subset
  // of the agent's, and (transitively) entries parented to any authorized
  // entry's SPIFFE ID.
  AuthorizedEntries ComputeAuthorized(const std::string& agent_id,
                                      const std::vector<signet::types::Selector>& selectors,
                                      absl::Time now);

  // ExpiringBetween returns the entries whose entry_expiry (unix seconds) is
  // in (`after_s`, `upto_s`]: those that stopped being authorized in that
  // interval. An entry is expired at `now` once entry_expiry <= unix seconds
  // of `now`.
  std::vector<signet::types::RegistrationEntry> ExpiringBetween(int64_t after_s, int64_t upto_s);
  // NextExpiryAfter returns the soonest entry_expiry greater than `after_s`,
  // or nullopt when no entry expires after it.
  std::optional<int64_t> NextExpiryAfter(int64_t after_s);
  // SetExpiryAddedCallback sets `cb`, called (without the cache's lock held)
  // after Put or LoadAll stores an entry with a non-zero entry_expiry, so an
  // expiry timer can re-arm. Call before the cache is shared.
  void SetExpiryAddedCallback(std::function<void()> cb) { expiry_added_ = std::move(cb); }

 private:
  using EntryPtr = std::shared_ptr<const signet::types::RegistrationEntry>;
  void PutLocked(EntryPtr e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyExpiryAdded();
  void RemoveLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  // Guarded by mu_
  absl::flat_hash_map<std::string, EntryPtr> by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> by_parent_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> node_aliases_ ABSL_GUARDED_BY(mu_);
  // (entry_expiry, id) of every entry with a non-zero entry_expiry.
  std::set<std::pair<int64_t, std::string>> by_expiry_ ABSL_GUARDED_BY(mu_);
  std::function<void()> expiry_added_;  // set before use; not guarded
};

// SelectorsSubset reports whether every selector of `sub` is in `super`.
bool SelectorsSubset(const google::protobuf::RepeatedPtrField<signet::types::Selector>& sub,
                     const std::vector<signet::types::Selector>& super);

}  // namespace signet::server

#endif  // SIGNET_SERVER_ENTRY_CACHE_H_
