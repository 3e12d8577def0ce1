#include "agent/entry_store.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using Entries = google::protobuf::RepeatedPtrField<signet::types::RegistrationEntry>;

signet::types::RegistrationEntry Entry(const std::string& id, const std::string& spiffe_id,
                                       int64_t revision = 1,
                                       const std::string& uid_selector = "uid:1000") {
  signet::types::RegistrationEntry e;
  e.set_id(id);
  e.set_spiffe_id(spiffe_id);
  e.set_parent_id("spiffe://example.org/agent");
  e.set_revision_number(revision);
  signet::types::Selector* s = e.add_selectors();
  s->set_type("unix");
  s->set_value(uid_selector);
  return e;
}

Entries Set(std::vector<signet::types::RegistrationEntry> v) {
  Entries out;
  for (auto& e : v) *out.Add() = std::move(e);
  return out;
}

std::shared_ptr<const X509SvidMaterial> Svid(absl::Time not_after, const std::string& tag = "c") {
  auto m = std::make_shared<X509SvidMaterial>();
  m->chain_der = tag;
  m->key_der = "k";
  m->not_before = not_after - absl::Hours(1);
  m->not_after = not_after;
  return m;
}

std::vector<std::string> Ids(const std::vector<std::shared_ptr<const WorkloadEntry>>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e->id);
  return out;
}

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

TEST(EntryStoreTest, KeepsServableEntriesSortedBySpiffeIdThenId) {
  EntryStore store;
  signet::types::RegistrationEntry node = Entry("n", "spiffe://example.org/node");
  node.set_node(true);
  signet::types::RegistrationEntry bare = Entry("s", "spiffe://example.org/bare");
  bare.clear_selectors();
  EXPECT_TRUE(store.Apply(
      Set({Entry("b", "spiffe://example.org/z"), node, bare, Entry("c", "spiffe://example.org/a"),
           Entry("a", "spiffe://example.org/a")})));
  EXPECT_EQ(store.size(), 3u);
  std::vector<std::shared_ptr<const WorkloadEntry>> v = store.Servable(kNow);
  EXPECT_THAT(Ids(v), ElementsAre("a", "c", "b"));
  EXPECT_EQ(v[0]->selectors.get(), (std::vector<attestors::Selector>{{"unix", "uid:1000"}}));
  EXPECT_EQ(v[0]->svid, nullptr);
  EXPECT_THAT(store.Due(kNow), ElementsAre("a", "b", "c"));
}

TEST(EntryStoreTest, SnapshotsShareEntriesInsteadOfCopying) {
  EntryStore store;
  ASSERT_TRUE(store.Apply(
      Set({Entry("a", "spiffe://example.org/a"), Entry("b", "spiffe://example.org/b")})));
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(1)), kNow + absl::Minutes(30)));
  std::vector<std::shared_ptr<const WorkloadEntry>> s1 = store.Servable(kNow);
  std::vector<std::shared_ptr<const WorkloadEntry>> s2 = store.Servable(kNow);
  ASSERT_EQ(s1.size(), 2u);
  // Same objects, not equal copies: the store and both snapshots hold them.
  EXPECT_EQ(s1[0].get(), s2[0].get());
  EXPECT_EQ(s1[1].get(), s2[1].get());
  EXPECT_EQ(s1[0].use_count(), 3);
  EXPECT_EQ(store.Find("a").get(), s1[0].get());

  // An unchanged sync keeps every entry; a changed entry alone is replaced.
  EXPECT_FALSE(store.Apply(
      Set({Entry("a", "spiffe://example.org/a"), Entry("b", "spiffe://example.org/b")})));
  EXPECT_EQ(store.Find("a").get(), s1[0].get());
  signet::types::RegistrationEntry b2 = Entry("b", "spiffe://example.org/b", 2);
  b2.set_hint("web");
  EXPECT_TRUE(store.Apply(Set({Entry("a", "spiffe://example.org/a"), b2})));
  std::vector<std::shared_ptr<const WorkloadEntry>> s3 = store.Servable(kNow);
  EXPECT_EQ(s3[0].get(), s1[0].get());
  EXPECT_NE(s3[1].get(), s1[1].get());
  EXPECT_EQ(s3[1]->hint, "web");
  // The old snapshot still sees the entry as it was.
  EXPECT_EQ(s1[1]->hint, "");

  // A new SVID is a new entry object; the older snapshots keep theirs.
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(2), "c2"), kNow + absl::Hours(1)));
  EXPECT_EQ(s1[0]->svid->chain_der, "c");
  EXPECT_EQ(store.Find("a")->svid->chain_der, "c2");
}

TEST(EntryStoreTest, EntriesWithTheSameSelectorsShareThem) {
  EntryStore store;
  ASSERT_TRUE(
      store.Apply(Set({Entry("a", "spiffe://example.org/a"), Entry("b", "spiffe://example.org/b"),
                       Entry("c", "spiffe://example.org/c", 1, "uid:7")})));
  std::shared_ptr<const WorkloadEntry> a = store.Find("a");
  EXPECT_TRUE(a->selectors.SharesWith(store.Find("b")->selectors));
  EXPECT_FALSE(a->selectors.SharesWith(store.Find("c")->selectors));
  EXPECT_EQ(store.Find("c")->selectors[0].value, "uid:7");
  // A later entry shares the kept entries' selectors, and so does a new
  // SVID's entry.
  ASSERT_TRUE(
      store.Apply(Set({Entry("a", "spiffe://example.org/a"), Entry("b", "spiffe://example.org/b"),
                       Entry("c", "spiffe://example.org/c", 1, "uid:7"),
                       Entry("d", "spiffe://example.org/d", 1, "uid:7")})));
  EXPECT_TRUE(store.Find("d")->selectors.SharesWith(store.Find("c")->selectors));
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(1)), kNow + absl::Minutes(30)));
  EXPECT_TRUE(store.Find("a")->selectors.SharesWith(store.Find("b")->selectors));
}

TEST(EntryStoreTest, MintsUntilRotationThenAgain) {
  EntryStore store;
  ASSERT_TRUE(store.Apply(Set({Entry("a", "spiffe://example.org/a")})));
  EXPECT_THAT(store.Due(kNow), ElementsAre("a"));
  EXPECT_EQ(store.NextWake(kNow), absl::InfiniteFuture());
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(1)), kNow + absl::Minutes(30)));
  EXPECT_THAT(store.Due(kNow), IsEmpty());
  EXPECT_EQ(store.NextWake(kNow), kNow + absl::Minutes(30));
  EXPECT_THAT(store.Due(kNow + absl::Minutes(30)), ElementsAre("a"));
  EXPECT_FALSE(store.SetSvid("gone", Svid(kNow + absl::Hours(1)), kNow));
}

TEST(EntryStoreTest, RetryWaits) {
  EntryStore store;
  ASSERT_TRUE(store.Apply(Set({Entry("a", "spiffe://example.org/a")})));
  store.SetRetry("a", kNow + absl::Seconds(5));
  EXPECT_THAT(store.Due(kNow), IsEmpty());
  EXPECT_EQ(store.NextWake(kNow), kNow + absl::Seconds(5));
  EXPECT_THAT(store.Due(kNow + absl::Seconds(5)), ElementsAre("a"));
  // A sync keeps the retry time (a new revision alone changes nothing served).
  EXPECT_FALSE(store.Apply(Set({Entry("a", "spiffe://example.org/a", 2)})));
  EXPECT_THAT(store.Due(kNow), IsEmpty());
  // A minted SVID clears it.
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(1)), kNow + absl::Minutes(30)));
  EXPECT_EQ(store.NextWake(kNow), kNow + absl::Minutes(30));
}

TEST(EntryStoreTest, NewRevisionKeepsServingTheSvidUntilReminted) {
  EntryStore store;
  ASSERT_TRUE(store.Apply(Set({Entry("a", "spiffe://example.org/a")})));
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(1)), kNow + absl::Minutes(30)));
  // Same SPIFFE ID, new selectors and revision.
  ASSERT_TRUE(store.Apply(Set({Entry("a", "spiffe://example.org/a", 2, "uid:7")})));
  EXPECT_THAT(store.Due(kNow), ElementsAre("a"));
  std::vector<std::shared_ptr<const WorkloadEntry>> v = store.Servable(kNow);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0]->svid, nullptr);
  EXPECT_EQ(v[0]->selectors[0].value, "uid:7");
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(1)), kNow + absl::Minutes(30)));
  EXPECT_THAT(store.Due(kNow), IsEmpty());
  // A new revision with nothing the Workload API serves changed keeps the
  // entry object but is re-minted (e.g. a new X.509-SVID TTL).
  std::shared_ptr<const WorkloadEntry> before = store.Find("a");
  EXPECT_FALSE(store.Apply(Set({Entry("a", "spiffe://example.org/a", 3, "uid:7")})));
  EXPECT_EQ(store.Find("a").get(), before.get());
  EXPECT_THAT(store.Due(kNow), ElementsAre("a"));
}

TEST(EntryStoreTest, NewSpiffeIdDropsTheSvid) {
  EntryStore store;
  ASSERT_TRUE(store.Apply(Set({Entry("a", "spiffe://example.org/a")})));
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(1)), kNow + absl::Minutes(30)));
  ASSERT_TRUE(store.Apply(Set({Entry("a", "spiffe://example.org/other", 2)})));
  std::vector<std::shared_ptr<const WorkloadEntry>> v = store.Servable(kNow);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0]->spiffe_id, "spiffe://example.org/other");
  EXPECT_EQ(v[0]->svid, nullptr);
  EXPECT_THAT(store.Due(kNow), ElementsAre("a"));
}

TEST(EntryStoreTest, ExpiredSvidIsNotServed) {
  EntryStore store;
  ASSERT_TRUE(store.Apply(Set({Entry("a", "spiffe://example.org/a")})));
  ASSERT_TRUE(store.SetSvid("a", Svid(kNow + absl::Hours(1)), kNow + absl::Minutes(30)));
  std::vector<std::shared_ptr<const WorkloadEntry>> v = store.Servable(kNow + absl::Hours(1));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0]->svid, nullptr);
  EXPECT_THAT(store.Due(kNow + absl::Hours(1)), ElementsAre("a"));
}

TEST(EntryStoreTest, ExpiredEntryIsNeitherServedNorMinted) {
  EntryStore store;
  signet::types::RegistrationEntry e = Entry("a", "spiffe://example.org/a");
  e.set_entry_expiry(absl::ToUnixSeconds(kNow) + 60);
  ASSERT_TRUE(store.Apply(Set({e})));
  EXPECT_EQ(store.Servable(kNow).size(), 1u);
  EXPECT_THAT(store.Servable(kNow + absl::Seconds(60)), IsEmpty());
  EXPECT_THAT(store.Due(kNow + absl::Seconds(60)), IsEmpty());
}

TEST(EntryStoreTest, RemovedEntriesAreDroppedAndDuplicatesKeepTheLast) {
  EntryStore store;
  ASSERT_TRUE(store.Apply(
      Set({Entry("a", "spiffe://example.org/a"), Entry("b", "spiffe://example.org/b")})));
  EXPECT_TRUE(store.Apply(Set({Entry("b", "spiffe://example.org/b")})));
  EXPECT_EQ(store.Find("a"), nullptr);
  EXPECT_THAT(Ids(store.Servable(kNow)), ElementsAre("b"));
  EXPECT_TRUE(store.Apply(
      Set({Entry("b", "spiffe://example.org/b1"), Entry("b", "spiffe://example.org/b2")})));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.Find("b")->spiffe_id, "spiffe://example.org/b2");
  EXPECT_TRUE(store.Apply(Set({})));
  EXPECT_EQ(store.size(), 0u);
}

}  // namespace
}  // namespace signet::agent
