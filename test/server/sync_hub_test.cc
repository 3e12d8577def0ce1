// Unit tests: authorized-entry computation and change notification (only the
// affected agents' streams are woken).
#include "server/sync_hub.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/entry_cache.h"

namespace signet::server {
namespace {

using signet::types::RegistrationEntry;
using signet::types::Selector;

constexpr char kAgentA[] = "spiffe://example.org/spire/agent/join_token/a";
constexpr char kAgentB[] = "spiffe://example.org/spire/agent/x509pop/b";
constexpr char kServer[] = "spiffe://example.org/spire/server";

Selector Sel(const std::string& t, const std::string& v) {
  Selector s;
  s.set_type(t);
  s.set_value(v);
  return s;
}

RegistrationEntry Entry(const std::string& id, const std::string& parent, const std::string& spiffe,
                        std::vector<Selector> sels = {Sel("unix", "uid:1")}, bool node = false) {
  RegistrationEntry e;
  e.set_id(id);
  e.set_parent_id(parent);
  e.set_spiffe_id(spiffe);
  for (auto& s : sels) *e.add_selectors() = s;
  e.set_node(node);
  return e;
}

std::vector<std::string> Ids(const AuthorizedEntries& a) {
  std::vector<std::string> out;
  for (const auto& e : a.entries) out.push_back(e.id());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(EntryCacheTest, DirectChildrenOnly) {
  EntryCache c;
  c.Put(Entry("1", kAgentA, "spiffe://example.org/w1"));
  c.Put(Entry("2", kAgentB, "spiffe://example.org/w2"));
  EXPECT_EQ(Ids(c.ComputeAuthorized(kAgentA, {}, absl::Now())), std::vector<std::string>{"1"});
}

TEST(EntryCacheTest, NodeAliasBySelectorSubset) {
  EntryCache c;
  c.Put(Entry("alias", kServer, "spiffe://example.org/nodes", {Sel("x509pop", "subject:cn:n1")},
              true));
  c.Put(Entry("child", "spiffe://example.org/nodes", "spiffe://example.org/w"));
  std::vector<Selector> a_sels{Sel("x509pop", "subject:cn:n1"), Sel("x509pop", "ca:fingerprint:f")};
  EXPECT_EQ(Ids(c.ComputeAuthorized(kAgentA, a_sels, absl::Now())),
            (std::vector<std::string>{"alias", "child"}));
  EXPECT_TRUE(
      c.ComputeAuthorized(kAgentB, {Sel("x509pop", "subject:cn:n2")}, absl::Now()).entries.empty());
}

TEST(EntryCacheTest, ChainedParentsAndCycles) {
  EntryCache c;
  c.Put(Entry("1", kAgentA, "spiffe://example.org/cluster"));
  c.Put(Entry("2", "spiffe://example.org/cluster", "spiffe://example.org/db"));
  c.Put(Entry("3", "spiffe://example.org/db", "spiffe://example.org/cluster"));  // cycle
  EXPECT_EQ(Ids(c.ComputeAuthorized(kAgentA, {}, absl::Now())),
            (std::vector<std::string>{"1", "2", "3"}));
}

TEST(EntryCacheTest, ExpiredEntriesLeftOut) {
  EntryCache c;
  RegistrationEntry e = Entry("1", kAgentA, "spiffe://example.org/w");
  e.set_entry_expiry(absl::ToUnixSeconds(absl::Now()) - 1);
  c.Put(e);
  EXPECT_TRUE(c.ComputeAuthorized(kAgentA, {}, absl::Now()).entries.empty());
}

TEST(EntryCacheTest, UpdateMovesParent) {
  EntryCache c;
  c.Put(Entry("1", kAgentA, "spiffe://example.org/w"));
  std::optional<RegistrationEntry> old = c.Put(Entry("1", kAgentB, "spiffe://example.org/w"));
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->parent_id(), kAgentA);
  EXPECT_TRUE(c.ComputeAuthorized(kAgentA, {}, absl::Now()).entries.empty());
  EXPECT_EQ(c.ComputeAuthorized(kAgentB, {}, absl::Now()).entries.size(), 1u);
  c.Remove("1");
  EXPECT_EQ(c.size(), 0u);
}

class SyncHubTest : public ::testing::Test {
 protected:
  std::shared_ptr<SyncSubscription> Subscribe(const std::string& agent,
                                              std::vector<Selector> sels = {}) {
    auto sub = hub_.Subscribe(agent, sels);
    EXPECT_TRUE(hub_.Wait(sub, absl::Now()).ok());  // initial state
    hub_.Watch(sub, cache_.ComputeAuthorized(agent, sels, absl::Now()).parents);
    return sub;
  }
  bool Pending(const std::shared_ptr<SyncSubscription>& s) {
    return hub_.Wait(s, absl::Now()).ok();
  }
  EntryCache cache_;
  SyncHub hub_;
};

TEST_F(SyncHubTest, WakesOnlyTheAffectedAgent) {
  auto a = Subscribe(kAgentA);
  auto b = Subscribe(kAgentB);
  RegistrationEntry e = Entry("1", kAgentA, "spiffe://example.org/w");
  EXPECT_EQ(hub_.EntryChanged(cache_.Put(e), e), 1u);
  EXPECT_TRUE(Pending(a));
  EXPECT_FALSE(Pending(b));
}

TEST_F(SyncHubTest, MovingAnEntryWakesOldAndNewParent) {
  auto a = Subscribe(kAgentA);
  auto b = Subscribe(kAgentB);
  RegistrationEntry before = Entry("1", kAgentA, "spiffe://example.org/w");
  RegistrationEntry after = Entry("1", kAgentB, "spiffe://example.org/w");
  EXPECT_EQ(hub_.EntryChanged(before, after), 2u);
  EXPECT_TRUE(Pending(a));
  EXPECT_TRUE(Pending(b));
}

TEST_F(SyncHubTest, ChildOfAuthorizedEntryWakesAgent) {
  RegistrationEntry parent = Entry("1", kAgentA, "spiffe://example.org/cluster");
  cache_.Put(parent);
  auto a = Subscribe(kAgentA);
  auto b = Subscribe(kAgentB);
  RegistrationEntry child = Entry("2", "spiffe://example.org/cluster", "spiffe://example.org/db");
  EXPECT_EQ(hub_.EntryChanged(std::nullopt, child), 1u);
  EXPECT_TRUE(Pending(a));
  EXPECT_FALSE(Pending(b));
}

TEST_F(SyncHubTest, NodeAliasWakesMatchingAgents) {
  auto a = Subscribe(kAgentA, {Sel("x509pop", "subject:cn:n1")});
  auto b = Subscribe(kAgentB, {Sel("x509pop", "subject:cn:n2")});
  RegistrationEntry alias =
      Entry("n", kServer, "spiffe://example.org/nodes", {Sel("x509pop", "subject:cn:n1")}, true);
  EXPECT_EQ(hub_.EntryChanged(std::nullopt, alias), 1u);
  EXPECT_TRUE(Pending(a));
  EXPECT_FALSE(Pending(b));
}

TEST_F(SyncHubTest, CloseAgentEndsItsStreams) {
  auto a = Subscribe(kAgentA);
  auto b = Subscribe(kAgentB);
  EXPECT_EQ(hub_.CloseAgent(kAgentA, absl::PermissionDeniedError("agent is banned")), 1u);
  absl::Status st = hub_.Wait(a, absl::Now() + absl::Seconds(5));
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "agent is banned");
  EXPECT_FALSE(Pending(b));
}

TEST_F(SyncHubTest, WakeAllForBundleChange) {
  auto a = Subscribe(kAgentA);
  auto b = Subscribe(kAgentB);
  EXPECT_EQ(hub_.WakeAll(), 2u);
  EXPECT_TRUE(Pending(a));
  EXPECT_TRUE(Pending(b));
}

TEST_F(SyncHubTest, WaitBlocksUntilWoken) {
  auto a = Subscribe(kAgentA);
  ASSERT_EQ(hub_.Wait(a, absl::Now()).code(), absl::StatusCode::kDeadlineExceeded);
  std::thread t([&] {
    RegistrationEntry e = Entry("1", kAgentA, "spiffe://example.org/w");
    EXPECT_EQ(hub_.EntryChanged(std::nullopt, e), 1u);
  });
  absl::Status s = hub_.Wait(a, absl::Now() + absl::Seconds(60));
  t.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(hub_.Wakeups(a), 1u);
  // The wake-up was consumed by the Wait.
  EXPECT_EQ(hub_.Wait(a, absl::Now()).code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(SyncHubTest, ScalesTo100kEntriesAnd1000Agents) {
  std::vector<std::shared_ptr<SyncSubscription>> subs;
  for (int i = 0; i < 1000; ++i) {
    for (int j = 0; j < 100; ++j) {
      cache_.Put(Entry(absl::StrCat("e", i, "-", j), absl::StrCat(kAgentA, i),
                       absl::StrCat("spiffe://example.org/w", i, "-", j)));
    }
  }
  ASSERT_EQ(cache_.size(), 100000u);
  // Correctness at this size only; the time it takes is bench/ row 2's
  // business, not a unit test's.
  for (int i = 0; i < 1000; ++i) subs.push_back(Subscribe(absl::StrCat(kAgentA, i)));
  RegistrationEntry e = Entry("new", absl::StrCat(kAgentA, 500), "spiffe://example.org/new");
  EXPECT_EQ(hub_.EntryChanged(cache_.Put(e), e), 1u);
  EXPECT_TRUE(Pending(subs[500]));
  EXPECT_FALSE(Pending(subs[499]));
  EXPECT_EQ(cache_.ComputeAuthorized(absl::StrCat(kAgentA, 500), {}, absl::Now()).entries.size(),
            101u);
  for (auto& s : subs) hub_.Unsubscribe(s);
  EXPECT_EQ(hub_.subscribers(), 0u);
}

}  // namespace
}  // namespace signet::server
