#include "server/entry_cache.h"

#include <deque>
#include <limits>

#include "common/status_macros.h"

namespace signet::server {

using signet::types::RegistrationEntry;
using signet::types::Selector;

bool SelectorsSubset(const google::protobuf::RepeatedPtrField<Selector>& sub,
                     const std::vector<Selector>& super) {
  for (const Selector& s : sub) {
    bool found = false;
    for (const Selector& t : super) {
      if (s.type() == t.type() && s.value() == t.value()) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

absl::Status EntryCache::LoadAll(Datastore* ds) {
  ListEntriesFilter f;
  ASSIGN_OR_RETURN(EntryPage page, ds->ListEntries(f));
  {
    absl::MutexLock l(&mu_);
    by_id_.clear();
    by_parent_.clear();
    node_aliases_.clear();
    by_expiry_.clear();
    for (RegistrationEntry& e : page.entries) {
      PutLocked(std::make_shared<const RegistrationEntry>(std::move(e)));
    }
  }
  NotifyExpiryAdded();
  return absl::OkStatus();
}

void EntryCache::NotifyExpiryAdded() {
  if (expiry_added_) expiry_added_();
}

void EntryCache::PutLocked(EntryPtr e) {
  RemoveLocked(e->id());
  by_parent_[e->parent_id()].insert(e->id());
  if (e->node()) node_aliases_.insert(e->id());
  if (e->entry_expiry() != 0) by_expiry_.emplace(e->entry_expiry(), e->id());
  by_id_[e->id()] = std::move(e);
}

void EntryCache::RemoveLocked(const std::string& id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  auto pit = by_parent_.find(it->second->parent_id());
  if (pit != by_parent_.end()) {
    pit->second.erase(id);
    if (pit->second.empty()) by_parent_.erase(pit);
  }
  node_aliases_.erase(id);
  if (it->second->entry_expiry() != 0) by_expiry_.erase({it->second->entry_expiry(), id});
  by_id_.erase(it);
}

std::optional<RegistrationEntry> EntryCache::Put(const RegistrationEntry& e) {
  std::optional<RegistrationEntry> old;
  {
    absl::MutexLock l(&mu_);
    auto it = by_id_.find(e.id());
    if (it != by_id_.end()) old = *it->second;
    PutLocked(std::make_shared<const RegistrationEntry>(e));
  }
  if (e.entry_expiry() != 0) NotifyExpiryAdded();
  return old;
}

std::optional<RegistrationEntry> EntryCache::Remove(const std::string& id) {
  absl::MutexLock l(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  RegistrationEntry old = *it->second;
  RemoveLocked(id);
  return old;
}

std::vector<RegistrationEntry> EntryCache::ExpiringBetween(int64_t after_s, int64_t upto_s) {
  std::vector<RegistrationEntry> out;
  if (upto_s <= after_s) return out;
  absl::MutexLock l(&mu_);
  for (auto it = by_expiry_.lower_bound({after_s + 1, std::string()});
       it != by_expiry_.end() && it->first <= upto_s; ++it) {
    out.push_back(*by_id_.at(it->second));
  }
  return out;
}

std::optional<int64_t> EntryCache::NextExpiryAfter(int64_t after_s) {
  if (after_s == std::numeric_limits<int64_t>::max()) return std::nullopt;
  absl::MutexLock l(&mu_);
  auto it = by_expiry_.lower_bound({after_s + 1, std::string()});
  if (it == by_expiry_.end()) return std::nullopt;
  return it->first;
}

std::optional<RegistrationEntry> EntryCache::Get(const std::string& id) {
  absl::MutexLock l(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return *it->second;
}

size_t EntryCache::size() {
  absl::MutexLock l(&mu_);
  return by_id_.size();
}

AuthorizedEntries EntryCache::ComputeAuthorized(const std::string& agent_id,
                                                const std::vector<Selector>& selectors,
                                                absl::Time now) {
  std::vector<EntryPtr> found;
  AuthorizedEntries out;
  {
    absl::MutexLock l(&mu_);
    int64_t now_s = absl::ToUnixSeconds(now);
    auto live = [&](const EntryPtr& e) {
      return e->entry_expiry() == 0 || e->entry_expiry() > now_s;
    };
    absl::flat_hash_set<std::string> seen_entries;
    std::deque<std::string> queue;
    auto add_parent = [&](const std::string& p) {
      if (out.parents.insert(p).second) queue.push_back(p);
    };
    add_parent(agent_id);
    for (const std::string& id : node_aliases_) {
      const EntryPtr& e = by_id_.at(id);
      if (!live(e) || !SelectorsSubset(e->selectors(), selectors)) continue;
      if (seen_entries.insert(id).second) found.push_back(e);
      add_parent(e->spiffe_id());
    }
    while (!queue.empty()) {
      std::string p = std::move(queue.front());
      queue.pop_front();
      auto pit = by_parent_.find(p);
      if (pit == by_parent_.end()) continue;
      for (const std::string& id : pit->second) {
        const EntryPtr& e = by_id_.at(id);
        if (!live(e)) continue;
        if (!seen_entries.insert(id).second) continue;
        found.push_back(e);
        add_parent(e->spiffe_id());
      }
    }
  }
  out.entries.reserve(found.size());
  for (const EntryPtr& e : found) out.entries.push_back(*e);
  return out;
}

}  // namespace signet::server
