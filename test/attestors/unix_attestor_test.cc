#include "attestors/unix/unix_attestor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "attestors/unix/mount_namespace.h"
#include "common/keys.h"
#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet::attestors {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
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
  // The order of the reads of the process's executable path and mount
  // namespace (shared with FakeMountNamespaces).
  std::vector<std::string> events;

  absl::StatusOr<ProcessIds> Ids(pid_t pid) override {
    auto it = procs.find(pid);
    if (it == procs.end()) return absl::NotFoundError("no such process");
    return it->second.ids;
  }
  absl::StatusOr<std::string> ExePath(pid_t pid) override {
    events.push_back("path");
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

// FakeMountNamespaces puts every process in the agent's mount namespace
// unless `of` says otherwise.
class FakeMountNamespaces : public MountNamespaces {
 public:
  explicit FakeMountNamespaces(std::vector<std::string>* events = nullptr) : events_(events) {}

  std::map<pid_t, absl::StatusOr<NamespaceId>> of;
  absl::StatusOr<NamespaceId> own = NamespaceId{4, 4026531841};

  absl::StatusOr<NamespaceId> Of(pid_t pid) override {
    if (events_ != nullptr) events_->push_back("mount_ns");
    auto it = of.find(pid);
    return it == of.end() ? own : it->second;
  }
  absl::StatusOr<NamespaceId> Own() override { return own; }

 private:
  std::vector<std::string>* events_;
};

std::unique_ptr<FakeMountNamespaces> SameNs() { return std::make_unique<FakeMountNamespaces>(); }

absl::Time Now() { return absl::Now(); }

Selector U(const std::string& v) { return Selector{"unix", v}; }

// HasSelectorWithPrefix reports whether some selector's value starts with
// `prefix` ("path:").
bool HasSelectorWithPrefix(const std::vector<Selector>& s, absl::string_view prefix) {
  for (const Selector& sel : s) {
    if (absl::StartsWith(sel.value, prefix)) return true;
  }
  return false;
}

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
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
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
  ASSERT_TRUE(a.Attest({7}, absl::InfiniteFuture()).ok());
  const int first = fake->name_lookups;  // user, group, 2 supplementary groups
  EXPECT_EQ(first, 4);
  // Within the TTL: no lookups, even after the database changed.
  fake->users[1001] = "bob";
  now += UnixAttestor::kNameTtl / 2;
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(fake->name_lookups, first);
  EXPECT_THAT(*s, Contains(U("user:alice")));
  // After it: looked up again, new name.
  now += UnixAttestor::kNameTtl;
  s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(fake->name_lookups, 2 * first);
  EXPECT_THAT(*s, Contains(U("user:bob")));
  EXPECT_THAT(*s, Not(Contains(U("user:alice"))));
}

TEST(UnixAttestorTest, NoPathOrHashWithoutDiscoverWorkloadPath) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  UnixAttestor a({}, std::move(p));
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  for (const auto& sel : *s) {
    EXPECT_NE(sel.value.rfind("path:", 0), 0u);
    EXPECT_NE(sel.value.rfind("sha256:", 0), 0u);
  }
  EXPECT_EQ(raw->reads, 0);
}

TEST(UnixAttestorTest, PathAndSha256WithDiscoverWorkloadPath) {
  UnixAttestor a({true, 0}, Standard(), Now, SameNs());
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U("path:/usr/bin/workload")));
  EXPECT_THAT(*s, Contains(U("sha256:" + HexEncode(Sha256("binary content")))));
}

TEST(UnixAttestorTest, RepeatedCallUsesHashCacheWithoutReading) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  UnixAttestor a({true, 0}, std::move(p), Now, SameNs());
  ASSERT_TRUE(a.Attest({7}, absl::InfiniteFuture()).ok());
  int reads = raw->reads;
  EXPECT_GT(reads, 0);
  absl::StatusOr<std::vector<Selector>> again = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(raw->reads, reads);
  EXPECT_EQ(a.hashes_computed(), 1u);
  EXPECT_THAT(*again, Contains(U("sha256:" + HexEncode(Sha256("binary content")))));
}

TEST(UnixAttestorTest, ChangedFileIdentityIsHashedAgain) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  UnixAttestor a({true, 0}, std::move(p), Now, SameNs());
  ASSERT_TRUE(a.Attest({7}, absl::InfiniteFuture()).ok());
  raw->procs[7].content = "new content!!!";
  raw->procs[7].file.ctime_sec = 99;
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(a.hashes_computed(), 2u);
  EXPECT_THAT(*s, Contains(U("sha256:" + HexEncode(Sha256("new content!!!")))));
}

TEST(UnixAttestorTest, ExecutableOverSizeLimitFails) {
  UnixAttestor a({true, 4}, Standard(), Now, SameNs());
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("exceeds size limit"));
}

TEST(UnixAttestorTest, NegativeSizeLimitNeverHashes) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  UnixAttestor a({true, -1}, std::move(p), Now, SameNs());
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U("path:/usr/bin/workload")));
  for (const auto& sel : *s) EXPECT_NE(sel.value.rfind("sha256:", 0), 0u);
  EXPECT_EQ(raw->reads, 0);
}

TEST(UnixAttestorTest, NoPathForProcessInAnotherMountNamespace) {
  auto ns = SameNs();
  ns->of[7] = NamespaceId{4, 4026532999};
  UnixAttestor a({true, 0}, Standard(), Now, std::move(ns));
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(HasSelectorWithPrefix(*s, "path:"));
  // The content hash does not depend on the namespace.
  EXPECT_THAT(*s, Contains(U("sha256:" + HexEncode(Sha256("binary content")))));
  EXPECT_THAT(*s, Contains(U("uid:1001")));
  EXPECT_EQ(a.paths_omitted(), 1u);
}

TEST(UnixAttestorTest, SameInodeOnAnotherDeviceIsAnotherNamespace) {
  auto ns = SameNs();
  ns->of[7] = NamespaceId{5, ns->own->ino};
  UnixAttestor a({true, 0}, Standard(), Now, std::move(ns));
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(HasSelectorWithPrefix(*s, "path:"));
  EXPECT_EQ(a.paths_omitted(), 1u);
}

TEST(UnixAttestorTest, NoPathWhenWorkloadNamespaceIsUnreadable) {
  auto ns = SameNs();
  ns->of[7] = absl::PermissionDeniedError("open /proc/7/ns/mnt: Permission denied");
  UnixAttestor a({true, 0}, Standard(), Now, std::move(ns));
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(HasSelectorWithPrefix(*s, "path:"));
  EXPECT_THAT(*s, Contains(U("sha256:" + HexEncode(Sha256("binary content")))));
  EXPECT_EQ(a.paths_omitted(), 1u);
}

TEST(UnixAttestorTest, NoPathWhenAgentNamespaceIsUnreadable) {
  auto ns = SameNs();
  ns->own = absl::InternalError("/proc/self/ns/mnt is not a namespace file");
  UnixAttestor a({true, 0}, Standard(), Now, std::move(ns));
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(HasSelectorWithPrefix(*s, "path:"));
  EXPECT_EQ(a.paths_omitted(), 1u);
}

TEST(UnixAttestorTest, NamespaceIsReadAfterThePath) {
  auto p = Standard();
  FakeProcessInfo* raw = p.get();
  auto ns = std::make_unique<FakeMountNamespaces>(&raw->events);
  UnixAttestor a({true, 0}, std::move(p), Now, std::move(ns));
  absl::StatusOr<std::vector<Selector>> s = a.Attest({7}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U("path:/usr/bin/workload")));
  EXPECT_EQ(raw->events, (std::vector<std::string>{"path", "mount_ns"}));
  EXPECT_EQ(a.paths_omitted(), 0u);
}

// LogCapture sends the process's log to a temporary file while alive.
class LogCapture {
 public:
  LogCapture() {
    path_ = dir_.File("log");
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd_, 0);
    EXPECT_TRUE(Logger::Configure("info", "text", fd_));
  }
  ~LogCapture() {
    Logger::Configure("info", "text", 2);
    close(fd_);
  }
  // Lines returns the lines logged that contain `needle`.
  std::vector<std::string> Lines(absl::string_view needle) const {
    std::vector<std::string> out;
    for (absl::string_view l : absl::StrSplit(testutil::ReadFile(path_), '\n')) {
      if (absl::StrContains(l, needle)) out.emplace_back(l);
    }
    return out;
  }

 private:
  testutil::TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

TEST(UnixAttestorTest, OmissionLogIsRateLimited) {
  LogCapture log;
  auto ns = SameNs();
  ns->of[7] = NamespaceId{4, 4026532999};
  absl::Time now = absl::FromUnixSeconds(1000);
  UnixAttestor a(
      {true, 0}, Standard(), [&now] { return now; }, std::move(ns));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(a.Attest({7}, absl::InfiniteFuture()).ok());
  EXPECT_EQ(a.paths_omitted(), 50u);
  std::vector<std::string> lines = log.Lines("left out unix:path");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("pid=7 path=/usr/bin/workload"));
  EXPECT_THAT(lines[0], HasSubstr("workload is in another mount namespace"));
  EXPECT_THAT(lines[0], HasSubstr("omissions=1 "));
  // Still inside the interval: nothing more.
  now += UnixAttestor::kPathOmittedLogInterval - absl::Seconds(1);
  ASSERT_TRUE(a.Attest({7}, absl::InfiniteFuture()).ok());
  EXPECT_EQ(log.Lines("left out unix:path").size(), 1u);
  // After it: one line counting everything left out since the first.
  now += absl::Seconds(1);
  ASSERT_TRUE(a.Attest({7}, absl::InfiniteFuture()).ok());
  lines = log.Lines("left out unix:path");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[1], HasSubstr("omissions=51 "));
}

TEST(UnixAttestorTest, UnreadableNamespaceIsLoggedWithTheReason) {
  LogCapture log;
  auto ns = SameNs();
  ns->of[7] = absl::PermissionDeniedError("open /proc/7/ns/mnt: Permission denied");
  UnixAttestor a({true, 0}, Standard(), Now, std::move(ns));
  ASSERT_TRUE(a.Attest({7}, absl::InfiniteFuture()).ok());
  std::vector<std::string> lines = log.Lines("left out unix:path");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("cannot read the mount namespace of the workload: open "
                                  "/proc/7/ns/mnt: Permission denied"));
  EXPECT_THAT(lines[0], HasSubstr("omissions=1 "));
}

TEST(UnixAttestorTest, MissingProcessIsNotFound) {
  UnixAttestor a({}, Standard());
  EXPECT_EQ(a.Attest({8}, absl::InfiniteFuture()).status().code(), absl::StatusCode::kNotFound);
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
  absl::StatusOr<std::vector<Selector>> s = a.Attest({getpid()}, absl::InfiniteFuture());
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
  ASSERT_TRUE(a.Attest({getpid()}, absl::InfiniteFuture()).ok());
  ASSERT_TRUE(a.Attest({getpid()}, absl::InfiniteFuture()).ok());
  EXPECT_EQ(a.hashes_computed(), 1u);
}

TEST(UnixAttestorRealProcTest, SizeLimitBelowOwnBinaryFails) {
  UnixAttestor a({true, 16}, NewLinuxProcessInfo());
  EXPECT_EQ(a.Attest({getpid()}, absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(UnixAttestorRealProcTest, GonePidIsNotFound) {
  UnixAttestor a({}, NewLinuxProcessInfo());
  EXPECT_EQ(a.Attest({0x3ffffff0}, absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(LinuxMountNamespacesTest, OwnIsOwnPidsAndGonePidIsNotFound) {
  std::unique_ptr<MountNamespaces> ns = NewLinuxMountNamespaces();
  absl::StatusOr<NamespaceId> own = ns->Own();
  ASSERT_TRUE(own.ok()) << own.status();
  absl::StatusOr<NamespaceId> self = ns->Of(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(*own, *self);
  struct stat st;
  ASSERT_EQ(stat("/proc/self/ns/mnt", &st), 0);
  EXPECT_EQ(own->ino, static_cast<uint64_t>(st.st_ino));
  EXPECT_EQ(ns->Of(0x3ffffff0).status().code(), absl::StatusCode::kNotFound);
}

TEST(LinuxMountNamespacesTest, ProcRootThatIsNotProcfsIsAnError) {
  testutil::TempDir fake_proc;
  ASSERT_EQ(mkdir(fake_proc.File("self").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(fake_proc.File("self/ns").c_str(), 0755), 0);
  testutil::WriteFile(fake_proc.File("self/ns/mnt"), "");
  absl::StatusOr<NamespaceId> own = NewLinuxMountNamespaces(fake_proc.path())->Own();
  EXPECT_EQ(own.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(own.status().message()), HasSubstr("is not a namespace file"));
}

// The attack: an unprivileged user (uid 65534) creates a user and mount
// namespace with util-linux unshare, bind-mounts another binary over a
// path and execs that path, so /proc/<pid>/exe names it.
class MountNamespaceAttackTest : public ::testing::Test {
 protected:
  static constexpr char kUnshare[] = "/usr/bin/unshare";

  void SetUp() override {
    if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker as uid 65534";
    ASSERT_EQ(access(kUnshare, X_OK), 0) << kUnshare << " (util-linux) is not installed";
    int max_userns = 0;
    ASSERT_TRUE(absl::SimpleAtoi(
        absl::StripAsciiWhitespace(testutil::ReadFile("/proc/sys/user/max_user_namespaces")),
        &max_userns));
    ASSERT_GT(max_userns, 0) << "user namespaces are disabled (user.max_user_namespaces)";
    std::ifstream clone("/proc/sys/kernel/unprivileged_userns_clone");
    int allowed = 1;
    if (clone >> allowed) {
      ASSERT_EQ(allowed, 1) << "kernel.unprivileged_userns_clone is 0";
    }
    // Both binaries are sleep(1); the other one has bytes appended, so its
    // content and hash differ.
    std::string sleep_bin = testutil::ReadFile("/bin/sleep");
    ASSERT_FALSE(sleep_bin.empty());
    registered_ = dir_.File("registered");
    other_ = dir_.File("other");
    testutil::WriteFile(registered_, sleep_bin, 0755);
    testutil::WriteFile(other_, sleep_bin + "\nanother binary\n", 0755);
    registered_sha_ = HexEncode(Sha256(testutil::ReadFile(registered_)));
    other_sha_ = HexEncode(Sha256(testutil::ReadFile(other_)));
    ASSERT_NE(registered_sha_, other_sha_);
  }

  static testutil::ProcessOptions AsNobody() {
    testutil::ProcessOptions o;
    o.uid = testutil::kTestUidA;
    o.gid = testutil::kTestUidA;
    return o;
  }

  // WaitForExe waits until /proc/<pid>/exe of `p` names `path` (its exec is
  // done).
  static bool WaitForExe(testutil::Subprocess* p, const std::string& path) {
    return testutil::WaitFor([&] {
             char buf[4096];
             ssize_t n =
                 readlink(absl::StrCat("/proc/", p->pid(), "/exe").c_str(), buf, sizeof(buf));
             return !p->Running() || (n > 0 && std::string(buf, n) == path);
           }) &&
           p->Running();
  }

  testutil::TempDir dir_;
  std::string registered_, other_;
  std::string registered_sha_, other_sha_;
};

TEST_F(MountNamespaceAttackTest, BindMountedImpostorGetsNoPathAndItsRealHash) {
  testutil::Subprocess attacker(
      {kUnshare, "-Urm", "/bin/sh", "-c", "/usr/bin/mount --bind \"$1\" \"$2\" && exec \"$2\" 600",
       "sh", other_, registered_},
      AsNobody());
  ASSERT_TRUE(WaitForExe(&attacker, registered_)) << attacker.Stderr();
  // The staging worked: the kernel names the registered path, from another
  // mount namespace.
  std::unique_ptr<MountNamespaces> ns = NewLinuxMountNamespaces();
  ASSERT_TRUE(ns->Of(attacker.pid()).ok());
  ASSERT_NE(*ns->Of(attacker.pid()), *ns->Own());

  UnixAttestor a({true, 0}, NewLinuxProcessInfo());
  absl::StatusOr<std::vector<Selector>> s = a.Attest({attacker.pid()}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U(absl::StrCat("uid:", testutil::kTestUidA))));
  EXPECT_FALSE(HasSelectorWithPrefix(*s, "path:"));
  EXPECT_THAT(*s, Not(Contains(U("path:" + registered_))));
  // The hash is of the binary running (opened through /proc/<pid>/exe),
  // not of the file the path names in the agent's namespace.
  EXPECT_THAT(*s, Contains(U("sha256:" + other_sha_)));
  EXPECT_THAT(*s, Not(Contains(U("sha256:" + registered_sha_))));
  EXPECT_EQ(a.paths_omitted(), 1u);
}

TEST_F(MountNamespaceAttackTest, SameBinaryInTheAgentNamespaceGetsItsPath) {
  testutil::Subprocess legit({registered_, "600"}, AsNobody());
  ASSERT_TRUE(WaitForExe(&legit, registered_)) << legit.Stderr();
  UnixAttestor a({true, 0}, NewLinuxProcessInfo());
  absl::StatusOr<std::vector<Selector>> s = a.Attest({legit.pid()}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, Contains(U(absl::StrCat("uid:", testutil::kTestUidA))));
  EXPECT_THAT(*s, Contains(U("path:" + registered_)));
  EXPECT_THAT(*s, Contains(U("sha256:" + registered_sha_)));
  EXPECT_EQ(a.paths_omitted(), 0u);
}

}  // namespace
}  // namespace signet::attestors
