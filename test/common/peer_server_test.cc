// Tests for common/peer_server: a real gRPC server on a unix socket whose
// handlers resolve the caller's kernel credentials.
#include "common/peer_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workload/workload.grpc.pb.h"

namespace signet {
namespace {

using ::testing::HasSubstr;

// Removes a directory tree created by a test (best effort).
void RemoveTree(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (d != nullptr) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string child = path + "/" + name;
      struct stat st;
      if (lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        RemoveTree(child);
      } else {
        unlink(child.c_str());
      }
    }
    closedir(d);
  }
  rmdir(path.c_str());
}

int CountOpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // the DIR's own fd
}

// WaitFor polls `pred` until it holds or `timeout` passes (an event wait
// with a generous deadline, not a correctness sleep).
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// StableFdCount waits until connections closed asynchronously by gRPC are
// gone (the count is unchanged across 20 consecutive polls) and returns it.
int StableFdCount() {
  int last = -1;
  int same = 0;
  WaitFor([&] {
    int now = CountOpenFds();
    same = now == last ? same + 1 : 0;
    last = now;
    return same >= 20;
  });
  return last;
}

// PeerEchoService answers ValidateJWTSVID with "uid,pid,gid,conn_id" of the
// caller as read by UnixSocketServer::Lookup.
class PeerEchoService final : public SpiffeWorkloadAPI::Service {
 public:
  explicit PeerEchoService(UnixSocketServer* uss) : uss_(uss) {}
  grpc::Status ValidateJWTSVID(grpc::ServerContext* ctx, const ValidateJWTSVIDRequest*,
                               ValidateJWTSVIDResponse* resp) override {
    absl::StatusOr<PeerCred> pc = uss_->Lookup(ctx->peer());
    if (!pc.ok()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat(pc.status().message(), " (peer ", ctx->peer(), ")"));
    }
    resp->set_spiffe_id(absl::StrCat(pc->uid, ",", pc->pid, ",", pc->gid, ",", pc->conn_id));
    return grpc::Status::OK;
  }

 private:
  UnixSocketServer* uss_;
};

class PeerServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sg-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/p/api.sock";
  }
  void TearDown() override {
    StopServer();
    RemoveTree(dir_);
  }

  void StartServer(mode_t dir_mode = 0755, mode_t sock_mode = 0777,
                   const ConnectionLimits& limits = {}) {
    absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
        UnixSocketServer::Create(path_, dir_mode, sock_mode);
    ASSERT_TRUE(uss.ok()) << uss.status();
    uss_ = *std::move(uss);
    service_ = std::make_unique<PeerEchoService>(uss_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    uss_->SetLimits(limits);
    uss_->Start(server_.get());
  }

  void StopServer() {
    if (uss_ != nullptr) uss_->Stop();
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      server_.reset();
    }
    uss_.reset();
  }

  // Call makes one RPC on a fresh connection and returns the response text.
  absl::StatusOr<std::string> Call() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel =
        grpc::CreateCustomChannel("unix:" + path_, grpc::InsecureChannelCredentials(), args);
    auto stub = SpiffeWorkloadAPI::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ValidateJWTSVIDRequest req;
    ValidateJWTSVIDResponse resp;
    grpc::Status st = stub->ValidateJWTSVID(&ctx, req, &resp);
    if (!st.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    }
    return resp.spiffe_id();
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<UnixSocketServer> uss_;
  std::unique_ptr<PeerEchoService> service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(PeerServerTest, HandlerSeesCallerCredentials) {
  StartServer();
  absl::StatusOr<std::string> r = Call();
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> parts = absl::StrSplit(*r, ',');
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0], absl::StrCat(getuid()));
  EXPECT_EQ(parts[1], absl::StrCat(getpid()));
  EXPECT_EQ(parts[2], absl::StrCat(getgid()));
}

TEST_F(PeerServerTest, EachConnectionGetsNewConnId) {
  StartServer();
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> r = Call();
    ASSERT_TRUE(r.ok()) << r.status();
    std::vector<std::string> parts = absl::StrSplit(*r, ',');
    ids.insert(parts.back());
  }
  EXPECT_EQ(ids.size(), 3u);
}

TEST_F(PeerServerTest, SocketAndDirectoryModes) {
  path_ = dir_ + "/a/b/api.sock";
  StartServer(0711, 0666);
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  ASSERT_EQ(stat((dir_ + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  // The pre-existing mkdtemp directory keeps its own mode.
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(PeerServerTest, RestrictiveSocketMode) {
  StartServer(0700, 0600);
  struct stat st;
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(PeerServerTest, StopUnlinksSocket) {
  StartServer();
  struct stat st;
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  uss_->Stop();
  EXPECT_NE(lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
  uss_->Stop();  // idempotent
}

TEST_F(PeerServerTest, StopWithoutStartUnlinks) {
  absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
      UnixSocketServer::Create(path_, 0755, 0777);
  ASSERT_TRUE(uss.ok()) << uss.status();
  uss->reset();
  struct stat st;
  EXPECT_NE(lstat(path_.c_str(), &st), 0);
}

TEST_F(PeerServerTest, ReplacesStaleSocket) {
  ASSERT_EQ(mkdir((dir_ + "/p").c_str(), 0755), 0);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);  // bound, never listened: stale
  StartServer();
  absl::StatusOr<std::string> r = Call();
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(PeerServerTest, RefusesSocketInUse) {
  StartServer();
  absl::StatusOr<std::unique_ptr<UnixSocketServer>> second =
      UnixSocketServer::Create(path_, 0755, 0777);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(second.status().message(), "another server is listening on " + path_);
  // The first server still works.
  EXPECT_TRUE(Call().ok());
}

TEST_F(PeerServerTest, RefusesToReplaceRegularFile) {
  ASSERT_EQ(mkdir((dir_ + "/p").c_str(), 0755), 0);
  int fd = open(path_.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
      UnixSocketServer::Create(path_, 0755, 0777);
  ASSERT_FALSE(uss.ok());
  EXPECT_EQ(uss.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(uss.status().message(), path_ + " exists and is not a socket; refusing to replace it");
}

TEST_F(PeerServerTest, RejectsLongPath) {
  std::string path = dir_ + "/" + std::string(120, 'a');
  absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
      UnixSocketServer::Create(path, 0755, 0777);
  ASSERT_FALSE(uss.ok());
  EXPECT_EQ(uss.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(uss.status().message()), HasSubstr("is too long"));
}

TEST_F(PeerServerTest, RejectsRelativePath) {
  absl::StatusOr<std::unique_ptr<UnixSocketServer>> uss =
      UnixSocketServer::Create("rel.sock", 0755, 0777);
  ASSERT_FALSE(uss.ok());
  EXPECT_EQ(uss.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(uss.status().message(), "socket path \"rel.sock\" must be absolute");
}

TEST_F(PeerServerTest, LookupUnknownPeer) {
  StartServer();
  for (const char* peer : {"ipv4:127.0.0.1:5000", "fd:", "fd:x", "fd:99999", "unix:/a"}) {
    absl::StatusOr<PeerCred> pc = uss_->Lookup(peer);
    ASSERT_FALSE(pc.ok()) << peer;
    EXPECT_EQ(pc.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(std::string(pc.status().message()), HasSubstr("unknown peer"));
  }
}

TEST_F(PeerServerTest, NoFdLeakAcrossManyConnections) {
  StartServer();
  // Warm up: gRPC creates its fixed set of internal fds lazily.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Call().ok());
  const int baseline = StableFdCount();
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<std::string> r = Call();
    ASSERT_TRUE(r.ok()) << r.status();
  }
  EXPECT_TRUE(WaitFor([&] { return CountOpenFds() <= baseline; }))
      << "open fds: " << CountOpenFds() << " baseline: " << baseline;
}

// RawConnect opens a unix connection to `path` that sends nothing.
int RawConnect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// ClosedByPeer waits (generously) for `fd` to read EOF or a reset.
bool ClosedByPeer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 30 * 1000) != 1) return false;
  char c;
  const ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

TEST_F(PeerServerTest, LiveCountFollowsConnectionsGrpcCloses) {
  StartServer();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Call().ok());
  // Each Call's connection is closed by gRPC once the client is gone; the
  // accept thread notices within its sweep interval.
  EXPECT_TRUE(WaitFor([&] { return uss_->live_connections() == 0; })) << uss_->live_connections();
  EXPECT_EQ(uss_->refused_connections(), 0u);
}

TEST_F(PeerServerTest, PerUidLimitClosesConnectionsBeyondIt) {
  ConnectionLimits limits;
  limits.max_connections_per_uid = 3;
  StartServer(0755, 0777, limits);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(RawConnect(path_));
    ASSERT_GE(held.back(), 0);
  }
  const int extra = RawConnect(path_);
  ASSERT_GE(extra, 0);
  EXPECT_TRUE(ClosedByPeer(extra));
  close(extra);
  EXPECT_EQ(uss_->refused_connections(), 1u);
  EXPECT_EQ(uss_->live_connections(), 3);
  for (int fd : held) close(fd);
  // Once they are gone, the uid is served again.
  EXPECT_TRUE(WaitFor([&] { return uss_->live_connections() == 0; }));
  absl::StatusOr<std::string> r = Call();
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(PeerServerTest, TotalLimitClosesConnectionsBeyondIt) {
  ConnectionLimits limits;
  limits.max_connections = 2;
  StartServer(0755, 0777, limits);
  const int a = RawConnect(path_);
  const int b = RawConnect(path_);
  const int c = RawConnect(path_);
  ASSERT_GE(c, 0);
  EXPECT_TRUE(ClosedByPeer(c));
  EXPECT_EQ(uss_->refused_connections(), 1u);
  close(a);
  close(b);
  close(c);
}

TEST_F(PeerServerTest, ConnectionWithoutPrefaceIsClosedAtDeadline) {
  ConnectionLimits limits;
  limits.preface_timeout = absl::Milliseconds(200);
  StartServer(0755, 0777, limits);
  const int fd = RawConnect(path_);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(ClosedByPeer(fd));
  close(fd);
  EXPECT_EQ(uss_->refused_connections(), 1u);
  EXPECT_EQ(uss_->live_connections(), 0);
  // Real clients send the preface at once and are served.
  absl::StatusOr<std::string> r = Call();
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(PeerServerTest, ConcurrentClients) {
  StartServer();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (Call().ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 40);
}

// Out of file descriptors: accept fails with EMFILE; the loop must back off
// (not spin) and serve the queued connection once fds are available again.
TEST_F(PeerServerTest, SurvivesEmfile) {
  StartServer();
  ASSERT_TRUE(Call().ok());
  char tmpl[] = "/tmp/sg-log-XXXXXX";
  int log_fd = mkstemp(tmpl);
  ASSERT_GE(log_fd, 0);
  unlink(tmpl);
  ASSERT_TRUE(Logger::Configure("info", "text", log_fd));
  StableFdCount();
  // Pre-create the client socket, then cap the fd limit at the current usage
  // so the server's accept4 fails with EMFILE.
  int client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  // The kernel hands out the lowest free fd number; capping the limit there
  // makes every new allocation fail with EMFILE.
  int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = lowest_free;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  int rc = connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int connect_errno = errno;
  rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // measurement window
  getrusage(RUSAGE_SELF, &after);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  Logger::Configure("info", "text", 2);
  ASSERT_EQ(rc, 0) << strerror(connect_errno);
  // accept4 failed repeatedly with EMFILE during the window (every ~10ms).
  std::string log(64 * 1024, '\0');
  ssize_t n = pread(log_fd, log.data(), log.size(), 0);
  close(log_fd);
  log.resize(n > 0 ? static_cast<size_t>(n) : 0);
  int emfile_lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "Too many open files")) ++emfile_lines;
  }
  EXPECT_GE(emfile_lines, 3) << log;
  auto cpu_us = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000LL + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  // A spinning accept loop would burn ~200ms of CPU here.
  EXPECT_LT(cpu_us(after) - cpu_us(before), 100000);
  close(client);
  absl::StatusOr<std::string> r = Call();
  EXPECT_TRUE(r.ok()) << r.status();
}

}  // namespace
}  // namespace signet
