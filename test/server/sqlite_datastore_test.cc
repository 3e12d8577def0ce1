// Tests of the SQLite datastore against real database files.
#include "server/datastore/sqlite_datastore.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/datastore/datastore.h"
#include "signet/types.pb.h"

namespace signet::server {
namespace {

using signet::types::AttestedAgent;
using signet::types::Bundle;
using signet::types::JoinToken;
using signet::types::RegistrationEntry;
using signet::types::Selector;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// TempDir is a fresh /tmp/sg-XXXXXX directory removed on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sg-XXXXXX";
    const char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p != nullptr ? p : "/nonexistent";
  }
  ~TempDir() {
    nftw(
        path_.c_str(),
        [](const char* f, const struct stat*, int, struct FTW*) {
          chmod(f, 0700);  // so that read-only subdirectories can be emptied
          return remove(f) == 0 || errno == ENOENT ? 0 : 0;
        },
        16, FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
}

// An unprivileged uid ("nobody") for the read-only directory test as root.
constexpr uid_t kNobody = 65534;

constexpr char kTd[] = "spiffe://example.org";

Selector Sel(const std::string& type, const std::string& value) {
  Selector s;
  s.set_type(type);
  s.set_value(value);
  return s;
}

RegistrationEntry Entry(const std::string& spiffe_id, const std::string& parent_id,
                        const std::vector<Selector>& sels) {
  RegistrationEntry e;
  e.set_spiffe_id(spiffe_id);
  e.set_parent_id(parent_id);
  for (const Selector& s : sels) *e.add_selectors() = s;
  return e;
}

std::vector<std::string> SpiffeIds(const std::vector<RegistrationEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.spiffe_id());
  return out;
}

// SqlOne runs `sql` on a separate raw connection and returns the first column
// of the first row as text ("" when no row).
std::string SqlOne(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

class SqliteDatastoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("signet.db");
    Open();
  }
  void Open(const SqliteDatastoreOptions& opts = {}) {
    ds_.reset();
    auto ds = OpenSqliteDatastoreWithOptions(path_, opts);
    ASSERT_TRUE(ds.ok()) << ds.status();
    ds_ = std::move(*ds);
  }
  RegistrationEntry MustCreate(const RegistrationEntry& e) {
    auto created = ds_->CreateEntry(e);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : RegistrationEntry();
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Datastore> ds_;
};

// --- Entries ---------------------------------------------------------------

TEST_F(SqliteDatastoreTest, EntryRoundTripKeepsAllFields) {
  RegistrationEntry e = Entry(absl::StrCat(kTd, "/web"), absl::StrCat(kTd, "/agent"),
                              {Sel("unix", "uid:1000"), Sel("unix", "gid:50")});
  e.set_x509_svid_ttl(3600);
  e.set_jwt_svid_ttl(300);
  e.add_dns_names("web.example.org");
  e.add_dns_names("web");
  e.set_hint("external");
  e.set_entry_expiry(1999999999);
  e.set_admin(true);
  e.set_downstream(true);
  e.set_node(true);
  e.add_federates_with("spiffe://other.org");
  e.set_id("ignored");
  e.set_created_at(5);
  e.set_revision_number(9);

  auto before = absl::ToUnixSeconds(absl::Now());
  RegistrationEntry created = MustCreate(e);
  EXPECT_TRUE(std::regex_match(
      created.id(),
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << created.id();
  EXPECT_GE(created.created_at(), before);
  EXPECT_EQ(created.revision_number(), 0);

  auto got = ds_->GetEntry(created.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), created.SerializeAsString()) << got->DebugString();
  RegistrationEntry want = e;
  want.set_id(created.id());
  want.set_created_at(created.created_at());
  want.set_revision_number(0);
  EXPECT_EQ(got->SerializeAsString(), want.SerializeAsString()) << got->DebugString();
  EXPECT_EQ(*ds_->CountEntries(), 1);
}

TEST_F(SqliteDatastoreTest, CreateUsesInjectedClock) {
  SqliteDatastoreOptions opts;
  opts.now = [] { return absl::FromUnixSeconds(1234567); };
  Open(opts);
  RegistrationEntry e = MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  EXPECT_EQ(e.created_at(), 1234567);
}

TEST_F(SqliteDatastoreTest, CreateSimilarEntryIsAlreadyExists) {
  MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1"), Sel("g", "2")}));
  // Same selector set in another order.
  auto dup =
      ds_->CreateEntry(Entry("spiffe://td/a", "spiffe://td/p", {Sel("g", "2"), Sel("u", "1")}));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.status().message(), HasSubstr("similar entry already exists"));
  EXPECT_EQ(*ds_->CountEntries(), 1);
  // Any difference makes a distinct entry.
  MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  MustCreate(Entry("spiffe://td/a", "spiffe://td/q", {Sel("u", "1"), Sel("g", "2")}));
  MustCreate(Entry("spiffe://td/b", "spiffe://td/p", {Sel("u", "1"), Sel("g", "2")}));
  EXPECT_EQ(*ds_->CountEntries(), 4);
}

TEST_F(SqliteDatastoreTest, CreateDropsDuplicateSelectors) {
  RegistrationEntry e = MustCreate(
      Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1"), Sel("u", "1"), Sel("g", "2")}));
  ASSERT_EQ(e.selectors_size(), 2);
  auto got = ds_->GetEntry(e.id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->selectors_size(), 2);
}

TEST_F(SqliteDatastoreTest, GetEntryNotFound) {
  auto got = ds_->GetEntry("nope");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("entry nope not found"));
}

TEST_F(SqliteDatastoreTest, UpdateEntryNotFound) {
  RegistrationEntry e = Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")});
  e.set_id("nope");
  auto got = ds_->UpdateEntry(e);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("entry nope not found"));
}

TEST_F(SqliteDatastoreTest, DeleteEntryNotFound) {
  auto got = ds_->DeleteEntry("nope");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("entry nope not found"));
}

TEST_F(SqliteDatastoreTest, UpdateEntryReplacesFieldsAndBumpsRevisionNumber) {
  RegistrationEntry e = MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  RegistrationEntry upd = Entry("spiffe://td/b", "spiffe://td/q", {Sel("g", "2"), Sel("g", "3")});
  upd.set_id(e.id());
  upd.add_dns_names("b.example");
  upd.set_x509_svid_ttl(60);
  upd.set_created_at(1);  // ignored
  auto got = ds_->UpdateEntry(upd);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->revision_number(), 1);
  EXPECT_EQ(got->created_at(), e.created_at());
  auto read = ds_->GetEntry(e.id());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->SerializeAsString(), got->SerializeAsString());
  EXPECT_EQ(read->spiffe_id(), "spiffe://td/b");
  EXPECT_EQ(read->selectors_size(), 2);
  EXPECT_THAT(read->dns_names(), ElementsAre("b.example"));
  ASSERT_TRUE(ds_->UpdateEntry(*read).ok());
  EXPECT_EQ(ds_->GetEntry(e.id())->revision_number(), 2);
  // The old selector no longer matches.
  ListEntriesFilter f;
  f.selectors = {Sel("u", "1")};
  f.match = "any";
  EXPECT_TRUE(ds_->ListEntries(f)->entries.empty());
}

TEST_F(SqliteDatastoreTest, UpdateEntryIntoSimilarEntryIsAlreadyExists) {
  MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  RegistrationEntry b = MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "2")}));
  b.clear_selectors();
  *b.add_selectors() = Sel("u", "1");
  auto got = ds_->UpdateEntry(b);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(got.status().message(), HasSubstr("similar entry already exists"));
  EXPECT_EQ(ds_->GetEntry(b.id())->selectors(0).value(), "2");  // unchanged
}

TEST_F(SqliteDatastoreTest, DeleteEntryReturnsItAndCascadesSelectors) {
  RegistrationEntry e = MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  auto del = ds_->DeleteEntry(e.id());
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(del->SerializeAsString(), e.SerializeAsString());
  EXPECT_EQ(ds_->GetEntry(e.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*ds_->CountEntries(), 0);
  ds_.reset();
  EXPECT_EQ(SqlOne(path_, "SELECT COUNT(*) FROM entry_selectors"), "0");
}

class SelectorMatchTest : public SqliteDatastoreTest {
 protected:
  void SetUp() override {
    SqliteDatastoreTest::SetUp();
    MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
    MustCreate(Entry("spiffe://td/ab", "spiffe://td/p", {Sel("u", "1"), Sel("g", "2")}));
    MustCreate(
        Entry("spiffe://td/abc", "spiffe://td/p", {Sel("u", "1"), Sel("g", "2"), Sel("x", "3")}));
    MustCreate(Entry("spiffe://td/c", "spiffe://td/q", {Sel("x", "3")}));
  }
  std::vector<std::string> Match(const std::string& mode, const std::vector<Selector>& sels) {
    ListEntriesFilter f;
    f.selectors = sels;
    f.match = mode;
    auto page = ds_->ListEntries(f);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? SpiffeIds(page->entries) : std::vector<std::string>{"<error>"};
  }
};

TEST_F(SelectorMatchTest, Exact) {
  EXPECT_THAT(Match("exact", {Sel("g", "2"), Sel("u", "1")}), ElementsAre("spiffe://td/ab"));
  EXPECT_THAT(Match("exact", {Sel("u", "1")}), ElementsAre("spiffe://td/a"));
  EXPECT_THAT(Match("exact", {Sel("u", "9")}), ElementsAre());
}

TEST_F(SelectorMatchTest, Subset) {
  EXPECT_THAT(Match("subset", {Sel("u", "1"), Sel("g", "2")}),
              UnorderedElementsAre("spiffe://td/a", "spiffe://td/ab"));
  EXPECT_THAT(
      Match("subset", {Sel("u", "1"), Sel("g", "2"), Sel("x", "3"), Sel("z", "9")}),
      UnorderedElementsAre("spiffe://td/a", "spiffe://td/ab", "spiffe://td/abc", "spiffe://td/c"));
  EXPECT_THAT(Match("subset", {Sel("g", "2")}), ElementsAre());
}

TEST_F(SelectorMatchTest, Superset) {
  EXPECT_THAT(Match("superset", {Sel("u", "1"), Sel("g", "2")}),
              UnorderedElementsAre("spiffe://td/ab", "spiffe://td/abc"));
  EXPECT_THAT(Match("superset", {Sel("x", "3")}),
              UnorderedElementsAre("spiffe://td/abc", "spiffe://td/c"));
  // Superset is the default mode.
  EXPECT_THAT(Match("", {Sel("x", "3")}), UnorderedElementsAre("spiffe://td/abc", "spiffe://td/c"));
}

TEST_F(SelectorMatchTest, Any) {
  EXPECT_THAT(Match("any", {Sel("g", "2"), Sel("x", "3")}),
              UnorderedElementsAre("spiffe://td/ab", "spiffe://td/abc", "spiffe://td/c"));
  EXPECT_THAT(Match("any", {Sel("z", "9")}), ElementsAre());
}

TEST_F(SelectorMatchTest, FiltersCombineWithIds) {
  ListEntriesFilter f;
  f.parent_id = "spiffe://td/p";
  f.selectors = {Sel("x", "3")};
  f.match = "any";
  EXPECT_THAT(SpiffeIds(ds_->ListEntries(f)->entries), ElementsAre("spiffe://td/abc"));
  ListEntriesFilter g;
  g.spiffe_id = "spiffe://td/ab";
  EXPECT_THAT(SpiffeIds(ds_->ListEntries(g)->entries), ElementsAre("spiffe://td/ab"));
  ListEntriesFilter h;
  h.parent_id = "spiffe://td/q";
  EXPECT_THAT(SpiffeIds(ds_->ListEntries(h)->entries), ElementsAre("spiffe://td/c"));
  EXPECT_EQ(ds_->ListEntries(ListEntriesFilter())->entries.size(), 4u);
}

TEST_F(SelectorMatchTest, UnknownModeIsInvalidArgument) {
  ListEntriesFilter f;
  f.selectors = {Sel("u", "1")};
  f.match = "most";
  auto page = ds_->ListEntries(f);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status().message(), HasSubstr("unknown selector match mode \"most\""));
}

TEST_F(SqliteDatastoreTest, ListEntriesPagesInIdOrder) {
  for (int i = 0; i < 7; ++i) {
    MustCreate(Entry(absl::StrCat("spiffe://td/w", i), "spiffe://td/p", {Sel("u", "1")}));
  }
  ListEntriesFilter f;
  f.page_size = 3;
  std::vector<std::string> ids;
  std::vector<size_t> sizes;
  do {
    auto page = ds_->ListEntries(f);
    ASSERT_TRUE(page.ok()) << page.status();
    sizes.push_back(page->entries.size());
    for (const auto& e : page->entries) ids.push_back(e.id());
    if (!page->next_page_token.empty()) {
      EXPECT_EQ(page->next_page_token, page->entries.back().id());
    }
    f.page_token = page->next_page_token;
  } while (!f.page_token.empty() && sizes.size() < 10);
  EXPECT_THAT(sizes, ElementsAre(3u, 3u, 1u));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 7u);

  // An exact multiple ends without an empty extra page.
  f.page_token.clear();
  f.page_size = 7;
  auto all = ds_->ListEntries(f);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->entries.size(), 7u);
  EXPECT_EQ(all->next_page_token, "");
}

TEST_F(SqliteDatastoreTest, ListEntriesClampsPageSize) {
  // Enough entries to exceed the clamp, written quickly through a raw
  // connection (one transaction) with the same schema.
  ds_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db,
                   "BEGIN;"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1005)"
                   " INSERT INTO entries (id, spiffe_id, parent_id, created_at)"
                   " SELECT printf('%08d', i), 'spiffe://td/w' || i, 'spiffe://td/p', 0 FROM n;"
                   "COMMIT;",
                   nullptr, nullptr, nullptr),
      SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  Open();
  ListEntriesFilter f;
  f.page_size = 5000;
  auto page = ds_->ListEntries(f);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->entries.size(), static_cast<size_t>(kMaxListPageSize));
  EXPECT_EQ(page->next_page_token, "00001000");
  f.page_token = page->next_page_token;
  page = ds_->ListEntries(f);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 5u);
  EXPECT_EQ(page->next_page_token, "");
  // page_size 0 means everything.
  EXPECT_EQ(ds_->ListEntries(ListEntriesFilter())->entries.size(), 1005u);
}

TEST_F(SqliteDatastoreTest, ListEntriesNegativePageSizeIsInvalidArgument) {
  ListEntriesFilter f;
  f.page_size = -1;
  EXPECT_EQ(ds_->ListEntries(f).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteDatastoreTest, ListEntriesByParents) {
  MustCreate(Entry("spiffe://td/a1", "spiffe://td/agent1", {Sel("u", "1"), Sel("g", "1")}));
  MustCreate(Entry("spiffe://td/a2", "spiffe://td/agent1", {Sel("u", "2")}));
  MustCreate(Entry("spiffe://td/b1", "spiffe://td/agent2", {Sel("u", "1")}));
  MustCreate(Entry("spiffe://td/c1", "spiffe://td/agent3", {Sel("u", "1")}));
  auto got = ds_->ListEntriesByParents(
      {"spiffe://td/agent1", "spiffe://td/agent2", "spiffe://td/agent1", "spiffe://td/none"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(SpiffeIds(*got),
              UnorderedElementsAre("spiffe://td/a1", "spiffe://td/a2", "spiffe://td/b1"));
  for (const auto& e : *got) {
    if (e.spiffe_id() == "spiffe://td/a1") {
      EXPECT_EQ(e.selectors_size(), 2);
    }
  }
  EXPECT_TRUE(ds_->ListEntriesByParents({})->empty());
}

TEST_F(SqliteDatastoreTest, ListEntriesByParentsSpansManyChunks) {
  // 1500 parents (three query chunks); every 100th has one entry.
  std::vector<std::string> parents;
  for (int i = 0; i < 1500; ++i) parents.push_back(absl::StrCat("spiffe://td/agent", i));
  for (int i = 0; i < 1500; i += 100) {
    MustCreate(Entry(absl::StrCat("spiffe://td/w", i), parents[i], {Sel("u", "1"), Sel("g", "2")}));
  }
  auto got = ds_->ListEntriesByParents(parents);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 15u);
  for (const auto& e : *got) EXPECT_EQ(e.selectors_size(), 2) << e.DebugString();
  EXPECT_TRUE(std::is_sorted(got->begin(), got->end(),
                             [](const auto& a, const auto& b) { return a.id() < b.id(); }));
}

// --- Attested agents -------------------------------------------------------

AttestedAgent Agent(const std::string& id) {
  AttestedAgent a;
  a.set_spiffe_id(id);
  a.set_attestation_type("join_token");
  a.set_x509_svid_serial("0a1b");
  a.set_x509_svid_expires_at(1700000000);
  *a.add_selectors() = Sel("join_token", "tok");
  *a.add_selectors() = Sel("x", "y");
  a.set_created_at(1600000000);
  a.set_last_seen_at(1650000000);
  return a;
}

TEST_F(SqliteDatastoreTest, AttestedAgentCrud) {
  AttestedAgent a = Agent("spiffe://td/spire/agent/join_token/tok");
  ASSERT_TRUE(ds_->CreateAttestedAgent(a).ok());
  auto got = ds_->GetAttestedAgent(a.spiffe_id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), a.SerializeAsString()) << got->DebugString();

  absl::Status dup = ds_->CreateAttestedAgent(a);
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.message(), HasSubstr("already exists"));

  a.set_banned(true);
  a.set_x509_svid_serial("ff");
  a.clear_selectors();
  *a.add_selectors() = Sel("z", "1");
  ASSERT_TRUE(ds_->UpdateAttestedAgent(a).ok());
  got = ds_->GetAttestedAgent(a.spiffe_id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->SerializeAsString(), a.SerializeAsString()) << got->DebugString();

  EXPECT_EQ(*ds_->CountAttestedAgents(), 1);
  ASSERT_TRUE(ds_->DeleteAttestedAgent(a.spiffe_id()).ok());
  EXPECT_EQ(*ds_->CountAttestedAgents(), 0);
  ds_.reset();
  EXPECT_EQ(SqlOne(path_, "SELECT COUNT(*) FROM node_selectors"), "0");
}

TEST_F(SqliteDatastoreTest, GetAttestedAgentNotFound) {
  auto got = ds_->GetAttestedAgent("spiffe://td/x");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("attested agent spiffe://td/x not found"));
}

TEST_F(SqliteDatastoreTest, UpdateAttestedAgentNotFound) {
  absl::Status s = ds_->UpdateAttestedAgent(Agent("spiffe://td/x"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("attested agent spiffe://td/x not found"));
}

TEST_F(SqliteDatastoreTest, DeleteAttestedAgentNotFound) {
  absl::Status s = ds_->DeleteAttestedAgent("spiffe://td/x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("attested agent spiffe://td/x not found"));
}

TEST_F(SqliteDatastoreTest, ListAttestedAgentsPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ds_->CreateAttestedAgent(Agent(absl::StrCat("spiffe://td/agent", i))).ok());
  }
  EXPECT_EQ(*ds_->CountAttestedAgents(), 5);
  std::string token;
  auto page = ds_->ListAttestedAgents(2, "", &token);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].spiffe_id(), "spiffe://td/agent0");
  EXPECT_EQ((*page)[0].selectors_size(), 2);
  EXPECT_EQ(token, "spiffe://td/agent1");
  page = ds_->ListAttestedAgents(2, token, &token);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->size(), 2u);
  page = ds_->ListAttestedAgents(2, token, &token);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].spiffe_id(), "spiffe://td/agent4");
  EXPECT_EQ(token, "");
  // 0 = all; a null token pointer is allowed.
  page = ds_->ListAttestedAgents(0, "", nullptr);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->size(), 5u);
}

// --- Join tokens -----------------------------------------------------------

JoinToken Token(const std::string& token, absl::Time expires) {
  JoinToken t;
  t.set_token(token);
  t.set_expires_at(absl::ToUnixSeconds(expires));
  t.set_spiffe_id("spiffe://td/node");
  return t;
}

TEST_F(SqliteDatastoreTest, JoinTokenIsConsumedOnce) {
  const absl::Time now = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(ds_->CreateJoinToken(Token("abc", now + absl::Seconds(600))).ok());
  auto t = ds_->ConsumeJoinToken("abc", now);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->token(), "abc");
  EXPECT_EQ(t->spiffe_id(), "spiffe://td/node");
  EXPECT_EQ(t->expires_at(), 1600);
  auto again = ds_->ConsumeJoinToken("abc", now);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(again.status().message(), "join token does not exist or has already been used");
}

TEST_F(SqliteDatastoreTest, UnknownJoinTokenIsNotFound) {
  auto t = ds_->ConsumeJoinToken("nope", absl::Now());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.status().message(), "join token does not exist or has already been used");
}

TEST_F(SqliteDatastoreTest, ExpiredJoinTokenIsNotFoundAndDeleted) {
  const absl::Time now = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(ds_->CreateJoinToken(Token("abc", now)).ok());
  auto t = ds_->ConsumeJoinToken("abc", now);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.status().message(), "join token expired");
  // Deleted: a second attempt sees no token at all.
  t = ds_->ConsumeJoinToken("abc", now - absl::Seconds(10));
  EXPECT_EQ(t.status().message(), "join token does not exist or has already been used");
}

TEST_F(SqliteDatastoreTest, DuplicateJoinTokenIsAlreadyExists) {
  ASSERT_TRUE(ds_->CreateJoinToken(Token("abc", absl::Now() + absl::Hours(1))).ok());
  absl::Status s = ds_->CreateJoinToken(Token("abc", absl::Now() + absl::Hours(1)));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("join token already exists"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("abc")));
}

TEST_F(SqliteDatastoreTest, RacingConsumersOfOneTokenOnlyOneWins) {
  // Four consumers share this datastore's connection, four use their own
  // connection to the same file: both the mutex and BEGIN IMMEDIATE are tested.
  std::vector<std::unique_ptr<Datastore>> others;
  for (int i = 0; i < 4; ++i) {
    auto ds = OpenSqliteDatastore(path_);
    ASSERT_TRUE(ds.ok()) << ds.status();
    others.push_back(std::move(*ds));
  }
  for (int round = 0; round < 5; ++round) {
    const std::string token = absl::StrCat("tok", round);
    ASSERT_TRUE(ds_->CreateJoinToken(Token(token, absl::Now() + absl::Hours(1))).ok());
    std::atomic<int> wins{0}, not_found{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      Datastore* ds = i < 4 ? ds_.get() : others[i - 4].get();
      threads.emplace_back([&, ds] {
        while (!go.load()) std::this_thread::yield();
        auto t = ds->ConsumeJoinToken(token, absl::Now());
        if (t.ok()) {
          ++wins;
        } else if (t.status().code() == absl::StatusCode::kNotFound) {
          ++not_found;
        } else {
          ++other;
        }
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(not_found.load(), 7);
    EXPECT_EQ(other.load(), 0);
  }
}

// --- Bundles, CA records, revision ----------------------------------------

TEST_F(SqliteDatastoreTest, BundlesRoundTrip) {
  Bundle b;
  b.set_trust_domain("example.org");
  b.add_x509_authorities(std::string("\x30\x82\x00\x01", 4));
  auto* k = b.add_jwt_authorities();
  k->set_key_id("kid1");
  k->set_public_key(std::string("\x30\x59\x00", 3));
  k->set_expires_at(123);
  b.set_sequence_number(7);
  b.set_refresh_hint(300);
  ASSERT_TRUE(ds_->SetBundle(b).ok());
  Bundle fed;
  fed.set_trust_domain("another.org");
  fed.set_sequence_number(1);
  ASSERT_TRUE(ds_->SetBundle(fed).ok());

  auto got = ds_->GetBundle("example.org");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), b.SerializeAsString());

  b.set_sequence_number(8);
  ASSERT_TRUE(ds_->SetBundle(b).ok());
  EXPECT_EQ(ds_->GetBundle("example.org")->sequence_number(), 8u);

  auto all = ds_->ListBundles();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].trust_domain(), "another.org");
  EXPECT_EQ((*all)[1].trust_domain(), "example.org");

  auto missing = ds_->GetBundle("nope.org");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("bundle for nope.org not found"));
}

TEST_F(SqliteDatastoreTest, CaRecordsRoundTrip) {
  ASSERT_TRUE(ds_->PutCaRecord({"x509_ca/current", std::string("a\0b", 3)}).ok());
  ASSERT_TRUE(ds_->PutCaRecord({"jwt_key/next", "n"}).ok());
  ASSERT_TRUE(ds_->PutCaRecord({"jwt_key/next", "n2"}).ok());
  auto all = ds_->ListCaRecords();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "jwt_key/next");
  EXPECT_EQ((*all)[0].data, "n2");
  EXPECT_EQ((*all)[1].name, "x509_ca/current");
  EXPECT_EQ((*all)[1].data, std::string("a\0b", 3));
}

TEST_F(SqliteDatastoreTest, RevisionIncreasesOnEveryMutation) {
  int64_t last = *ds_->Revision();
  auto bumped = [&]() {
    int64_t now = *ds_->Revision();
    bool ok = now > last;
    last = now;
    return ok;
  };
  RegistrationEntry e = MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  EXPECT_TRUE(bumped()) << "CreateEntry";
  ASSERT_TRUE(ds_->UpdateEntry(e).ok());
  EXPECT_TRUE(bumped()) << "UpdateEntry";
  ASSERT_TRUE(ds_->DeleteEntry(e.id()).ok());
  EXPECT_TRUE(bumped()) << "DeleteEntry";
  AttestedAgent a = Agent("spiffe://td/agent");
  ASSERT_TRUE(ds_->CreateAttestedAgent(a).ok());
  EXPECT_TRUE(bumped()) << "CreateAttestedAgent";
  ASSERT_TRUE(ds_->UpdateAttestedAgent(a).ok());
  EXPECT_TRUE(bumped()) << "UpdateAttestedAgent";
  ASSERT_TRUE(ds_->DeleteAttestedAgent(a.spiffe_id()).ok());
  EXPECT_TRUE(bumped()) << "DeleteAttestedAgent";
  ASSERT_TRUE(ds_->CreateJoinToken(Token("t", absl::Now() + absl::Hours(1))).ok());
  EXPECT_TRUE(bumped()) << "CreateJoinToken";
  ASSERT_TRUE(ds_->ConsumeJoinToken("t", absl::Now()).ok());
  EXPECT_TRUE(bumped()) << "ConsumeJoinToken";
  Bundle b;
  b.set_trust_domain("td");
  ASSERT_TRUE(ds_->SetBundle(b).ok());
  EXPECT_TRUE(bumped()) << "SetBundle";
  ASSERT_TRUE(ds_->PutCaRecord({"r", "d"}).ok());
  EXPECT_TRUE(bumped()) << "PutCaRecord";
  // Failed mutations and reads do not bump it.
  ASSERT_FALSE(ds_->DeleteEntry("nope").ok());
  ASSERT_TRUE(ds_->ListEntries(ListEntriesFilter()).ok());
  EXPECT_EQ(*ds_->Revision(), last);
  // Reopening does not bump it either (migrations are done).
  Open();
  EXPECT_EQ(*ds_->Revision(), last);
}

// --- Files, durability, failures ------------------------------------------

TEST_F(SqliteDatastoreTest, ReopenKeepsEverything) {
  RegistrationEntry e = MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  ASSERT_TRUE(ds_->CreateAttestedAgent(Agent("spiffe://td/agent")).ok());
  ASSERT_TRUE(ds_->CreateJoinToken(Token("t", absl::Now() + absl::Hours(1))).ok());
  Bundle b;
  b.set_trust_domain("td");
  ASSERT_TRUE(ds_->SetBundle(b).ok());
  ASSERT_TRUE(ds_->PutCaRecord({"r", "d"}).ok());
  int64_t rev = *ds_->Revision();
  Open();
  auto got = ds_->GetEntry(e.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), e.SerializeAsString());
  EXPECT_TRUE(ds_->GetAttestedAgent("spiffe://td/agent").ok());
  EXPECT_TRUE(ds_->ConsumeJoinToken("t", absl::Now()).ok());
  EXPECT_TRUE(ds_->GetBundle("td").ok());
  EXPECT_EQ(ds_->ListCaRecords()->size(), 1u);
  EXPECT_GE(*ds_->Revision(), rev);
}

TEST_F(SqliteDatastoreTest, FilesAreCreatedOwnerOnly) {
  ASSERT_TRUE(ds_->PutCaRecord({"r", "d"}).ok());
  for (const std::string& f : {path_, path_ + "-wal", path_ + "-shm"}) {
    struct stat st;
    ASSERT_EQ(stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  EXPECT_EQ(SqlOne(path_, "PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteDatastoreTest, AcknowledgedWritesSurviveSigkill) {
  constexpr int kN = 25;
  ds_.reset();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto ds = OpenSqliteDatastore(path_);
    if (!ds.ok()) _exit(2);
    for (int i = 0; i < kN; ++i) {
      auto e = (*ds)->CreateEntry(
          Entry(absl::StrCat("spiffe://td/w", i), "spiffe://td/p", {Sel("u", "1")}));
      if (!e.ok()) _exit(3);
      // Acknowledge the write to the parent.
      if (write(fds[1], "x", 1) != 1) _exit(4);
    }
    kill(getpid(), SIGKILL);
    _exit(5);
  }
  close(fds[1]);
  int acks = 0;
  char c;
  while (read(fds[0], &c, 1) == 1) ++acks;
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(acks, kN);
  // The child died with its WAL not checkpointed.
  struct stat st;
  ASSERT_EQ(stat((path_ + "-wal").c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);

  Open();
  EXPECT_EQ(*ds_->CountEntries(), kN);
  EXPECT_EQ(SqlOne(path_, "PRAGMA integrity_check"), "ok");
}

TEST_F(SqliteDatastoreTest, NewerSchemaIsFailedPrecondition) {
  ds_.reset();
  SqlOne(path_, "INSERT INTO schema_version (version) VALUES (999)");
  auto ds = OpenSqliteDatastore(path_);
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ds.status().message(),
              HasSubstr(absl::StrCat("database schema version 999 is newer than this server "
                                     "supports (",
                                     kSqliteSchemaVersion, ")")));
  EXPECT_THAT(ds.status().message(), HasSubstr(path_));
}

TEST_F(SqliteDatastoreTest, MigrationsAreRecorded) {
  EXPECT_EQ(SqlOne(path_, "SELECT MAX(version) FROM schema_version"),
            absl::StrCat(kSqliteSchemaVersion));
  Open();
  EXPECT_EQ(SqlOne(path_, "SELECT COUNT(*) FROM schema_version"),
            absl::StrCat(kSqliteSchemaVersion));
}

TEST(SqliteDatastoreOpenTest, MissingDirectoryIsUnavailableNamingIt) {
  TempDir dir;
  const std::string path = dir.File("no/such/dir/signet.db");
  auto ds = OpenSqliteDatastore(path);
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ds.status().message(), HasSubstr(path));
  EXPECT_THAT(ds.status().message(), HasSubstr("does not exist"));
}

TEST(SqliteDatastoreOpenTest, GarbageFileIsInternal) {
  TempDir dir;
  const std::string path = dir.File("signet.db");
  WriteFile(path, std::string(8192, 'z'));
  auto ds = OpenSqliteDatastore(path);
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(ds.status().message(), HasSubstr(path));
  EXPECT_THAT(ds.status().message(), HasSubstr("not a database"));
}

// OpenAsUid opens `path` in a child running as `uid` and returns the status
// code (as int) the child saw, or -1.
int OpenAsUid(const std::string& path, uid_t uid) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(uid) != 0 || setuid(uid) != 0) _exit(100);
    auto ds = OpenSqliteDatastore(path);
    _exit(static_cast<int>(ds.status().code()));
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(SqliteDatastoreOpenTest, ReadOnlyDirectoryIsUnavailable) {
  TempDir dir;
  const std::string ro = dir.File("ro");
  ASSERT_EQ(mkdir(ro.c_str(), 0500), 0);
  const std::string path = ro + "/signet.db";
  if (geteuid() == 0) {
    // Root ignores the mode; open as an unprivileged user instead (the
    // directory is owned by root, 0555 lets it in but not write).
    ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
    ASSERT_EQ(chmod(ro.c_str(), 0555), 0);
    EXPECT_EQ(OpenAsUid(path, kNobody), static_cast<int>(absl::StatusCode::kUnavailable));
    return;
  }
  auto ds = OpenSqliteDatastore(path);
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ds.status().message(), HasSubstr(path));
  EXPECT_THAT(ds.status().message(), HasSubstr("Permission denied"));
}

TEST_F(SqliteDatastoreTest, BusyDatabaseIsUnavailableAndWritesNothing) {
  SqliteDatastoreOptions opts;
  opts.busy_timeout = absl::Milliseconds(100);
  Open(opts);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto e = ds_->CreateEntry(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(e.status().message(), HasSubstr("database is locked"));
  EXPECT_THAT(e.status().message(), HasSubstr(path_));
  // Reads still work under WAL while another writer holds the lock.
  EXPECT_EQ(*ds_->CountEntries(), 0);
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  // And the datastore recovers.
  MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "1")}));
  EXPECT_EQ(*ds_->CountEntries(), 1);
}

TEST_F(SqliteDatastoreTest, FullDatabaseIsResourceExhaustedAndRollsBack) {
  // Cap the file at its current size plus a little, then write until full.
  const int64_t pages = std::stoll(SqlOne(path_, "PRAGMA page_count"));
  SqliteDatastoreOptions opts;
  opts.max_page_count = pages + 4;
  Open(opts);
  absl::Status last;
  int created = 0;
  for (int i = 0; i < 200 && last.ok(); ++i) {
    RegistrationEntry e = Entry(absl::StrCat("spiffe://td/w", i), "spiffe://td/p",
                                {Sel("u", std::string(2000, 'a' + i % 26) + std::to_string(i))});
    auto r = ds_->CreateEntry(e);
    last = r.status();
    if (r.ok()) ++created;
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted) << last;
  EXPECT_THAT(last.message(), HasSubstr("full"));
  // The failed entry left nothing behind; the datastore still works.
  EXPECT_EQ(*ds_->CountEntries(), created);
  ds_.reset();
  EXPECT_EQ(SqlOne(path_, "SELECT COUNT(*) FROM entry_selectors"), absl::StrCat(created));
  EXPECT_EQ(SqlOne(path_, "PRAGMA integrity_check"), "ok");
  Open();
  EXPECT_EQ(*ds_->CountEntries(), created);
}

TEST_F(SqliteDatastoreTest, RacingSimilarCreatesFromTwoConnectionsOnlyOneWins) {
  auto other = OpenSqliteDatastore(path_);
  ASSERT_TRUE(other.ok()) << other.status();
  for (int round = 0; round < 3; ++round) {
    std::atomic<int> wins{0}, exists{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      Datastore* ds = t % 2 == 0 ? ds_.get() : other->get();
      threads.emplace_back([&, ds] {
        while (!go.load()) std::this_thread::yield();
        auto e = ds->CreateEntry(
            Entry(absl::StrCat("spiffe://td/r", round), "spiffe://td/p", {Sel("u", "1")}));
        if (e.ok()) ++wins;
        if (e.status().code() == absl::StatusCode::kAlreadyExists) ++exists;
      });
    }
    go = true;
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(exists.load(), 7);
  }
  EXPECT_EQ(*ds_->CountEntries(), 3);
}

TEST_F(SqliteDatastoreTest, ListEntriesTakesUpToMaxFilterSelectors) {
  MustCreate(Entry("spiffe://td/a", "spiffe://td/p", {Sel("u", "7")}));
  ListEntriesFilter f;
  for (int i = 0; i < kMaxFilterSelectors; ++i) f.selectors.push_back(Sel("u", std::to_string(i)));
  for (const char* mode : {"exact", "subset", "superset", "any"}) {
    f.match = mode;
    auto page = ds_->ListEntries(f);
    ASSERT_TRUE(page.ok()) << mode << ": " << page.status();
    EXPECT_EQ(page->entries.size(),
              std::string(mode) == "subset" || std::string(mode) == "any" ? 1u : 0u)
        << mode;
  }
  f.selectors.push_back(Sel("u", "extra"));
  auto page = ds_->ListEntries(f);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status().message(), HasSubstr("too many selectors in filter"));
}

TEST_F(SqliteDatastoreTest, ConcurrentWritersFromTwoConnectionsAllSucceed) {
  auto other = OpenSqliteDatastore(path_);
  ASSERT_TRUE(other.ok()) << other.status();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    Datastore* ds = t % 2 == 0 ? ds_.get() : other->get();
    threads.emplace_back([&, ds, t] {
      for (int i = 0; i < 10; ++i) {
        auto e = ds->CreateEntry(
            Entry(absl::StrCat("spiffe://td/t", t, "/", i), "spiffe://td/p", {Sel("u", "1")}));
        if (!e.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*ds_->CountEntries(), 40);
}

}  // namespace
}  // namespace signet::server
