// Local attacks on the daemons' socket directories (issue 14, items 1 and 2)
// with a real attacker process under another uid, and stale sockets left by
// a server that dies (item 7). Every test works below its own root-owned
// sticky directory standing in for /tmp; tests run as root (as in CI).
//
// - The symlink race: an attacker under uid 65534 pre-creates the agent's
//   socket directory, watches it with inotify and swaps the socket for a
//   link to a root-owned 0600 canary the moment it appears, against 200
//   socket creations (UnixSocketServer::Create, the code both daemons run):
//   100 against its pre-created directory (each refused) and 100 in the
//   daemon's own directory with the attacker watching it. The canary never
//   changes mode or owner.
// - The hijack variants, each against the real signet-agent or
//   signet-server: a pre-created 0777 directory, a link to the attacker's
//   directory, a directory owned by another uid: each refused at startup
//   with an error naming the directory and the fix.
// - A server killed by a fatal signal, or past its file size limit, leaves
//   no admin socket behind.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/peer_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signet/admin.grpc.pb.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using ::testing::HasSubstr;
using testutil::kTestUidA;
using testutil::RunResult;

std::string OwnerMessage(const std::string& dir, const std::string& path, uid_t uid) {
  return absl::StrCat("directory ", dir, " on socket path ", path, " is owned by uid ", uid,
                      ", not by this process's uid 0 or root, so its owner could replace the "
                      "socket: remove ",
                      dir, " (or chown it to uid 0) and restart");
}

// Sandbox is a fresh root-owned 0755 directory holding "tmp" (root, 1777,
// like /tmp) and a root-owned 0600 canary file outside "tmp".
class Sandbox {
 public:
  Sandbox() {
    tmp_ = base_.File("tmp");
    EXPECT_EQ(mkdir(tmp_.c_str(), 0755), 0);
    EXPECT_EQ(chmod(tmp_.c_str(), 01777), 0);
    canary_ = base_.File("canary");
    testutil::WriteFile(canary_, "root only", 0600);
  }
  const std::string& tmp() const { return tmp_; }
  const std::string& canary() const { return canary_; }
  std::string File(const std::string& name) const { return base_.File(name); }

  // AsAttacker runs a shell command as uid/gid 65534.
  static RunResult AsAttacker(const std::string& cmd) {
    testutil::ProcessOptions o;
    o.uid = kTestUidA;
    o.gid = kTestUidA;
    return testutil::Run({"/bin/sh", "-c", cmd}, o);
  }

  // CanaryUntouched reports whether the canary still is root's 0600 file.
  ::testing::AssertionResult CanaryUntouched() const {
    struct stat st;
    if (lstat(canary_.c_str(), &st) != 0) return ::testing::AssertionFailure() << "canary gone";
    if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_uid != 0 || st.st_gid != 0) {
      return ::testing::AssertionFailure()
             << "canary changed: mode " << std::oct << (st.st_mode & 07777) << std::dec << " owner "
             << st.st_uid << ":" << st.st_gid;
    }
    return ::testing::AssertionSuccess();
  }

 private:
  testutil::TempDir base_;  // root, 0755
  std::string tmp_;
  std::string canary_;
};

// ---------------------------------------------------------------------------
// Item 1: the inotify symlink swap.

struct AttackPaths {
  char tmp[256];
  char agent[256];   // tmp/signet-agent
  char pub[256];     // tmp/signet-agent/public
  char sock[256];    // tmp/signet-agent/public/api.sock
  char stolen[256];  // where the attacker moves the real socket
  char canary[256];
};

void Copy(char (&dst)[256], const std::string& src) {
  ASSERT_LT(src.size(), sizeof(dst));
  memcpy(dst, src.c_str(), src.size() + 1);
}

// AttackerMain runs in a forked child (system calls only): as uid 65534 it
// keeps tmp/signet-agent/public pre-created with mode 0777, and whenever
// api.sock appears in it, renames it away and puts a link to the canary in
// its place, so that a chmod by path lands on the canary. Exits when
// `stop_fd` becomes readable (its write end closed).
[[noreturn]] void AttackerMain(const AttackPaths& p, int ready_fd, int stop_fd) {
  if (setgroups(0, nullptr) != 0 || setgid(kTestUidA) != 0 || setuid(kTestUidA) != 0) _exit(2);
  const int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) _exit(3);
  if (inotify_add_watch(in, p.tmp, IN_CREATE | IN_DELETE | IN_MOVED_FROM) < 0) _exit(4);
  auto plant = [&] {
    if (mkdir(p.agent, 0777) == 0) chmod(p.agent, 0777);
    if (mkdir(p.pub, 0777) == 0) chmod(p.pub, 0777);
    // Watch for the socket (fails harmlessly when the directory is not there).
    inotify_add_watch(in, p.pub, IN_CREATE);
  };
  plant();
  const char b = 1;
  if (write(ready_fd, &b, 1) != 1) _exit(5);
  close(ready_fd);
  alignas(inotify_event) char buf[8192];
  for (;;) {
    pollfd fds[2] = {{in, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) _exit(6);
    if (fds[1].revents != 0) _exit(0);
    const ssize_t n = read(in, buf, sizeof buf);
    for (ssize_t off = 0; n > 0 && off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      if ((ev->mask & IN_CREATE) != 0 && ev->len > 0 && strcmp(ev->name, "api.sock") == 0) {
        // Either may fail (the directory is not ours): keep trying.
        (void)rename(p.sock, p.stolen);
        (void)!symlink(p.canary, p.sock);
      }
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
    plant();
  }
}

// SwapRace runs AttackerMain in a forked child against the directories
// `outer`/`inner` (socket `inner`/api.sock) under box.tmp(), and prepares
// each start: even starts find the attacker's pre-created 0777 directory,
// odd ones the daemon's own directories (`own_mode`, made with the attacker
// stopped) with the attacker watching the socket directory.
class SwapRace {
 public:
  SwapRace(const Sandbox& box, const std::string& outer, const std::string& inner)
      : box_(box), outer_(outer), inner_(inner) {}
  ~SwapRace() { Finish(); }
  SwapRace(const SwapRace&) = delete;
  SwapRace& operator=(const SwapRace&) = delete;

  std::string socket() const { return inner_ + "/api.sock"; }

  // Start forks the attacker and waits until it has planted its directory.
  void Start() {
    AttackPaths p;
    Copy(p.tmp, box_.tmp());
    Copy(p.agent, outer_);
    Copy(p.pub, inner_);
    Copy(p.sock, socket());
    Copy(p.stolen, inner_ + "/stolen.sock");
    Copy(p.canary, box_.canary());
    int ready[2];
    ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(stop_, O_CLOEXEC), 0);
    // No other thread runs in this test process yet: the child may run code.
    attacker_ = fork();
    ASSERT_GE(attacker_, 0);
    if (attacker_ == 0) {
      close(ready[0]);
      close(stop_[1]);
      AttackerMain(p, ready[1], stop_[0]);
    }
    close(ready[1]);
    close(stop_[0]);
    char b = 0;
    ASSERT_EQ(read(ready[0], &b, 1), 1) << "the attacker did not start";
    close(ready[0]);
  }

  // Prepare sets up start `i` (see the class comment).
  void Prepare(int i, mode_t own_mode) {
    if (i % 2 == 0) {
      ASSERT_TRUE(testutil::WaitFor([&] { return access(inner_.c_str(), F_OK) == 0; })) << i;
      return;
    }
    ASSERT_EQ(kill(attacker_, SIGSTOP), 0);
    int st = 0;
    ASSERT_EQ(waitpid(attacker_, &st, WUNTRACED), attacker_);
    ASSERT_TRUE(WIFSTOPPED(st));
    const std::string trash = box_.File(absl::StrCat("trash-", i));
    if (rename(outer_.c_str(), trash.c_str()) == 0) {
      std::error_code ec;
      std::filesystem::remove_all(trash, ec);
      ASSERT_FALSE(ec) << ec.message();
    }
    ASSERT_EQ(mkdir(outer_.c_str(), own_mode), 0);
    ASSERT_EQ(mkdir(inner_.c_str(), own_mode), 0);
    ASSERT_EQ(kill(attacker_, SIGCONT), 0);
  }

  // CleanUp moves the directory out of the attacker's reach in one step (it
  // re-plants as soon as it notices), then removes it.
  void CleanUp(int i) {
    const std::string trash = box_.File(absl::StrCat("trash-", i, "-end"));
    ASSERT_EQ(rename(outer_.c_str(), trash.c_str()), 0) << strerror(errno);
    std::error_code ec;
    std::filesystem::remove_all(trash, ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  // Finish stops the attacker; its exit status (0 when it ran as planned).
  int Finish() {
    if (attacker_ <= 0) return finished_status_;
    close(stop_[1]);
    int status = 0;
    if (waitpid(attacker_, &status, 0) != attacker_) status = -1;
    attacker_ = -1;
    finished_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return finished_status_;
  }

 private:
  const Sandbox& box_;
  const std::string outer_, inner_;
  pid_t attacker_ = -1;
  int stop_[2] = {-1, -1};
  int finished_status_ = -1;
};

TEST(SocketDirAttackTest, InotifySymlinkSwapAgainst200StartsChangesNothingOutside) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker under another uid";
  Sandbox box;
  const std::string agent_dir = box.tmp() + "/signet-agent";
  const std::string pub = agent_dir + "/public";
  SwapRace race(box, agent_dir, pub);
  const std::string sock = race.socket();
  ASSERT_NO_FATAL_FAILURE(race.Start());

  int refused = 0, served = 0;
  for (int i = 0; i < 200; ++i) {
    ASSERT_NO_FATAL_FAILURE(race.Prepare(i, 0755));
    absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
        UnixSocketServer::Create(sock, 0755, 0777);
    if (uss.ok()) {
      ++served;
      // The whole chain below tmp is ours, so the attacker could not touch it.
      for (const std::string& d : {agent_dir, pub}) {
        struct stat st;
        ASSERT_EQ(lstat(d.c_str(), &st), 0) << d;
        EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
        EXPECT_EQ(st.st_uid, 0u) << "start " << i << ": served from " << d << " owned by "
                                 << st.st_uid;
        EXPECT_EQ(st.st_mode & 07777, 0755u) << d;
      }
      struct stat st;
      ASSERT_EQ(lstat(sock.c_str(), &st), 0);
      EXPECT_TRUE(S_ISSOCK(st.st_mode)) << "start " << i;
      EXPECT_EQ(st.st_mode & 07777, 0777u);
      (*uss)->Stop();
    } else {
      ++refused;
      EXPECT_EQ(uss.status().code(), absl::StatusCode::kFailedPrecondition) << uss.status();
      EXPECT_EQ(uss.status().message(), OwnerMessage(agent_dir, sock, kTestUidA));
    }
    ASSERT_TRUE(box.CanaryUntouched()) << "after start " << i;
    if (::testing::Test::HasFailure()) break;
    ASSERT_NO_FATAL_FAILURE(race.CleanUp(i));
  }
  EXPECT_EQ(race.Finish(), 0);
  EXPECT_TRUE(box.CanaryUntouched());
  EXPECT_EQ(refused, 100);
  EXPECT_EQ(served, 100);
  std::cerr << "refused " << refused << ", served " << served << " of 200 starts\n";
}

// ---------------------------------------------------------------------------
// Item 2: hijacking through a pre-created directory, against the daemons.

std::string ServerYaml(const Sandbox& box, const std::string& socket_path) {
  return absl::StrCat(
      "server:\n  bind_address: \"127.0.0.1\"\n  bind_port: ", testutil::FreeTcpPort(),
      "\n  socket_path: \"", socket_path, "\"\n  trust_domain: \"example.org\"\n", "  data_dir: \"",
      box.File("data"), "\"\n",
      "plugins:\n  DataStore:\n    sql:\n      database_type: \"sqlite3\"\n"
      "      connection_string: \"",
      box.File("data/datastore.sqlite3"),
      "\"\n  KeyManager:\n    disk: {}\n  NodeAttestor:\n    join_token: {}\n");
}

RunResult RunServer(const Sandbox& box, const std::string& socket_path) {
  testutil::WriteFile(box.File("server.yaml"), ServerYaml(box, socket_path));
  // Refused before it would serve; a start that succeeds is stopped by the
  // timeout (and fails the test's exit code check).
  return testutil::Run({testutil::ServerBinary(), "run", "-config", box.File("server.yaml")}, {},
                       absl::Seconds(30));
}

// RunAgent runs signet-agent with its Workload API socket at `socket_path`
// (and the admin socket at `admin_path` when set), with a real server's
// bundle and a server address nobody listens on: a refused socket ends it
// at startup.
RunResult RunAgent(const Sandbox& box, const std::string& socket_path,
                   const std::string& admin_path = "") {
  servertest::ServerProcess server;
  EXPECT_TRUE(server.Start()) << server.Logs();
  testutil::WriteFile(box.File("bundle.pem"), server.BundlePem());
  server.Stop();
  std::string cfg = absl::StrCat(
      "agent:\n  data_dir: \"", box.File("agent-data"), "\"\n",
      "  server_address: \"127.0.0.1\"\n  server_port: ", testutil::FreeTcpPort(),
      "\n  socket_path: \"", socket_path, "\"\n  trust_domain: \"example.org\"\n",
      "  trust_bundle_path: \"", box.File("bundle.pem"), "\"\n",
      admin_path.empty() ? "" : absl::StrCat("  admin_socket_path: \"", admin_path, "\"\n"),
      "plugins:\n  NodeAttestor:\n    join_token: {}\n  KeyManager:\n    disk: {}\n",
      "  WorkloadAttestor:\n    unix: {}\n");
  testutil::WriteFile(box.File("agent.yaml"), cfg);
  return testutil::Run(
      {testutil::AgentBinary(), "run", "-config", box.File("agent.yaml"), "-joinToken", "unused"},
      {}, absl::Seconds(30));
}

TEST(SocketDirAttackTest, AgentRefusesPreCreatedWorldWritableDirectory) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker under another uid";
  Sandbox box;
  const std::string agent_dir = box.tmp() + "/signet-agent";
  RunResult a =
      Sandbox::AsAttacker(absl::StrCat("mkdir -m 0777 ", agent_dir, " ", agent_dir, "/public"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string sock = agent_dir + "/public/api.sock";
  RunResult r = RunAgent(box, sock);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(OwnerMessage(agent_dir, sock, kTestUidA))) << r.err;
  EXPECT_NE(access(sock.c_str(), F_OK), 0) << "the agent put its socket there";
}

TEST(SocketDirAttackTest, AgentRefusesAdminSocketInAttackersDirectory) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker under another uid";
  Sandbox box;
  const std::string admin_dir = box.tmp() + "/signet-agent-admin";
  RunResult a = Sandbox::AsAttacker(absl::StrCat("mkdir -m 0700 ", admin_dir));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string admin = admin_dir + "/admin.sock";
  const std::string sock = box.tmp() + "/signet-agent/public/api.sock";
  RunResult r = RunAgent(box, sock, admin);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("admin_socket_path: " + OwnerMessage(admin_dir, admin, kTestUidA)))
      << r.err;
  // The Workload API socket it had made is gone again.
  EXPECT_NE(access(sock.c_str(), F_OK), 0);
}

TEST(SocketDirAttackTest, ServerRefusesLinkToAttackersDirectory) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker under another uid";
  Sandbox box;
  const std::string link = box.tmp() + "/signet-server";
  const std::string evil = box.tmp() + "/evil";
  RunResult a =
      Sandbox::AsAttacker(absl::StrCat("mkdir -m 0777 ", evil, " && ln -s ", evil, " ", link));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string sock = link + "/private/api.sock";
  RunResult r = RunServer(box, sock);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(
                         link, " on socket path ", sock, " is a symbolic link in ", box.tmp(),
                         ", a directory other users can write; refusing to follow it: remove ",
                         link, " and restart")))
      << r.err;
  EXPECT_NE(access((evil + "/private").c_str(), F_OK), 0) << "the server used the link";
}

TEST(SocketDirAttackTest, ServerRefusesDirectoryOwnedByAnotherUser) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker under another uid";
  Sandbox box;
  const std::string dir = box.tmp() + "/signet-server";
  RunResult a = Sandbox::AsAttacker(absl::StrCat("mkdir -m 0755 ", dir));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string sock = dir + "/private/api.sock";
  RunResult r = RunServer(box, sock);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(OwnerMessage(dir, sock, kTestUidA))) << r.err;
}

TEST(SocketDirAttackTest, ServerRefusesPreCreatedWorldWritableDirectory) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker under another uid";
  Sandbox box;
  const std::string dir = box.tmp() + "/signet-server";
  RunResult a = Sandbox::AsAttacker(absl::StrCat("mkdir -m 0777 ", dir, " ", dir, "/private"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string sock = dir + "/private/api.sock";
  RunResult r = RunServer(box, sock);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(OwnerMessage(dir, sock, kTestUidA))) << r.err;
  EXPECT_NE(access(sock.c_str(), F_OK), 0);
}

TEST(SocketDirAttackTest, ServerMakesItsOwnDirectoryUnderStickyTmp) {
  Sandbox box;
  const std::string sock = box.tmp() + "/signet-server/private/api.sock";
  testutil::WriteFile(box.File("server.yaml"), ServerYaml(box, sock));
  testutil::Subprocess proc({testutil::ServerBinary(), "run", "-config", box.File("server.yaml")});
  auto healthy = [&] {
    return testutil::Run({testutil::ServerBinary(), "healthcheck", "-socketPath", sock})
               .exit_code == 0;
  };
  ASSERT_TRUE(testutil::WaitFor([&] { return !proc.Running() || healthy(); })) << proc.Stderr();
  ASSERT_TRUE(proc.Running()) << proc.Stderr();
  struct stat st;
  for (const std::string& d :
       {box.tmp() + "/signet-server", box.tmp() + "/signet-server/private"}) {
    ASSERT_EQ(lstat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_uid, geteuid()) << d;
    // The server's group may enter, nobody but the server may write.
    EXPECT_EQ(st.st_mode & 07777, 0750u) << d;
  }
  ASSERT_EQ(lstat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0770u);
  EXPECT_EQ(proc.Stop(), 0);
  EXPECT_NE(access(sock.c_str(), F_OK), 0);
}

// The same race against 200 starts of the real signet-server (memory
// datastore and key manager, so a start is quick): its admin socket
// tmp/signet-server/private/api.sock, the attacker under uid 65534 keeping
// tmp/signet-server/private pre-created 0777 and swapping api.sock for a link
// to the canary the moment it appears. Every other start finds the
// attacker's directory (the server must refuse it and exit 1); the others
// find the server's own directories from an earlier start, with the attacker
// watching them, and serve. The canary never changes.
TEST(SocketDirAttackTest, InotifySymlinkSwapAgainst200RealServerStarts) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker under another uid";
  Sandbox box;
  const std::string server_dir = box.tmp() + "/signet-server";
  SwapRace race(box, server_dir, server_dir + "/private");
  const std::string sock = race.socket();
  testutil::WriteFile(
      box.File("server.yaml"),
      absl::StrCat("server:\n  bind_address: \"127.0.0.1\"\n  bind_port: 0\n  socket_path: \"",
                   sock, "\"\n  trust_domain: \"example.org\"\n  data_dir: \"", box.File("data"),
                   "\"\nplugins:\n  DataStore:\n    sql:\n      database_type: \"memory\"\n"
                   "  KeyManager:\n    memory: {}\n  NodeAttestor:\n    join_token: {}\n"));
  ASSERT_NO_FATAL_FAILURE(race.Start());

  int refused = 0, served = 0;
  for (int i = 0; i < 200; ++i) {
    ASSERT_NO_FATAL_FAILURE(race.Prepare(i, 0750));
    testutil::Subprocess proc(
        {testutil::ServerBinary(), "run", "-config", box.File("server.yaml")});
    auto healthy = [&] {
      return testutil::Run({testutil::ServerBinary(), "healthcheck", "-socketPath", sock})
                 .exit_code == 0;
    };
    ASSERT_TRUE(testutil::WaitFor([&] { return !proc.Running() || healthy(); }))
        << "start " << i << ": " << proc.Stderr();
    if (proc.Running()) {
      ++served;
      EXPECT_EQ(i % 2, 1) << "start " << i << " served from the attacker's directory";
      struct stat st;
      ASSERT_EQ(lstat(sock.c_str(), &st), 0);
      EXPECT_TRUE(S_ISSOCK(st.st_mode)) << "start " << i;
      EXPECT_EQ(st.st_mode & 07777, 0770u) << "start " << i;
      EXPECT_EQ(proc.Stop(), 0) << "start " << i;
    } else {
      ++refused;
      EXPECT_EQ(i % 2, 0) << "start " << i << " refused its own directory: " << proc.Stderr();
      EXPECT_EQ(proc.Stop(), 1) << "start " << i;
      EXPECT_THAT(proc.Stderr(), HasSubstr(OwnerMessage(server_dir, sock, kTestUidA)))
          << "start " << i;
    }
    ASSERT_TRUE(box.CanaryUntouched()) << "after start " << i;
    if (::testing::Test::HasFailure()) break;
    ASSERT_NO_FATAL_FAILURE(race.CleanUp(i));
  }
  EXPECT_EQ(race.Finish(), 0);
  EXPECT_TRUE(box.CanaryUntouched());
  EXPECT_EQ(refused, 100);
  EXPECT_EQ(served, 100);
  std::cerr << "signet-server: refused " << refused << ", served " << served << " of 200 starts\n";
}

// ---------------------------------------------------------------------------
// Item 7: no stale admin socket, whichever way the server ends.

class StaleSocketTest : public ::testing::TestWithParam<int> {};

// (Not SIGSEGV or SIGBUS: a sanitizer build handles those itself, and the
// cleanup then leaves them alone; socket_path_test covers the handler.)
TEST_P(StaleSocketTest, ServerKilledByFatalSignalRemovesItsAdminSocket) {
  const int sig = GetParam();
  const rlimit no_core{0, 0};
  ASSERT_EQ(setrlimit(RLIMIT_CORE, &no_core), 0);  // inherited by the server
  servertest::ServerProcess server;
  ASSERT_TRUE(server.Start()) << server.Logs();
  ASSERT_EQ(access(server.socket().c_str(), F_OK), 0);
  ASSERT_EQ(kill(server.pid(), sig), 0);
  EXPECT_EQ(server.Stop(), 128 + sig);
  EXPECT_NE(access(server.socket().c_str(), F_OK), 0) << "stale admin socket left behind";
}

INSTANTIATE_TEST_SUITE_P(Signals, StaleSocketTest,
                         ::testing::Values(SIGABRT, SIGHUP, SIGQUIT, SIGXCPU),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(sigabbrev_np(i.param));
                         });

TEST(StaleSocketFullDiskTest, ServerPastFileSizeLimitKeepsRunningAndRemovesSocketOnStop) {
  // RLIMIT_FSIZE stands in for a full disk, with SIGXFSZ at its default
  // action (which used to kill the server and leave its socket behind).
  servertest::ServerProcess server;
  ASSERT_TRUE(server.Start()) << server.Logs();  // creates CA, keys, schema
  ASSERT_EQ(server.Stop(), 0);
  const std::string db = server.dir().File("data/datastore.sqlite3");
  struct stat st;
  ASSERT_EQ(stat(db.c_str(), &st), 0);
  const long limit_kb = (st.st_size / 1024) + 64;
  testutil::Subprocess proc(
      {"/bin/sh", "-c", absl::StrCat("trap - XFSZ; ulimit -f ", limit_kb, "; exec \"$0\" \"$@\""),
       testutil::ServerBinary(), "run", "-config", server.config_path()});
  ASSERT_TRUE(testutil::WaitFor([&] {
    return !proc.Running() || server.Cli({"healthcheck"}).exit_code == 0;
  })) << proc.Stderr();
  ASSERT_TRUE(proc.Running()) << proc.Stderr();
  auto admin = signet::admin::Admin::NewStub(
      grpc::CreateChannel("unix:" + server.socket(), grpc::InsecureChannelCredentials()));
  grpc::Status last;
  for (int i = 0; i < 5000 && last.ok(); ++i) {
    signet::admin::CreateEntryRequest req;
    auto* e = req.mutable_entry();
    e->set_spiffe_id(absl::StrCat("spiffe://example.org/fill/", i));
    e->set_parent_id("spiffe://example.org/spire/agent/join_token/x");
    auto* sel = e->add_selectors();
    sel->set_type("unix");
    sel->set_value("uid:1000");
    e->set_hint(std::string(1000, 'h'));
    signet::admin::EntryResponse resp;
    grpc::ClientContext ctx;
    last = admin->CreateEntry(&ctx, req, &resp);
  }
  ASSERT_FALSE(last.ok()) << "the file size limit was never reached";
  EXPECT_TRUE(proc.Running()) << "the server died at the file size limit: " << proc.Stderr();
  admin.reset();
  proc.Signal(SIGTERM);
  EXPECT_EQ(proc.Wait(), 0) << proc.Stderr();
  EXPECT_NE(access(server.socket().c_str(), F_OK), 0) << "stale admin socket left behind";
}

}  // namespace
}  // namespace signet
