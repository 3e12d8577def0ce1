// Tests for common/socket_path and the directory checks of
// UnixSocketServer::Create: one test per refusal reason, with the exact
// message, against directories prepared under a root-owned sticky directory
// that stands in for /tmp. Ownership cases need root (as in CI).
#include "common/socket_path.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/peer_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using ::testing::HasSubstr;
using testutil::kTestUidA;

struct stat Lstat(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(lstat(p.c_str(), &st), 0) << p << ": " << strerror(errno);
  return st;
}

class SocketPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // base (root 0755) / tmp (root 1777, like /tmp) / ...
    tmp_ = base_.File("tmp");
    ASSERT_EQ(mkdir(tmp_.c_str(), 0755), 0);
    ASSERT_EQ(chmod(tmp_.c_str(), 01777), 0);
  }

  static absl::Status CreateStatus(const std::string& path, mode_t dir_mode = 0755,
                                   mode_t sock_mode = 0777) {
    absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
        UnixSocketServer::Create(path, dir_mode, sock_mode);
    return uss.status();
  }

  static void MkdirOwned(const std::string& p, mode_t mode, uid_t uid) {
    ASSERT_EQ(mkdir(p.c_str(), mode), 0) << p;
    ASSERT_EQ(chmod(p.c_str(), mode), 0) << p;
    ASSERT_EQ(chown(p.c_str(), uid, uid), 0) << p;
  }

  static std::string OwnerMessage(const std::string& dir, const std::string& path, uid_t uid) {
    const uid_t me = geteuid();
    return absl::StrCat("directory ", dir, " on socket path ", path, " is owned by uid ", uid,
                        ", not by this process's uid ", me,
                        " or root, so its owner could replace the socket: remove ", dir,
                        " (or chown it to uid ", me, ") and restart");
  }
  static std::string WritableMessage(const std::string& dir, const std::string& path,
                                     const std::string& mode) {
    return absl::StrCat("directory ", dir, " on socket path ", path,
                        " is writable by its group or others (mode ", mode,
                        "), so they could replace the socket: run chmod go-w ", dir,
                        " (or remove it) and restart");
  }

  testutil::TempDir base_;
  std::string tmp_;
};

TEST_F(SocketPathTest, CreatesMissingDirectoriesUnderStickyTmp) {
  const std::string path = tmp_ + "/signet-agent/public/api.sock";
  absl::StatusOr<SocketDir> d = OpenSocketDir(path, 0755);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->dir, tmp_ + "/signet-agent/public");
  EXPECT_EQ(d->name, "api.sock");
  struct stat by_fd;
  ASSERT_EQ(fstat(d->fd, &by_fd), 0);
  close(d->fd);
  for (const std::string& dir : {tmp_ + "/signet-agent", tmp_ + "/signet-agent/public"}) {
    struct stat st = Lstat(dir);
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << dir;
    EXPECT_EQ(st.st_mode & 07777, 0755u) << dir;
    EXPECT_EQ(st.st_uid, geteuid()) << dir;
  }
  EXPECT_EQ(by_fd.st_ino, Lstat(tmp_ + "/signet-agent/public").st_ino);
}

TEST_F(SocketPathTest, SocketInSafeDirectoryGetsItsModes) {
  const std::string path = tmp_ + "/signet-server/private/api.sock";
  absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
      UnixSocketServer::Create(path, 0750, 0770);
  ASSERT_TRUE(uss.ok()) << uss.status();
  struct stat st = Lstat(path);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0770u);
  EXPECT_EQ(Lstat(tmp_ + "/signet-server/private").st_mode & 07777, 0750u);
  (*uss)->Stop();
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST_F(SocketPathTest, RefusesDirectoryOwnedByAnotherUser) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to chown";
  // Pre-created by another user, with a mode that looks harmless.
  MkdirOwned(tmp_ + "/signet-agent", 0755, kTestUidA);
  const std::string path = tmp_ + "/signet-agent/public/api.sock";
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), OwnerMessage(tmp_ + "/signet-agent", path, kTestUidA));
  // Nothing was created inside it.
  EXPECT_NE(access((tmp_ + "/signet-agent/public").c_str(), F_OK), 0);
}

TEST_F(SocketPathTest, RefusesWorldWritableDirectoryOfAnotherUser) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to chown";
  // Issue 14 item 2: /tmp/signet-agent/public pre-created 0777 by an attacker.
  MkdirOwned(tmp_ + "/signet-agent", 0777, kTestUidA);
  MkdirOwned(tmp_ + "/signet-agent/public", 0777, kTestUidA);
  const std::string path = tmp_ + "/signet-agent/public/api.sock";
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), OwnerMessage(tmp_ + "/signet-agent", path, kTestUidA));
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST_F(SocketPathTest, RefusesWorldWritableDirectoryOfOurs) {
  MkdirOwned(tmp_ + "/signet-agent", 0755, geteuid());
  MkdirOwned(tmp_ + "/signet-agent/public", 0777, geteuid());
  const std::string path = tmp_ + "/signet-agent/public/api.sock";
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), WritableMessage(tmp_ + "/signet-agent/public", path, "0777"));
  // The directory keeps its mode: we do not take over directories we did
  // not create.
  EXPECT_EQ(Lstat(tmp_ + "/signet-agent/public").st_mode & 07777, 0777u);
}

TEST_F(SocketPathTest, RefusesDirectoryWritableByAnotherGroup) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to chown";
  MkdirOwned(tmp_ + "/signet-server", 0770, geteuid());
  ASSERT_EQ(chown((tmp_ + "/signet-server").c_str(), geteuid(), kTestUidA), 0);
  const std::string path = tmp_ + "/signet-server/private/api.sock";
  absl::Status st = CreateStatus(path, 0750, 0770);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), WritableMessage(tmp_ + "/signet-server", path, "0770"));
}

TEST_F(SocketPathTest, AcceptsDirectoryWritableByOwnGroup) {
  // Like a Kubernetes fsGroup volume: root-owned, setgid, writable by the
  // daemon's own group.
  const std::string vol = base_.File("vol");
  ASSERT_EQ(mkdir(vol.c_str(), 0755), 0);
  ASSERT_EQ(chown(vol.c_str(), geteuid(), getegid()), 0);
  ASSERT_EQ(chmod(vol.c_str(), 02775), 0);
  const std::string path = vol + "/admin/api.sock";
  absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
      UnixSocketServer::Create(path, 0750, 0770);
  ASSERT_TRUE(uss.ok()) << uss.status();
  EXPECT_EQ(Lstat(vol + "/admin").st_mode & 0777, 0750u);
}

TEST_F(SocketPathTest, RefusesWritableIntermediateDirectoryWithoutStickyBit) {
  MkdirOwned(tmp_ + "/open", 0777, geteuid());
  const std::string path = tmp_ + "/open/d/api.sock";
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), WritableMessage(tmp_ + "/open", path, "0777"));
}

TEST_F(SocketPathTest, RefusesSocketDirectlyInStickyDirectory) {
  const std::string path = tmp_ + "/api.sock";
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), WritableMessage(tmp_, path, "1777"));
}

TEST_F(SocketPathTest, RefusesSymlinkInStickyDirectory) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to chown";
  // Issue 14 item 2: /tmp/signet-server as a link to the attacker's directory.
  const std::string attacker_dir = base_.File("attacker");
  MkdirOwned(attacker_dir, 0777, kTestUidA);
  const std::string link = tmp_ + "/signet-server";
  ASSERT_EQ(symlink(attacker_dir.c_str(), link.c_str()), 0);
  ASSERT_EQ(lchown(link.c_str(), kTestUidA, kTestUidA), 0);
  const std::string path = link + "/private/api.sock";
  absl::Status st = CreateStatus(path, 0750, 0770);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            absl::StrCat(link, " on socket path ", path, " is a symbolic link in ", tmp_,
                         ", a directory other users can write; refusing to follow it: remove ",
                         link, " and restart"));
  EXPECT_NE(access((attacker_dir + "/private").c_str(), F_OK), 0);
}

TEST_F(SocketPathTest, RefusesOurOwnSymlinkInStickyDirectory) {
  // Even a link we made: in a shared directory its name is not ours to keep.
  const std::string real = base_.File("real");
  ASSERT_EQ(mkdir(real.c_str(), 0755), 0);
  const std::string link = tmp_ + "/signet-server";
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  const std::string path = link + "/api.sock";
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr(" is a symbolic link in " + tmp_));
}

TEST_F(SocketPathTest, FollowsSymlinkInPrivateDirectory) {
  // Like /var/run -> /run: a link in a directory only root can write.
  const std::string real = base_.File("real");
  ASSERT_EQ(mkdir(real.c_str(), 0755), 0);
  ASSERT_EQ(symlink("real", base_.File("link").c_str()), 0);
  absl::StatusOr<SocketDir> d = OpenSocketDir(base_.File("link/sub/api.sock"), 0700);
  ASSERT_TRUE(d.ok()) << d.status();
  struct stat by_fd;
  ASSERT_EQ(fstat(d->fd, &by_fd), 0);
  close(d->fd);
  EXPECT_EQ(by_fd.st_ino, Lstat(real + "/sub").st_ino);
  EXPECT_EQ(Lstat(real + "/sub").st_mode & 07777, 0700u);
}

TEST_F(SocketPathTest, ChecksTheTargetOfAFollowedSymlink) {
  // A trusted link that leads into a shared directory gains nothing.
  ASSERT_EQ(symlink(tmp_.c_str(), base_.File("link").c_str()), 0);
  const std::string path = base_.File("link/api.sock");
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), WritableMessage(tmp_, path, "1777"));
}

TEST_F(SocketPathTest, RefusesFileAsDirectory) {
  testutil::WriteFile(tmp_ + "/signet-agent", "x", 0644);
  absl::Status st = CreateStatus(tmp_ + "/signet-agent/api.sock");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), tmp_ + "/signet-agent exists and is not a directory");
}

TEST_F(SocketPathTest, RefusesDirectoryModeOthersCouldWrite) {
  const std::string path = tmp_ + "/signet-server/private/api.sock";
  absl::Status st = CreateStatus(path, 0770, 0770);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "directory mode 0770 for socket path " + path +
                              " would let other users replace the socket");
  EXPECT_NE(access((tmp_ + "/signet-server").c_str(), F_OK), 0);
}

TEST_F(SocketPathTest, RefusesStaleSocketOfAnotherUser) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to chown";
  const std::string dir = tmp_ + "/d";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  const std::string path = dir + "/api.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  ASSERT_EQ(lchown(path.c_str(), kTestUidA, kTestUidA), 0);
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            absl::StrCat(path, " is a socket owned by uid ", kTestUidA,
                         ", not by this process's uid ", geteuid(), "; refusing to replace it"));
  EXPECT_TRUE(S_ISSOCK(Lstat(path).st_mode));
}

TEST_F(SocketPathTest, RefusesToReplaceSymlink) {
  const std::string dir = tmp_ + "/d";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  const std::string canary = base_.File("canary");
  testutil::WriteFile(canary, "secret", 0600);
  const std::string path = dir + "/api.sock";
  ASSERT_EQ(symlink(canary.c_str(), path.c_str()), 0);
  absl::Status st = CreateStatus(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), path + " exists and is not a socket; refusing to replace it");
  EXPECT_EQ(Lstat(canary).st_mode & 07777, 0600u);
}

TEST_F(SocketPathTest, SetSocketModeDoesNotFollowALink) {
  // The socket replaced by a link between bind and chmod.
  const std::string dir = tmp_ + "/d";
  absl::StatusOr<SocketDir> d = OpenSocketDir(dir + "/api.sock", 0755);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string canary = base_.File("canary");
  testutil::WriteFile(canary, "secret", 0600);
  ASSERT_EQ(symlink(canary.c_str(), (dir + "/api.sock").c_str()), 0);
  absl::StatusOr<struct stat> st = SetSocketModeAt(*d, dir + "/api.sock", 0777);
  close(d->fd);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.status().message(),
            dir + "/api.sock was replaced after it was bound; refusing to change its mode");
  EXPECT_EQ(Lstat(canary).st_mode & 07777, 0600u);
}

TEST_F(SocketPathTest, StopLeavesAReplacedSocketAlone) {
  const std::string path = tmp_ + "/d/api.sock";
  absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
      UnixSocketServer::Create(path, 0755, 0777);
  ASSERT_TRUE(uss.ok()) << uss.status();
  ASSERT_EQ(unlink(path.c_str()), 0);
  testutil::WriteFile(path, "someone else's", 0644);
  (*uss)->Stop();
  EXPECT_EQ(testutil::ReadFile(path), "someone else's");
}

// RunChild forks a child that creates a socket server at `path` and then runs
// `die` (after `before`, run ahead of the creation); returns the child's
// wait status. The child never returns to gtest.
int RunChild(
    const std::string& path, const std::function<void()>& die,
    const std::function<void()>& before = [] {}) {
  int ready[2];
  EXPECT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]);
    before();
    absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
        UnixSocketServer::Create(path, 0755, 0777);
    if (!uss.ok()) _exit(3);
    const char b = 1;
    if (write(ready[1], &b, 1) != 1) _exit(4);
    die();
    _exit(5);
  }
  close(ready[1]);
  char b = 0;
  EXPECT_EQ(read(ready[0], &b, 1), 1) << "the child did not create its socket";
  close(ready[0]);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

TEST_F(SocketPathTest, SocketIsRemovedWhenTheProcessAborts) {
  const rlimit no_core{0, 0};
  ASSERT_EQ(setrlimit(RLIMIT_CORE, &no_core), 0);
  const std::string path = tmp_ + "/d/api.sock";
  const int status = RunChild(path, [] { abort(); });
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGABRT);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "stale socket left behind";
}

TEST_F(SocketPathTest, SocketIsRemovedWhenTheProcessIsKilledBySighup) {
  const std::string path = tmp_ + "/d/api.sock";
  const int status = RunChild(path, [] {
    kill(getpid(), SIGHUP);
    for (;;) pause();
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGHUP);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "stale socket left behind";
}

TEST_F(SocketPathTest, SocketIsRemovedWhenTheProcessExceedsTheFileSizeLimit) {
  const std::string path = tmp_ + "/d/api.sock";
  const int status = RunChild(path, [] {
    raise(SIGXFSZ);
    for (;;) pause();
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGXFSZ);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "stale socket left behind";
}

TEST_F(SocketPathTest, IgnoredSignalStaysIgnored) {
  // The servers ignore SIGXFSZ (a write past the file size limit then fails
  // with EFBIG); the cleanup handlers must not take that over.
  const std::string path = tmp_ + "/d/api.sock";
  const int status = RunChild(
      path,
      [] {
        struct sigaction sa;
        sigaction(SIGXFSZ, nullptr, &sa);
        if (sa.sa_handler != SIG_IGN) _exit(6);
        raise(SIGXFSZ);
        _exit(0);
      },
      [] { signal(SIGXFSZ, SIG_IGN); });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace signet
