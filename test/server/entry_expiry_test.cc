// Unit tests: entry expiry is pushed to the affected Sync streams by a timer
// armed on the soonest expiry.
#include "server/entry_expiry.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/clock.h"
#include "server/entry_cache.h"
#include "server/sync_hub.h"

namespace signet::server {
namespace {

using signet::types::RegistrationEntry;
using signet::types::Selector;

constexpr char kAgentA[] = "spiffe://example.org/spire/agent/join_token/a";
constexpr char kAgentB[] = "spiffe://example.org/spire/agent/join_token/b";
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

RegistrationEntry Entry(const std::string& id, const std::string& parent, int64_t expiry) {
  RegistrationEntry e;
  e.set_id(id);
  e.set_parent_id(parent);
  e.set_spiffe_id("spiffe://example.org/w" + id);
  Selector* s = e.add_selectors();
  s->set_type("unix");
  s->set_value("uid:1");
  e.set_entry_expiry(expiry);
  return e;
}

std::vector<std::string> Ids(const std::vector<RegistrationEntry>& v) {
  std::vector<std::string> out;
  for (const RegistrationEntry& e : v) out.push_back(e.id());
  return out;
}

std::vector<std::string> AuthorizedIds(EntryCache& c, const std::string& agent, absl::Time now) {
  std::vector<std::string> out;
  for (const RegistrationEntry& e : c.ComputeAuthorized(agent, {}, now).entries) {
    out.push_back(e.id());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(EntryCacheExpiryTest, IndexFollowsPutUpdateAndRemove) {
  EntryCache c;
  const int64_t t0 = absl::ToUnixSeconds(kT0);
  c.Put(Entry("1", kAgentA, t0 + 10));
  c.Put(Entry("2", kAgentA, t0 + 5));
  c.Put(Entry("3", kAgentA, 0));  // never expires
  EXPECT_EQ(c.NextExpiryAfter(t0), t0 + 5);
  EXPECT_EQ(c.NextExpiryAfter(t0 + 5), t0 + 10);
  EXPECT_EQ(c.NextExpiryAfter(t0 + 10), std::nullopt);
  EXPECT_EQ(Ids(c.ExpiringBetween(t0, t0 + 5)), std::vector<std::string>{"2"});
  EXPECT_EQ(Ids(c.ExpiringBetween(t0 + 5, t0 + 10)), std::vector<std::string>{"1"});
  EXPECT_TRUE(c.ExpiringBetween(t0 + 10, t0 + 1000).empty());
  c.Put(Entry("2", kAgentA, t0 + 20));  // update moves it in the index
  EXPECT_EQ(c.NextExpiryAfter(t0), t0 + 10);
  c.Remove("1");
  EXPECT_EQ(c.NextExpiryAfter(t0), t0 + 20);
  c.Put(Entry("2", kAgentA, 0));  // expiry cleared
  EXPECT_EQ(c.NextExpiryAfter(t0), std::nullopt);
}

TEST(EntryCacheExpiryTest, ExpiredEntryNotAuthorizedFromItsExpirySecond) {
  EntryCache c;
  const int64_t t0 = absl::ToUnixSeconds(kT0);
  c.Put(Entry("1", kAgentA, t0 + 10));
  EXPECT_EQ(AuthorizedIds(c, kAgentA, kT0 + absl::Seconds(9.9)), std::vector<std::string>{"1"});
  EXPECT_TRUE(AuthorizedIds(c, kAgentA, kT0 + absl::Seconds(10)).empty());
}

class EntryExpiryTimerTest : public ::testing::Test {
 protected:
  std::shared_ptr<SyncSubscription> Subscribe(const std::string& agent) {
    auto sub = hub_.Subscribe(agent, {});
    EXPECT_TRUE(hub_.Wait(sub, absl::Now()).ok());  // initial state
    hub_.Watch(sub, cache_.ComputeAuthorized(agent, {}, clock_.Now()).parents);
    return sub;
  }
  bool Pending(const std::shared_ptr<SyncSubscription>& s) {
    return hub_.Wait(s, absl::Now()).ok();
  }

  FakeClock clock_{kT0};
  EntryCache cache_;
  SyncHub hub_;
};

TEST_F(EntryExpiryTimerTest, FiresAtTheSoonestExpiryAndWakesOnlyAffectedAgents) {
  EntryExpiryTimer timer(&cache_, &hub_, &clock_);
  const int64_t t0 = absl::ToUnixSeconds(kT0);
  cache_.Put(Entry("a1", kAgentA, t0 + 2));
  cache_.Put(Entry("b1", kAgentB, t0 + 4));
  auto a = Subscribe(kAgentA);
  auto b = Subscribe(kAgentB);
  EXPECT_EQ(timer.NextDue(), kT0 + absl::Seconds(2));

  clock_.Advance(absl::Seconds(1.5));
  EXPECT_EQ(timer.FireDue(), 0u);
  EXPECT_FALSE(Pending(a));

  clock_.Advance(absl::Seconds(0.5));  // a1's expiry second
  EXPECT_EQ(timer.FireDue(), 1u);
  EXPECT_TRUE(Pending(a));
  EXPECT_FALSE(Pending(b));
  EXPECT_TRUE(AuthorizedIds(cache_, kAgentA, clock_.Now()).empty());
  EXPECT_EQ(timer.NextDue(), kT0 + absl::Seconds(4));
  EXPECT_EQ(timer.FireDue(), 0u);  // each expiry fires once

  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(timer.FireDue(), 1u);
  EXPECT_TRUE(Pending(b));
  EXPECT_EQ(timer.NextDue(), absl::InfiniteFuture());
}

TEST_F(EntryExpiryTimerTest, EntriesExpiredBeforeStartAreNotRefired) {
  const int64_t t0 = absl::ToUnixSeconds(kT0);
  cache_.Put(Entry("old", kAgentA, t0 - 5));
  EntryExpiryTimer timer(&cache_, &hub_, &clock_);
  auto a = Subscribe(kAgentA);
  EXPECT_EQ(timer.NextDue(), absl::InfiniteFuture());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(timer.FireDue(), 0u);
  EXPECT_FALSE(Pending(a));
}

// The thread sleeps until the soonest expiry; an entry stored later with an
// earlier expiry re-arms it. Real clock: the entry expires at the next whole
// second, so the push must arrive well before the timer's 30 s safety wake-up.
TEST(EntryExpiryTimerThreadTest, PushesExpiryOfEntryStoredAfterStart) {
  RealClock clock;
  EntryCache cache;
  SyncHub hub;
  EntryExpiryTimer timer(&cache, &hub, &clock);
  const int64_t now_s = absl::ToUnixSeconds(absl::Now());
  cache.Put(Entry("far", kAgentB, now_s + 3600));
  timer.Start();
  auto a = hub.Subscribe(kAgentA, {});
  ASSERT_TRUE(hub.Wait(a, absl::Now()).ok());
  hub.Watch(a, cache.ComputeAuthorized(kAgentA, {}, absl::Now()).parents);
  RegistrationEntry soon = Entry("soon", kAgentA, now_s + 2);
  hub.EntryChanged(cache.Put(soon), soon);  // what EntryStore does
  ASSERT_TRUE(hub.Wait(a, absl::Now()).ok());
  EXPECT_EQ(AuthorizedIds(cache, kAgentA, absl::Now()), std::vector<std::string>{"soon"});

  absl::Status woken = hub.Wait(a, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(woken.ok()) << woken;
  const absl::Time at = absl::Now();
  EXPECT_GE(at, absl::FromUnixSeconds(now_s + 2));
  EXPECT_LT(at, absl::FromUnixSeconds(now_s + 2) + absl::Seconds(5));
  EXPECT_TRUE(AuthorizedIds(cache, kAgentA, at).empty());
  timer.Stop();
}

}  // namespace
}  // namespace signet::server
