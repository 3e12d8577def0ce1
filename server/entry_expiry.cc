#include "server/entry_expiry.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"

namespace signet::server {

using signet::types::RegistrationEntry;

namespace {
// A wall-clock jump (or a clock that is not absl::Now()) is noticed within this.
constexpr absl::Duration kMaxSleep = absl::Seconds(30);
}  // namespace

EntryExpiryTimer::EntryExpiryTimer(EntryCache* entries, SyncHub* hub, Clock* clock)
    : entries_(entries),
      hub_(hub),
      clock_(clock),
      fired_through_(absl::ToUnixSeconds(clock->Now())) {
  entries_->SetExpiryAddedCallback([this] { Rearm(); });
}

EntryExpiryTimer::~EntryExpiryTimer() {
  Stop();
  entries_->SetExpiryAddedCallback(nullptr);
}

void EntryExpiryTimer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void EntryExpiryTimer::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void EntryExpiryTimer::Rearm() {
  absl::MutexLock l(&mu_);
  rearm_ = true;
}

absl::Time EntryExpiryTimer::NextDue() {
  int64_t after;
  {
    absl::MutexLock l(&mu_);
    after = fired_through_;
  }
  std::optional<int64_t> next = entries_->NextExpiryAfter(after);
  // entry_expiry is in whole seconds; the entry is expired from that second on.
  return next.has_value() ? absl::FromUnixSeconds(*next) : absl::InfiniteFuture();
}

size_t EntryExpiryTimer::FireDue() {
  int64_t now_s = absl::ToUnixSeconds(clock_->Now());
  int64_t after;
  {
    absl::MutexLock l(&mu_);
    if (now_s <= fired_through_) return 0;
    after = fired_through_;
    fired_through_ = now_s;
  }
  std::vector<RegistrationEntry> expired = entries_->ExpiringBetween(after, now_s);
  for (const RegistrationEntry& e : expired) {
    size_t woken = hub_->EntryChanged(e, std::nullopt);
    LogDebug("registration entry expired", {{"entry_id", e.id()},
                                            {"spiffe_id", e.spiffe_id()},
                                            {"streams_woken", std::to_string(woken)}});
  }
  return expired.size();
}

void EntryExpiryTimer::Loop() {
  while (true) {
    absl::Time due = NextDue();
    {
      absl::MutexLock l(&mu_);
      absl::Time deadline = std::min(due, absl::Now() + kMaxSleep);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || rearm_; };
      mu_.AwaitWithDeadline(absl::Condition(&wake), deadline);
      if (stopping_) return;
      // On a re-arm (an entry with a possibly sooner expiry was stored) the
      // loop recomputes the deadline; firing first keeps a steady stream of
      // new entries from starving the timer.
      rearm_ = false;
    }
    FireDue();
  }
}

}  // namespace signet::server
