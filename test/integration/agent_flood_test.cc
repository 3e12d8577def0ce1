// Local exhaustion of a real signet-agent (SECURITY.md, "Agent resource
// limits"): a child process under another uid floods the Workload API socket
// with connections while a legitimate root caller keeps being served;
// connections that never send the HTTP/2 preface or stay idle are closed;
// memory goes back after a flood; oversized JWT-SVID audiences are refused by
// agent and server, the agent's JWT cache is bounded and the server's audit
// lines are capped.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "test/integration/fault_agent_fixture.h"

namespace signet::faulttest {
namespace {

using servertest::TestAgent;

constexpr uid_t kFlooderUid = 65534;
constexpr uid_t kSecondFlooderUid = 65533;
constexpr char kWorkloadId[] = "spiffe://example.org/wl";
// The HTTP/2 client preface and an empty SETTINGS frame (RFC 9113, 3.4).
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
constexpr size_t kPrefaceLen = sizeof(kPreface) - 1;

// ConnectRaw opens a unix stream connection to `path`; -1 on failure.
int ConnectRaw(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// ReadUntilEof reads `fd` until the peer closes it (true) or `timeout`
// passes (false), appending what arrived to `*got`.
bool ReadUntilEof(int fd, std::string* got, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n > 0) got->append(buf, static_cast<size_t>(n));
  }
}

// HasGoaway reports whether the HTTP/2 frames in `data` include a GOAWAY.
bool HasGoaway(const std::string& data) {
  size_t at = 0;
  while (at + 9 <= data.size()) {
    const size_t len = (static_cast<unsigned char>(data[at]) << 16) |
                       (static_cast<unsigned char>(data[at + 1]) << 8) |
                       static_cast<unsigned char>(data[at + 2]);
    if (data[at + 3] == 0x7) return true;
    at += 9 + len;
  }
  return false;
}

// Flooder is a child process under another uid holding many connections to
// the agent's socket. Commands go over a pipe; the child only makes system
// calls (it is forked from a threaded process).
class Flooder {
 public:
  // Starts the child as `uid`; it opens `n` connections to `socket`, writing
  // the HTTP/2 preface and an empty SETTINGS frame on each when `preface`.
  Flooder(const std::string& socket, uid_t uid, int n, bool preface) {
    int cmd[2], rep[2];
    if (pipe2(cmd, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) return;
    std::vector<int> fds(static_cast<size_t>(n), -1);
    std::vector<char> closed(static_cast<size_t>(n), 0);
    const std::string path = socket;
    pid_ = fork();
    if (pid_ == 0) {
      close(cmd[1]);
      close(rep[0]);
      struct rlimit nofile;
      if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
      }
      if (setgroups(0, nullptr) != 0 || setresgid(uid, uid, uid) != 0 ||
          setresuid(uid, uid, uid) != 0) {
        _exit(2);
      }
      int opened = 0;
      for (int i = 0; i < n; ++i) {
        fds[i] = ConnectRaw(path);
        if (fds[i] < 0) continue;
        ++opened;
        if (preface) (void)!write(fds[i], kPreface, kPrefaceLen);
      }
      (void)!write(rep[1], &opened, sizeof(opened));
      char c;
      while (read(cmd[0], &c, 1) == 1) {
        if (c != 'c') break;
        // Count the connections the agent closed: drain what it sent; EOF
        // or a reset means closed.
        int count = 0;
        char buf[4096];
        for (int i = 0; i < n; ++i) {
          while (!closed[i] && fds[i] >= 0) {
            const ssize_t r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
            if (r > 0) continue;
            if (r == 0 || errno == ECONNRESET || errno == EPIPE) closed[i] = 1;
            break;
          }
          if (closed[i]) ++count;
        }
        (void)!write(rep[1], &count, sizeof(count));
      }
      _exit(0);
    }
    close(cmd[0]);
    close(rep[1]);
    cmd_ = cmd[1];
    rep_ = rep[0];
  }
  ~Flooder() { Release(); }
  Flooder(const Flooder&) = delete;
  Flooder& operator=(const Flooder&) = delete;

  // Opened waits for the child to have opened its connections and returns
  // how many it could open (-1 on failure).
  int Opened() { return ReadInt(); }
  // ClosedByAgent returns how many of the child's connections the agent has
  // closed so far (-1 on failure).
  int ClosedByAgent() {
    const char c = 'c';
    if (write(cmd_, &c, 1) != 1) return -1;
    return ReadInt();
  }
  // Release ends the child, which closes every connection. (Killed: a
  // flooder forked later may hold this one's command pipe open.)
  void Release() {
    if (pid_ <= 0) return;
    close(cmd_);
    close(rep_);
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  int ReadInt() {
    int v = -1;
    pollfd p{rep_, POLLIN, 0};
    if (poll(&p, 1, 120 * 1000) != 1) return -1;
    if (read(rep_, &v, sizeof(v)) != sizeof(v)) return -1;
    return v;
  }

  pid_t pid_ = -1;
  int cmd_ = -1;
  int rep_ = -1;
};

// AnonKb returns RssAnon of `pid` in kB (-1 on error): the resident memory
// a flood can pin (heap, stacks). VmRSS also counts the binary's own code
// pages (RssFile), which a flood's first run through rarely used paths
// brings in once and which the kernel can drop at any time.
long AnonKb(pid_t pid) {
  std::string status = testutil::ReadFile(absl::StrCat("/proc/", pid, "/status"));
  size_t at = status.find("RssAnon:");
  if (at == std::string::npos) return -1;
  return strtol(status.c_str() + at + 8, nullptr, 10);
}

class AgentFloodTest : public ::testing::Test {
 protected:
  // Start runs a server (audit log on) and an agent with `agent_yaml` added
  // to its agent section, and an entry for this process's uid.
  void Start(const std::string& agent_yaml) {
    server_ = std::make_unique<ServerProcess>("  audit_log_enabled: true\n");
    ASSERT_TRUE(server_->Start()) << server_->Logs();
    agent_ = std::make_unique<AgentProcess>(*server_, server_->BundlePem(), 0,
                                            "    join_token: {}\n", agent_yaml);
    const std::string token = server_->GenerateToken();
    ASSERT_TRUE(agent_->Start(token)) << agent_->Logs();
    RunResult r =
        server_->Cli({"entry", "create", "-parentID",
                      absl::StrCat("spiffe://example.org/spire/agent/join_token/", token),
                      "-spiffeID", kWorkloadId, "-selector", absl::StrCat("unix:uid:", geteuid())});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(testutil::WaitFor([&] { return FetchX509OnNewConnection().ok(); }))
        << agent_->Logs();
  }

  // FetchX509OnNewConnection makes one FetchX509SVID call on a connection of
  // its own and checks that it carries this process's SVID.
  grpc::Status FetchX509OnNewConnection() {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    auto stub = SpiffeWorkloadAPI::NewStub(grpc::CreateCustomChannel(
        "unix:" + agent_->socket(), grpc::InsecureChannelCredentials(), args));
    auto ctx = Ctx();
    auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
    X509SVIDResponse resp;
    if (!reader->Read(&resp)) return reader->Finish();
    ctx->TryCancel();
    (void)reader->Finish();
    if (resp.svids_size() != 1 || resp.svids(0).spiffe_id() != kWorkloadId) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "unexpected SVIDs: " + resp.DebugString());
    }
    return grpc::Status::OK;
  }

  grpc::Status FetchJwt(const std::vector<std::string>& audience, JWTSVIDResponse* resp) {
    auto ctx = Ctx();
    JWTSVIDRequest req;
    for (const std::string& a : audience) req.add_audience(a);
    return agent_->Client()->FetchJWTSVID(ctx.get(), req, resp);
  }

  // Occurrences of `s` in the agent's log.
  int AgentLogCount(const std::string& s) const {
    const std::string logs = agent_->Logs();
    int n = 0;
    for (size_t at = logs.find(s); at != std::string::npos; at = logs.find(s, at + 1)) ++n;
    return n;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
};

// Limits that keep flood connections open for the whole test unless a cap
// closes them.
constexpr char kHoldYaml[] =
    "  max_connections: 200\n  max_connections_per_uid: 50\n"
    "  connection_preface_timeout: \"5m\"\n  connection_idle_timeout: \"1h\"\n";

TEST_F(AgentFloodTest, PerUidCapRefusesFlooderNotOthers) {
  ASSERT_NO_FATAL_FAILURE(Start(kHoldYaml));
  Flooder flood(agent_->socket(), kFlooderUid, 80, /*preface=*/false);
  ASSERT_EQ(flood.Opened(), 80);
  // A legitimate caller under another uid is served, with its own SVID...
  grpc::Status s = FetchX509OnNewConnection();
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << agent_->Logs();
  // ... and since the agent accepts in order, every flood connection has
  // been dealt with by now: those beyond the cap of 50 were closed.
  EXPECT_EQ(flood.ClosedByAgent(), 30);
  // One log line for the burst of refusals (rate-limited), not 30.
  ASSERT_TRUE(testutil::WaitFor(
      [&] { return AgentLogCount("max_connections_per_uid (50) reached for this uid") > 0; }));
  EXPECT_LE(AgentLogCount("max_connections_per_uid (50) reached for this uid"), 2);
  EXPECT_THAT(agent_->Logs(), ::testing::HasSubstr("uid=65534"));
  // Once the flooder is gone its uid may connect again.
  flood.Release();
  Flooder again(agent_->socket(), kFlooderUid, 10, /*preface=*/false);
  ASSERT_EQ(again.Opened(), 10);
  ASSERT_TRUE(FetchX509OnNewConnection().ok());
  EXPECT_EQ(again.ClosedByAgent(), 0);
}

TEST_F(AgentFloodTest, TotalCapRefusesEveryoneBeyondIt) {
  ASSERT_NO_FATAL_FAILURE(
      Start("  max_connections: 60\n  max_connections_per_uid: 50\n"
            "  connection_preface_timeout: \"5m\"\n  connection_idle_timeout: \"1h\"\n"));
  Flooder first(agent_->socket(), kFlooderUid, 50, /*preface=*/false);
  ASSERT_EQ(first.Opened(), 50);
  Flooder second(agent_->socket(), kSecondFlooderUid, 20, /*preface=*/false);
  ASSERT_EQ(second.Opened(), 20);
  // 60 live in all: 50 + 10, the other 10 of the second uid were closed.
  // A raw root connection after them is closed too (after the second
  // flooder's, in accept order).
  const int fd = ConnectRaw(agent_->socket());
  ASSERT_GE(fd, 0);
  std::string got;
  EXPECT_TRUE(ReadUntilEof(fd, &got));
  close(fd);
  EXPECT_EQ(first.ClosedByAgent(), 0);
  EXPECT_EQ(second.ClosedByAgent(), 10);
  ASSERT_TRUE(testutil::WaitFor([&] { return AgentLogCount("max_connections (60) reached") > 0; }));
  // When the flood ends, root is served again.
  first.Release();
  second.Release();
  EXPECT_TRUE(testutil::WaitFor([&] { return FetchX509OnNewConnection().ok(); }));
}

TEST_F(AgentFloodTest, ConnectionWithoutPrefaceIsClosedAfterDeadline) {
  ASSERT_NO_FATAL_FAILURE(Start("  connection_preface_timeout: \"1s\"\n"));
  const int fd = ConnectRaw(agent_->socket());
  ASSERT_GE(fd, 0);
  std::string got;
  EXPECT_TRUE(ReadUntilEof(fd, &got)) << "the agent kept an idle connection open";
  close(fd);
  EXPECT_TRUE(testutil::WaitFor([&] {
    return AgentLogCount("reason=\"no HTTP/2 preface within 1s\"") > 0;
  })) << agent_->Logs();
}

TEST_F(AgentFloodTest, ConnectionNotSpeakingHttp2IsClosed) {
  ASSERT_NO_FATAL_FAILURE(Start(""));
  const int fd = ConnectRaw(agent_->socket());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "GET / HTTP/1.1\r\n\r\n", 18), 18);
  std::string got;
  EXPECT_TRUE(ReadUntilEof(fd, &got));
  close(fd);
}

TEST_F(AgentFloodTest, IdleConnectionGetsGoawayAndIsClosed) {
  ASSERT_NO_FATAL_FAILURE(Start("  connection_idle_timeout: \"1s\"\n"));
  const int fd = ConnectRaw(agent_->socket());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, kPreface, kPrefaceLen), static_cast<ssize_t>(kPrefaceLen));
  std::string got;
  EXPECT_TRUE(ReadUntilEof(fd, &got)) << "the agent kept an idle connection open";
  EXPECT_TRUE(HasGoaway(got));
  close(fd);
}

TEST_F(AgentFloodTest, MemoryReturnsAfterFlood) {
  ASSERT_NO_FATAL_FAILURE(
      Start("  max_connections: 5000\n  max_connections_per_uid: 1024\n"
            "  connection_preface_timeout: \"5m\"\n  connection_idle_timeout: \"1h\"\n"));
  const pid_t pid = agent_->pid();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(FetchX509OnNewConnection().ok());
  {
    // The same flood once first, so that what is allocated once, the first
    // time that many connections arrive (gRPC's per-thread arenas, code pages
    // touched for the first time), is in the baseline: what is measured is
    // what a flood keeps, not what the first one warms up.
    Flooder warm(agent_->socket(), kFlooderUid, 3000, /*preface=*/true);
    ASSERT_EQ(warm.Opened(), 3000);
    ASSERT_TRUE(testutil::WaitFor([&] { return FetchX509OnNewConnection().ok(); }));
  }
  long before = 0;
  // Wait for the agent to have noticed and trimmed after the small flood.
  // (unchanged over 2 s: the agent trims at its sweeps, once a second).
  for (long last = -1; before != last && before >= 0;) {
    last = before;
    absl::SleepFor(absl::Seconds(2));
    before = RssKb(pid);
  }
  ASSERT_GT(before, 0);
  long during = 0;
  {
    // Connections that speak HTTP/2: each one within the per-uid cap (the
    // default, 1024) is a gRPC transport; the rest are closed at accept.
    Flooder flood(agent_->socket(), kFlooderUid, 3000, /*preface=*/true);
    ASSERT_EQ(flood.Opened(), 3000);
    // While the agent works through 3,000 new transports its listen backlog
    // may be full, and a new connection fails: retry until it is served (the
    // connection that is served was accepted after all of the flood's).
    ASSERT_TRUE(testutil::WaitFor([&] { return FetchX509OnNewConnection().ok(); }));
    EXPECT_EQ(flood.ClosedByAgent(), 3000 - 1024);
    during = RssKb(pid);
  }
  // The flood must have cost memory for this test to mean anything.
  ASSERT_GT(during, before * 12 / 10) << "before " << before << " kB, during " << during << " kB";
  long after = 0;
  EXPECT_TRUE(testutil::WaitFor(
      [&] {
        after = RssKb(pid);
        return after <= before * 12 / 10;
      },
      absl::Seconds(60)))
      << "VmRSS before " << before << " kB, during " << during << " kB, after " << after
      << " kB; RssAnon now " << AnonKb(pid) << " kB";
  EXPECT_TRUE(FetchX509OnNewConnection().ok());
}

TEST_F(AgentFloodTest, TooManyAudiencesIsInvalidArgument) {
  ASSERT_NO_FATAL_FAILURE(Start(""));
  std::vector<std::string> aud;
  for (int i = 0; i < 33; ++i) aud.push_back(absl::StrCat("aud", i));
  JWTSVIDResponse resp;
  grpc::Status s = FetchJwt(aud, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "too many audiences: 33 (at most 32)");
  aud.pop_back();
  s = FetchJwt(aud, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.svids_size(), 1);
  EXPECT_EQ(resp.svids(0).spiffe_id(), kWorkloadId);
}

TEST_F(AgentFloodTest, TooLongAudienceIsInvalidArgument) {
  ASSERT_NO_FATAL_FAILURE(Start(""));
  JWTSVIDResponse resp;
  grpc::Status s = FetchJwt({"svc", std::string(1025, 'a')}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "audience 1 is too long: 1025 bytes (at most 1024)");
  s = FetchJwt({"svc", std::string(1024, 'a')}, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(AgentFloodTest, ValidateWithTooLongAudienceIsInvalidArgument) {
  ASSERT_NO_FATAL_FAILURE(Start(""));
  auto ctx = Ctx();
  ValidateJWTSVIDRequest req;
  req.set_audience(std::string(2 << 20, 'a'));
  req.set_svid("x.y.z");
  ValidateJWTSVIDResponse resp;
  grpc::Status s = agent_->Client()->ValidateJWTSVID(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "audience is too long: 2097152 bytes (at most 1024)");
}

TEST_F(AgentFloodTest, JwtCacheIsBoundedByBytes) {
  ASSERT_NO_FATAL_FAILURE(Start("  jwt_cache_max_bytes: 65536\n"));
  const pid_t pid = agent_->pid();
  auto unique_audiences = [](int call) {
    std::vector<std::string> aud;
    for (int i = 0; i < 32; ++i) aud.push_back(absl::StrCat(call, "-", i, std::string(1000, 'a')));
    return aud;
  };
  // Warm up (allocator arenas, gRPC buffers) with the same kind of call.
  for (int i = 0; i < 20; ++i) {
    JWTSVIDResponse resp;
    ASSERT_TRUE(FetchJwt(unique_audiences(i), &resp).ok());
  }
  const long before = RssKb(pid);
  // 300 tokens of ~43 kB plus ~32 kB keys: ~22 MB if all were kept.
  for (int i = 20; i < 320; ++i) {
    JWTSVIDResponse resp;
    grpc::Status s = FetchJwt(unique_audiences(i), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.svids_size(), 1);
  }
  const long after = RssKb(pid);
  EXPECT_LT(after - before, 8 * 1024) << "RSS before " << before << " kB, after " << after << " kB";
  // A repeated call within the token's lifetime is still answered.
  JWTSVIDResponse resp;
  EXPECT_TRUE(FetchJwt(unique_audiences(319), &resp).ok());
}

TEST_F(AgentFloodTest, ServerAuditLinesAreCapped) {
  ASSERT_NO_FATAL_FAILURE(Start(""));
  std::vector<std::string> aud;
  for (int i = 0; i < 32; ++i) aud.push_back(absl::StrCat(i, std::string(1000, 'b')));
  JWTSVIDResponse resp;
  ASSERT_TRUE(FetchJwt(aud, &resp).ok());
  std::string line;
  ASSERT_TRUE(testutil::WaitFor([&] {
    for (absl::string_view l : absl::StrSplit(server_->Logs(), '\n')) {
      if (absl::StrContains(l, "Node/NewJwtSvid\"") && absl::StrContains(l, "\"audit\"")) {
        line = std::string(l);
        return true;
      }
    }
    return false;
  })) << server_->Logs().substr(0, 4096);
  EXPECT_LT(line.size(), 16u * 1024) << line.substr(0, 512);
  EXPECT_THAT(line, ::testing::HasSubstr("...(1001 bytes)"));
  EXPECT_THAT(line, ::testing::HasSubstr("...(16 more)"));
}

// The server does not trust the agent's checks: a (simulated) agent asking
// for too many or too long audiences gets InvalidArgument.
class ServerAudienceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    agent_ = std::make_unique<TestAgent>(server_.port(), server_.BundlePem());
    ASSERT_TRUE(agent_->Attest(server_.GenerateToken()).ok());
    RunResult r = server_.Cli({"entry", "create", "-parentID", agent_->id(), "-spiffeID",
                               kWorkloadId, "-selector", "unix:uid:1000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    entry_id_ = ServerProcess::Field(r.out, "Entry ID");
    ASSERT_FALSE(entry_id_.empty()) << r.out;
  }
  grpc::Status NewJwt(const std::vector<std::string>& audience) {
    signet::agent::NewJwtSvidRequest req;
    req.set_entry_id(entry_id_);
    for (const std::string& a : audience) req.add_audience(a);
    signet::agent::NewJwtSvidResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return agent_->Stub()->NewJwtSvid(&ctx, req, &resp);
  }

  ServerProcess server_;
  std::unique_ptr<TestAgent> agent_;
  std::string entry_id_;
};

TEST_F(ServerAudienceTest, TooManyAudiencesIsInvalidArgument) {
  std::vector<std::string> aud;
  for (int i = 0; i < 33; ++i) aud.push_back(absl::StrCat("aud", i));
  grpc::Status s = NewJwt(aud);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "too many audiences: 33 (at most 32)");
  aud.pop_back();
  s = NewJwt(aud);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(ServerAudienceTest, TooLongAudienceIsInvalidArgument) {
  grpc::Status s = NewJwt({std::string(2 << 20, 'a')});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "audience 0 is too long: 2097152 bytes (at most 1024)");
}

}  // namespace
}  // namespace signet::faulttest
