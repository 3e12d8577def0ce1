#include "attestors/unix/unix_attestor.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::attestors {
namespace {

using ::testing::Contains;
using ::testing::Not;

// FakeExe serves `content` and counts reads.
class FakeExe : public ExecutableFile {
 public:
  FakeExe(FileIdentity id, std::string content, int* reads)
      : id_(id), content_(std::move(content)), reads_(reads) {}
  const FileIdentity& identity() const override { return id_; }
  absl::StatusOr<size_t> Read(size_t max, std::string* out) override {
    ++*reads_;
    size_t n = std::min(max, content_.size() - off_);
    out->append(content_, off_, n);
    off_ += n;
    return n;
  }

 private:
  FileIdentity id_;
  std::string content_;
  size_t off_ = 0;
  int* reads_;
};

class FakeProcessInfo : public ProcessInfo {
 public:
  struct Proc {
    ProcessIds ids;
    std::string path;
    std::string content;
    FileIdentity file;
  };
  std::map<pid_t, Proc> procs;
  std::map<uint32_t, std::string> users, groups;
  int reads = 0;

  absl::StatusOr<ProcessIds> Ids(pid_t pid) override {
    auto it = procs.find(pid);
    if (it == procs.end()) return absl::NotFoundError("no such process");
    return it->second.ids;
  }
  absl::StatusOr<std::string> ExePath(pid_t pid) override {
    auto it = procs.find(pid);
    if (it == procs.end()) return absl::NotFoundError("no such process");
    return it->second.path;
  }
  absl::StatusOr<std::unique_ptr<ExecutableFile>> OpenExe(pid_t pid) override {
    auto it = procs.find(pid);
    if (it == procs.end()) return absl::NotFoundError("no such process");
    return std::unique_ptr<ExecutableFile>(
        new FakeExe(it->second.file, it->second.content, &reads));
  }
  int name_lookups = 0;

  std::optional<std::string> UserName(uint32_t uid) override {
    ++name_lookups;
    auto it = users.find(uid);
    if (it == users.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> GroupName(uint32_t gid) override {
    ++name_lookups;
    auto it = groups.find(gid);
    if (it == groups.end()) return std::nullopt;
    return it->second;
  }
};

Selector U(const std::string& v) { return Selector{"unix", v}; }

std::unique_ptr<FakeProcessInfo> Standard() {
  auto p = std::make_unique<FakeProcessInfo>();
  FakeProcessInfo::Proc proc;
  proc.ids.uids = {1000, 1001, 1000, 1001};
  proc.ids.gids = {2000, 2001, 2000, 2001};
  proc.ids.groups = {10, 20};
  proc.path = "/usr/bin/workload";
  proc.content = "binary content";
  proc.file.dev = 1;
  proc.file.ino = 42;
  proc.file.size = static_cast<int64_t>(proc.content.size());
  p->procs[7] = proc;
  p->users[1001] = "alice";
  p->groups[2001] = "staff";
  p->groups[10] = "wheel";
  return p;
}

TEST(UnixAttestorTest, IdSelectorsUseEffectiveIdsAndNames) {
  UnixAttestor a({}, Standard());
  absl::StatusOr<std::vector<Selector>> s = a.Attest(7);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U("uid:1001")));
  EXPECT_THAT(*s, Contains(U("user:alice")));
  EXPECT_THAT(*s, Contains(U("gid:2001")));
  EXPECT_THAT(*s, Contains(U("group:staff")));
  EXPECT_THAT(*s, Contains(U("supplementary_gid:10")));
  EXPECT_THAT(*s, Contains(U("supplementary_gid:20")));
  EXPECT_THAT(*s, Contains(U("supplementary_group:wheel")));
  EXPECT_EQ(s->size(), 7u);  // no name for group 20, no path without discover
  EXPECT_EQ(a.name(), "unix");
}

TEST(UnixAttestorTest, NamesAreCachedForTheirTtl) {
  auto proc = Standard();
  FakeProcessInfo* fake = proc.get();
  absl::Time now = absl::FromUnixSeconds(1000);
  UnixAttestor a({}, std::move(proc), [&now] { return now; });
  ASSERT_TRUE(a.Attest(7).ok());
  const int first = fake->name_lookups;  // user, group, 2 supplementary groups
  EXPECT_EQ(first, 4);
  // Within the TTL: no lookups, even after the database changed.
  fake->users[1001] = "bob";
  now += UnixAttestor::kNameTtl / 2;
  absl::StatusOr<std::vector<Selector>> s = a.Attest(7);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(fake->name_lookups, first);
  EXPECT_THAT(*s, Contains(U("user:alice")));
  // After it: looked up again, new name.
  now += UnixAttestor::kNameTtl;
  s = a.Attest(7);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(fake->name_lookups, 2 * first);
  EXPECT_THAT(*s, Contains(U("user:bob")));
  EXPECT_THAT(*s, Not(Contains(U("user:alice"))));
}

TEST(UnixAttestorTest, NoPathOrHashWithoutDiscoverWorkloadPath) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  UnixAttestor a({}, std::move(p));
  absl::StatusOr<std::vector<Selector>> s = a.Attest(7);
  ASSERT_TRUE(s.ok()) << s.status();
  for (const auto& sel : *s) {
    EXPECT_NE(sel.value.rfind("path:", 0), 0u);
    EXPECT_NE(sel.value.rfind("sha256:", 0), 0u);
  }
  EXPECT_EQ(raw->reads, 0);
}

TEST(UnixAttestorTest, PathAndSha256WithDiscoverWorkloadPath) {
  UnixAttestor a({true, 0}, Standard());
  absl::StatusOr<std::vector<Selector>> s = a.Attest(7);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U("path:/usr/bin/workload")));
  EXPECT_THAT(*s, Contains(U("sha256:" + HexEncode(Sha256("binary content")))));
}

TEST(UnixAttestorTest, RepeatedCallUsesHashCacheWithoutReading) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  UnixAttestor a({true, 0}, std::move(p));
  ASSERT_TRUE(a.Attest(7).ok());
  int reads = raw->reads;
  EXPECT_GT(reads, 0);
  absl::StatusOr<std::vector<Selector>> again = a.Attest(7);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(raw->reads, reads);
  EXPECT_EQ(a.hashes_computed(), 1u);
  EXPECT_THAT(*again, Contains(U("sha256:" + HexEncode(Sha256("binary content")))));
}

TEST(UnixAttestorTest, ChangedFileIdentityIsHashedAgain) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  UnixAttestor a({true, 0}, std::move(p));
  ASSERT_TRUE(a.Attest(7).ok());
  raw->procs[7].content = "new content!!!";
  raw->procs[7].file.ctime_sec = 99;
  absl::StatusOr<std::vector<Selector>> s = a.Attest(7);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(a.hashes_computed(), 2u);
  EXPECT_THAT(*s, Contains(U("sha256:" + HexEncode(Sha256("new content!!!")))));
}

TEST(UnixAttestorTest, ExecutableOverSizeLimitFails) {
  UnixAttestor a({true, 4}, Standard());
  absl::StatusOr<std::vector<Selector>> s = a.Attest(7);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("exceeds size limit"));
}

TEST(UnixAttestorTest, NegativeSizeLimitNeverHashes) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  UnixAttestor a({true, -1}, std::move(p));
  absl::StatusOr<std::vector<Selector>> s = a.Attest(7);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U("path:/usr/bin/workload")));
  for (const auto& sel : *s) EXPECT_NE(sel.value.rfind("sha256:", 0), 0u);
  EXPECT_EQ(raw->reads, 0);
}

TEST(UnixAttestorTest, MissingProcessIsNotFound) {
  UnixAttestor a({}, Standard());
  EXPECT_EQ(a.Attest(8).status().code(), absl::StatusCode::kNotFound);
}

TEST(ParseProcStatusIdsTest, ParsesUidGidGroups) {
  absl::StatusOr<ProcessIds> ids =
      ParseProcStatusIds("Name:\tx\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nGroups:\t9 10 \n");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->uids, (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(ids->gids, (std::vector<uint32_t>{5, 6, 7, 8}));
  EXPECT_EQ(ids->groups, (std::vector<uint32_t>{9, 10}));
}

TEST(ParseProcStatusIdsTest, MissingUidIsInvalidArgument) {
  absl::StatusOr<ProcessIds> ids = ParseProcStatusIds("Gid:\t5\t6\t7\t8\n");
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ids.status().message()), ::testing::HasSubstr("Uid"));
}

TEST(ParseProcStatusIdsTest, MalformedGidIsInvalidArgument) {
  absl::StatusOr<ProcessIds> ids = ParseProcStatusIds("Uid:\t1\nGid:\tx\n");
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
}

// Real /proc of the test process.
TEST(UnixAttestorRealProcTest, SelfSelectorsMatchTheKernel) {
  UnixAttestor a({true, 0}, NewLinuxProcessInfo());
  absl::StatusOr<std::vector<Selector>> s = a.Attest(getpid());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U(absl::StrCat("uid:", geteuid()))));
  EXPECT_THAT(*s, Contains(U(absl::StrCat("gid:", getegid()))));
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_THAT(*s, Contains(U("path:" + std::string(buf, n))));
  std::ifstream f("/proc/self/exe", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_THAT(*s, Contains(U("sha256:" + HexEncode(Sha256(ss.str())))));
  if (geteuid() == 0) {
    EXPECT_THAT(*s, Contains(U("user:root")));
  }
}

TEST(UnixAttestorRealProcTest, SecondCallHitsTheCache) {
  UnixAttestor a({true, 0}, NewLinuxProcessInfo());
  ASSERT_TRUE(a.Attest(getpid()).ok());
  ASSERT_TRUE(a.Attest(getpid()).ok());
  EXPECT_EQ(a.hashes_computed(), 1u);
}

TEST(UnixAttestorRealProcTest, SizeLimitBelowOwnBinaryFails) {
  UnixAttestor a({true, 16}, NewLinuxProcessInfo());
  EXPECT_EQ(a.Attest(getpid()).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(UnixAttestorRealProcTest, GonePidIsNotFound) {
  UnixAttestor a({}, NewLinuxProcessInfo());
  EXPECT_EQ(a.Attest(0x3ffffff0).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace signet::attestors
