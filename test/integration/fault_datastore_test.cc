// Faults in the server's storage with real processes: kill -9 in the middle
// of 1,000 concurrent entry writes (every acknowledged write survives, the
// SQLite file passes PRAGMA integrity_check), and data directories that
// cannot be written (a clear error at startup or on write, nothing
// corrupted).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "signet/admin.grpc.pb.h"
#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<signet::admin::Admin::Stub> Admin(const ServerProcess& s) {
  return signet::admin::Admin::NewStub(
      grpc::CreateChannel("unix:" + s.socket(), grpc::InsecureChannelCredentials()));
}

signet::admin::CreateEntryRequest EntryRequest(const std::string& path) {
  signet::admin::CreateEntryRequest c;
  auto* e = c.mutable_entry();
  e->set_spiffe_id("spiffe://example.org/" + path);
  e->set_parent_id("spiffe://example.org/spire/agent/join_token/x");
  auto* sel = e->add_selectors();
  sel->set_type("unix");
  sel->set_value("uid:1000");
  return c;
}

// AllEntryIds pages through ShowEntries.
std::set<std::string> AllEntryIds(const ServerProcess& s) {
  auto admin = Admin(s);
  std::set<std::string> ids;
  std::string token;
  do {
    signet::admin::ShowEntriesRequest req;
    req.set_page_token(token);
    signet::admin::ShowEntriesResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = admin->ShowEntries(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    if (!st.ok()) break;
    for (const auto& e : resp.entries()) ids.insert(e.id());
    token = resp.next_page_token();
  } while (!token.empty());
  return ids;
}

std::string IntegrityCheck(const std::string& db) {
  RunResult r = testutil::Run({"/usr/bin/sqlite3", db, "PRAGMA integrity_check;"});
  return r.out + r.err;
}

TEST(FaultDatastoreTest, Kill9DuringConcurrentWritesKeepsEveryAcknowledgedEntry) {
  ServerProcess server;
  ASSERT_TRUE(server.Start()) << server.Logs();
  constexpr int kThreads = 8;
  constexpr int kWrites = 1000;
  std::atomic<int> next{0}, acked_count{0};
  absl::Mutex mu;
  std::vector<std::string> acked;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto admin = Admin(server);
      for (int i = next++; i < kWrites; i = next++) {
        signet::admin::EntryResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        grpc::Status s = admin->CreateEntry(&ctx, EntryRequest(absl::StrCat("w/", i)), &resp);
        if (!s.ok()) return;  // the server is gone
        absl::MutexLock l(&mu);
        acked.push_back(resp.entry().id());
        ++acked_count;
      }
    });
  }
  ASSERT_TRUE(testutil::WaitFor([&] { return acked_count >= 300; }, absl::Seconds(60)));
  server.Kill9();
  for (auto& t : threads) t.join();
  ASSERT_LT(acked.size(), static_cast<size_t>(kWrites)) << "all writes finished before the kill";
  // The file is consistent before the server touches it again.
  EXPECT_EQ(IntegrityCheck(server.dir().File("data/datastore.sqlite3")), "ok\n");
  ASSERT_TRUE(server.Start()) << server.Logs();
  std::set<std::string> present = AllEntryIds(server);
  for (const std::string& id : acked) EXPECT_TRUE(present.count(id)) << "lost acknowledged " << id;
  EXPECT_GE(present.size(), acked.size());
  EXPECT_LE(present.size(), acked.size() + kThreads);  // at most the in-flight ones
  // Still writable after recovery.
  signet::admin::EntryResponse resp;
  grpc::ClientContext ctx;
  EXPECT_TRUE(Admin(server)->CreateEntry(&ctx, EntryRequest("after-crash"), &resp).ok());
}

TEST(FaultDatastoreTest, DataDirThatIsAFileIsAClearStartupError) {
  ServerProcess server;
  testutil::WriteFile(server.dir().File("data"), "not a directory");
  RunResult r = testutil::Run({testutil::ServerBinary(), "run", "-config", server.config_path()},
                              {}, absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(server.dir().File("data"))) << r.err;
  EXPECT_EQ(testutil::ReadFile(server.dir().File("data")), "not a directory");
}

TEST(FaultDatastoreTest, ReadOnlyDataDirIsAClearStartupError) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the server as another uid";
  ServerProcess server;
  // Everything readable, nothing writable for uid 65534.
  ASSERT_EQ(mkdir(server.dir().File("data").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(server.dir().File("admin").c_str(), 0777), 0);
  chmod(server.dir().path().c_str(), 0755);
  chmod(server.config_path().c_str(), 0644);
  testutil::ProcessOptions o;
  o.uid = testutil::kTestUidA;
  o.gid = testutil::kTestUidA;
  RunResult r = testutil::Run({testutil::ServerBinary(), "run", "-config", server.config_path()}, o,
                              absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Permission denied")) << r.err;
  EXPECT_THAT(r.err, HasSubstr(server.dir().File("data"))) << r.err;
}

// SetImmutable sets or clears FS_IMMUTABLE_FL (chattr +i / -i) on `path`.
// Unlike mode bits, the flag also stops root, and writes through descriptors
// opened before it was set (ext4 checks it on every write).
bool SetImmutable(const std::string& path, bool on) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  close(fd);
  return ok;
}

TEST(FaultDatastoreTest, DataDirMadeReadOnlyWhileRunningFailsWritesCleanly) {
  // Mode bits cannot make a running server's storage read-only: the server
  // (root here, or the owner) keeps the database and its WAL open for writing,
  // and permissions are checked only at open. The immutable flag is checked
  // on every write, for root too.
  ServerProcess server;
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto admin = Admin(server);
  {
    signet::admin::EntryResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = admin->CreateEntry(&ctx, EntryRequest("before"), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const std::string data = server.dir().File("data");
  const std::string db = data + "/datastore.sqlite3";
  std::vector<std::string> frozen;
  auto thaw = absl::MakeCleanup([&] {
    for (const std::string& p : frozen) SetImmutable(p, false);
  });
  for (const std::string& p : {db, db + "-wal", data}) {
    if (access(p.c_str(), F_OK) != 0) continue;
    ASSERT_TRUE(SetImmutable(p, true)) << p << ": " << strerror(errno);
    frozen.push_back(p);
  }
  ASSERT_GE(frozen.size(), 2u);  // at least the database and its directory
  std::set<std::string> ids_before = AllEntryIds(server);
  {
    signet::admin::EntryResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = admin->CreateEntry(&ctx, EntryRequest("while-readonly"), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    // 778: SQLITE_IOERR_WRITE, the WAL append refused with EPERM.
    EXPECT_EQ(s.error_message(),
              absl::StrCat("sqlite database ", db, ": exec COMMIT: disk I/O error (code 778)"));
  }
  // The server keeps running and keeps serving reads.
  EXPECT_EQ(server.Cli({"healthcheck"}).exit_code, 0) << server.Logs();
  EXPECT_EQ(AllEntryIds(server), ids_before);
  // Writable again: writes work again without a restart.
  for (const std::string& p : frozen) ASSERT_TRUE(SetImmutable(p, false)) << p;
  frozen.clear();
  {
    signet::admin::EntryResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = admin->CreateEntry(&ctx, EntryRequest("after"), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.entry().spiffe_id(), "spiffe://example.org/after");
  }
  admin.reset();
  ASSERT_EQ(server.Stop(), 0) << server.Logs();
  EXPECT_EQ(IntegrityCheck(db), "ok\n");
}

TEST(FaultDatastoreTest, FullDiskFailsWritesWithAClearErrorAndNoCorruption) {
  // RLIMIT_FSIZE stands in for a full file system: writes past the limit fail
  // with EFBIG (SIGXFSZ ignored, as the disposition survives exec).
  ServerProcess server;
  ASSERT_TRUE(server.Start()) << server.Logs();  // creates CA, keys, schema
  ASSERT_EQ(server.Stop(), 0);
  std::string db = server.dir().File("data/datastore.sqlite3");
  struct stat st;
  ASSERT_EQ(stat(db.c_str(), &st), 0);
  long limit_kb = (st.st_size / 1024) + 64;
  testutil::Subprocess proc(
      {"/bin/sh", "-c", absl::StrCat("trap '' XFSZ; ulimit -f ", limit_kb, "; exec \"$0\" \"$@\""),
       testutil::ServerBinary(), "run", "-config", server.config_path()});
  ASSERT_TRUE(testutil::WaitFor([&] {
    return !proc.Running() || server.Cli({"healthcheck"}).exit_code == 0;
  })) << proc.Stderr();
  ASSERT_TRUE(proc.Running()) << proc.Stderr();
  auto admin = Admin(server);
  grpc::Status last;
  int written = 0;
  for (int i = 0; i < 5000; ++i) {
    signet::admin::CreateEntryRequest req = EntryRequest(absl::StrCat("fill/", i));
    req.mutable_entry()->set_hint(std::string(1000, 'h'));
    signet::admin::EntryResponse resp;
    grpc::ClientContext ctx;
    last = admin->CreateEntry(&ctx, req, &resp);
    if (!last.ok()) break;
    ++written;
  }
  ASSERT_FALSE(last.ok()) << "the file size limit was never reached";
  EXPECT_GT(written, 0);
  std::cerr << written << " entries written; then " << last.error_code() << " "
            << last.error_message() << "\n";
  EXPECT_TRUE(last.error_code() == grpc::StatusCode::UNAVAILABLE ||
              last.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
              last.error_code() == grpc::StatusCode::INTERNAL)
      << last.error_code() << " " << last.error_message();
  EXPECT_THAT(absl::AsciiStrToLower(last.error_message()),
              ::testing::AnyOf(HasSubstr("full"), HasSubstr("disk"), HasSubstr("i/o"),
                               HasSubstr("file too large")))
      << last.error_message();
  EXPECT_TRUE(proc.Running()) << proc.Stderr();
  admin.reset();  // drop the connection to this server process
  proc.Signal(SIGTERM);
  proc.Wait();
  EXPECT_EQ(IntegrityCheck(db), "ok\n");
  // Restarted without the limit, every acknowledged entry is there.
  ASSERT_TRUE(server.Start()) << server.Logs();
  EXPECT_EQ(AllEntryIds(server).size(), static_cast<size_t>(written)) << server.Logs();
}

}  // namespace
}  // namespace signet::servertest
