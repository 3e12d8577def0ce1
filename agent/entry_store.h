// The agent worker's registration entries and their X.509-SVIDs, each held
// once: an entry is one immutable WorkloadEntry (with its current SVID) that
// the store and every AgentSnapshot share through a shared_ptr.
#ifndef SIGNET_AGENT_ENTRY_STORE_H_
#define SIGNET_AGENT_ENTRY_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/snapshot.h"
#include "signet/types.pb.h"

namespace signet::agent {

// EntryStore keeps the entries a sync message names, without their protobuf
// form: only what the Workload API serves (WorkloadEntry) and what minting
// needs (revision, expiry, rotation and retry times). Thread-compatible
// (the agent's worker thread owns it); the WorkloadEntry objects it hands
// out are immutable and may be read from any thread.
class EntryStore {
 public:
  EntryStore() = default;
  EntryStore(const EntryStore&) = delete;
  EntryStore& operator=(const EntryStore&) = delete;

  // Apply replaces the entries with `entries` (a sync message's full set;
  // node-alias entries and entries without selectors are never served and
  // not kept). An entry unchanged since the last Apply keeps its shared
  // WorkloadEntry; a changed one keeps its SVID while its SPIFFE ID stays
  // the same (it is re-minted for the new revision). Returns whether the
  // entries a snapshot shows may have changed.
  bool Apply(const google::protobuf::RepeatedPtrField<signet::types::RegistrationEntry>& entries);

  // Due returns the ids of the entries servable at `now` whose SVID must be
  // (re)minted: none yet, minted for another revision, or past its rotation
  // time; entries waiting for a retry time after `now` are left out.
  std::vector<std::string> Due(absl::Time now) const;

  // SetSvid installs `svid`, minted for the current revision of entry `id`,
  // to be rotated at `rotate_at`, and clears its retry time. Returns false
  // (and does nothing) when the entry is gone.
  bool SetSvid(absl::string_view id, std::shared_ptr<const X509SvidMaterial> svid,
               absl::Time rotate_at);
  // SetRetry makes entry `id` wait until `at` before it is minted again.
  void SetRetry(absl::string_view id, absl::Time at);

  // Find returns entry `id`, or null.
  std::shared_ptr<const WorkloadEntry> Find(absl::string_view id) const;

  // NextWake returns the earliest rotation time of an SVID of a servable
  // entry, or retry time, after `now`; InfiniteFuture when there is none.
  absl::Time NextWake(absl::Time now) const;

  // Servable returns the entries a snapshot serves at `now` (not expired),
  // sorted by SPIFFE ID, then id. An SVID past its NotAfter is dropped
  // first (the entry is then served without one until it is re-minted).
  std::vector<std::shared_ptr<const WorkloadEntry>> Servable(absl::Time now);

  size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    std::shared_ptr<const WorkloadEntry> entry;  // never null
    int64_t revision = 0;
    int64_t expiry = 0;          // unix seconds; 0: never
    int64_t svid_revision = -1;  // entry revision entry->svid was minted for
    absl::Time rotate_at = absl::InfiniteFuture();
    absl::Time retry_at = absl::InfinitePast();
  };

  static bool ServableAt(const Slot& s, absl::Time now) {
    return s.expiry == 0 || absl::FromUnixSeconds(s.expiry) > now;
  }
  // Lookup returns the slot of `id` in `slots` (sorted by id), or null.
  static const Slot* Lookup(const std::vector<Slot>& slots, absl::string_view id);
  Slot* Lookup(absl::string_view id) { return const_cast<Slot*>(Lookup(slots_, id)); }

  // Sorted by entry->id, ids unique.
  std::vector<Slot> slots_;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_ENTRY_STORE_H_
