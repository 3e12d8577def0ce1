#include "server/sync_hub.h"

#include "server/entry_cache.h"

namespace signet::server {

using signet::types::RegistrationEntry;
using signet::types::Selector;

std::shared_ptr<SyncSubscription> SyncHub::Subscribe(const std::string& agent_id,
                                                     std::vector<Selector> selectors,
                                                     std::function<void()> on_wake) {
  std::shared_ptr<SyncSubscription> sub(new SyncSubscription(agent_id, std::move(on_wake)));
  absl::MutexLock l(&mu_);
  sub->selectors_ = std::move(selectors);
  subs_.insert(sub.get());
  by_agent_[agent_id].insert(sub.get());
  return sub;
}

void SyncHub::Unsubscribe(const std::shared_ptr<SyncSubscription>& sub) {
  absl::MutexLock l(&mu_);
  for (const std::string& p : sub->parents_) {
    auto it = by_parent_.find(p);
    if (it == by_parent_.end()) continue;
    it->second.erase(sub.get());
    if (it->second.empty()) by_parent_.erase(it);
  }
  sub->parents_.clear();
  auto ait = by_agent_.find(sub->agent_id_);
  if (ait != by_agent_.end()) {
    ait->second.erase(sub.get());
    if (ait->second.empty()) by_agent_.erase(ait);
  }
  subs_.erase(sub.get());
}

void SyncHub::Watch(const std::shared_ptr<SyncSubscription>& sub, std::set<std::string> parents) {
  absl::MutexLock l(&mu_);
  if (!subs_.contains(sub.get())) return;
  for (const std::string& p : sub->parents_) {
    if (parents.count(p)) continue;
    auto it = by_parent_.find(p);
    if (it == by_parent_.end()) continue;
    it->second.erase(sub.get());
    if (it->second.empty()) by_parent_.erase(it);
  }
  for (const std::string& p : parents) by_parent_[p].insert(sub.get());
  sub->parents_ = std::move(parents);
}

absl::Status SyncHub::Wait(const std::shared_ptr<SyncSubscription>& sub, absl::Time deadline) {
  absl::MutexLock l(&mu_);
  while (!sub->closed_ && sub->pending_ == 0) {
    if (sub->cv_.WaitWithDeadline(&mu_, deadline)) {
      if (!sub->closed_ && sub->pending_ == 0) return absl::DeadlineExceededError("no change");
    }
  }
  if (sub->closed_) return sub->close_status_;
  sub->pending_ = 0;
  return absl::OkStatus();
}

void SyncHub::WakeLocked(SyncSubscription* s) {
  ++s->pending_;
  ++s->wakeups_;
  s->cv_.Signal();
  if (s->on_wake_) s->on_wake_();
}

void SyncHub::CloseLocked(SyncSubscription* s, const absl::Status& status) {
  s->closed_ = true;
  s->close_status_ = status;
  s->cv_.Signal();
  if (s->on_wake_) s->on_wake_();
}

size_t SyncHub::EntryChanged(const std::optional<RegistrationEntry>& before,
                             const std::optional<RegistrationEntry>& after) {
  absl::MutexLock l(&mu_);
  ++revision_;
  absl::flat_hash_set<SyncSubscription*> affected;
  for (const std::optional<RegistrationEntry>* e : {&before, &after}) {
    if (!e->has_value()) continue;
    auto it = by_parent_.find((*e)->parent_id());
    if (it != by_parent_.end()) affected.insert(it->second.begin(), it->second.end());
    if ((*e)->node()) {
      for (SyncSubscription* s : subs_) {
        if (SelectorsSubset((*e)->selectors(), s->selectors_)) affected.insert(s);
      }
    }
  }
  for (SyncSubscription* s : affected) WakeLocked(s);
  return affected.size();
}

size_t SyncHub::AgentSelectorsChanged(const std::string& agent_id,
                                      const std::vector<Selector>& selectors) {
  absl::MutexLock l(&mu_);
  ++revision_;
  auto it = by_agent_.find(agent_id);
  if (it == by_agent_.end()) return 0;
  for (SyncSubscription* s : it->second) {
    s->selectors_ = selectors;
    WakeLocked(s);
  }
  return it->second.size();
}

size_t SyncHub::WakeAll() {
  absl::MutexLock l(&mu_);
  ++revision_;
  for (SyncSubscription* s : subs_) WakeLocked(s);
  return subs_.size();
}

size_t SyncHub::CloseAgent(const std::string& agent_id, const absl::Status& status) {
  absl::MutexLock l(&mu_);
  ++revision_;
  auto it = by_agent_.find(agent_id);
  if (it == by_agent_.end()) return 0;
  for (SyncSubscription* s : it->second) CloseLocked(s, status);
  return it->second.size();
}

void SyncHub::CloseAll(const absl::Status& status) {
  absl::MutexLock l(&mu_);
  for (SyncSubscription* s : subs_) CloseLocked(s, status);
}

uint64_t SyncHub::revision() {
  absl::MutexLock l(&mu_);
  return revision_;
}

size_t SyncHub::subscribers() {
  absl::MutexLock l(&mu_);
  return subs_.size();
}

uint64_t SyncHub::Wakeups(const std::shared_ptr<SyncSubscription>& sub) {
  absl::MutexLock l(&mu_);
  return sub->wakeups_;
}

}  // namespace signet::server
