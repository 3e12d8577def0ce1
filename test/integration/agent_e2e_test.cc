// End-to-end tests of signet-agent with a real signet-server, real workload
// processes (under other uids when running as root) and the Workload API.
#include <fcntl.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"
#include "workload/workload.grpc.pb.h"

namespace signet {
namespace {

using faulttest::AgentProcess;
using faulttest::Ctx;
using servertest::ServerProcess;
using ::testing::HasSubstr;
using testutil::RunResult;

std::string FileSha256Hex(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return HexEncode(Sha256(ss.str()));
}

std::string LeafSerial(const X509SVID& s) {
  auto chain = ParseCertsDer(s.x509_svid());
  return chain.ok() ? CertSerialHex((*chain)[0].get()) : "";
}

class AgentE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    bundle_pem_ = server_.BundlePem();
    agent_ = std::make_unique<AgentProcess>(server_, bundle_pem_);
    std::string token = server_.GenerateToken();
    ASSERT_FALSE(token.empty());
    ASSERT_TRUE(agent_->Start(token)) << agent_->Logs();
    agent_id_ = absl::StrCat("spiffe://example.org/spire/agent/join_token/", token);
  }

  // CreateEntry registers spiffe_id under this agent with `selectors`;
  // returns the entry id.
  std::string CreateEntry(const std::string& spiffe_id, const std::vector<std::string>& selectors,
                          const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a{"entry", "create", "-parentID", agent_id_, "-spiffeID", spiffe_id};
    for (const auto& s : selectors) {
      a.push_back("-selector");
      a.push_back(s);
    }
    a.insert(a.end(), extra.begin(), extra.end());
    RunResult r = server_.Cli(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ServerProcess::Field(r.out, "Entry ID");
  }
  void DeleteEntry(const std::string& id) {
    RunResult r = server_.Cli({"entry", "delete", "-entryID", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }

  std::string SelfUidSelector() const { return absl::StrCat("unix:uid:", geteuid()); }

  // WaitForSvidCount reads `reader` until a message has `n` SVIDs.
  static bool ReadUntil(grpc::ClientReader<X509SVIDResponse>* reader, int n,
                        X509SVIDResponse* out) {
    while (reader->Read(out)) {
      if (out->svids_size() == n) return true;
    }
    return false;
  }

  ServerProcess server_;
  std::string bundle_pem_;
  std::unique_ptr<AgentProcess> agent_;
  std::string agent_id_;
};

TEST_F(AgentE2ETest, RightSvidPerUidAndNothingForUnregisteredUid) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run workloads under other uids";
  CreateEntry("spiffe://example.org/uid-a", {absl::StrCat("unix:uid:", testutil::kTestUidA)});
  CreateEntry("spiffe://example.org/uid-b", {absl::StrCat("unix:uid:", testutil::kTestUidB)});
  RunResult a, b;
  ASSERT_TRUE(testutil::WaitFor([&] {
    a = agent_->Cli({"api", "fetch", "x509"}, testutil::kTestUidA);
    return a.exit_code == 0;
  })) << a.err
      << agent_->Logs();
  EXPECT_THAT(a.out, HasSubstr("SPIFFE ID:\t\tspiffe://example.org/uid-a"));
  EXPECT_THAT(a.out, ::testing::Not(HasSubstr("uid-b")));
  EXPECT_THAT(a.out, HasSubstr("Received 1 svid after"));
  ASSERT_TRUE(testutil::WaitFor([&] {
    b = agent_->Cli({"api", "fetch", "x509"}, testutil::kTestUidB);
    return b.exit_code == 0;
  })) << b.err;
  EXPECT_THAT(b.out, HasSubstr("spiffe://example.org/uid-b"));
  EXPECT_THAT(b.out, ::testing::Not(HasSubstr("uid-a")));
  RunResult c = agent_->Cli({"api", "fetch", "x509"}, 65532);
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_THAT(c.err, HasSubstr("code = PermissionDenied desc = no identity issued"));
}

TEST_F(AgentE2ETest, BinaryPathAndHashSelectors) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run workloads under other uids";
  std::string bin = testutil::AgentBinary();
  std::string copy = agent_->dir().File("workload-copy");
  testutil::WriteFile(copy, testutil::ReadFile(bin), 0755);
  std::string uid = absl::StrCat("unix:uid:", testutil::kTestUidA);
  CreateEntry("spiffe://example.org/by-hash", {uid, "unix:sha256:" + FileSha256Hex(bin)});
  CreateEntry("spiffe://example.org/by-path", {uid, "unix:path:" + bin});
  RunResult orig, cp;
  ASSERT_TRUE(testutil::WaitFor([&] {
    orig = agent_->Cli({"api", "fetch", "x509"}, testutil::kTestUidA);
    return orig.exit_code == 0 && absl::StrContains(orig.out, "Received 2 svids");
  })) << orig.out
      << orig.err;
  EXPECT_THAT(orig.out, HasSubstr("spiffe://example.org/by-hash"));
  EXPECT_THAT(orig.out, HasSubstr("spiffe://example.org/by-path"));
  // The copy has the same hash but another path.
  cp = agent_->Cli({"api", "fetch", "x509"}, testutil::kTestUidA, copy);
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_THAT(cp.out, HasSubstr("Received 1 svid"));
  EXPECT_THAT(cp.out, HasSubstr("spiffe://example.org/by-hash"));
}

TEST_F(AgentE2ETest, FetchWriteOutputVerifiesWithOpenssl) {
  CreateEntry("spiffe://example.org/writer", {SelfUidSelector()});
  testutil::TempDir out;
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent_->Cli({"api", "fetch", "x509", "-write", out.path()});
    return r.exit_code == 0;
  })) << r.err;
  struct stat st;
  ASSERT_EQ(stat(out.File("svid.0.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  RunResult v = testutil::Run(
      {"/usr/bin/openssl", "verify", "-CAfile", out.File("bundle.0.pem"), out.File("svid.0.pem")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_THAT(v.out, HasSubstr("svid.0.pem: OK"));
  // The key matches the certificate.
  auto key = ParsePrivateKeyPem(testutil::ReadFile(out.File("svid.0.key")));
  auto cert = ParseCertsPem(testutil::ReadFile(out.File("svid.0.pem")));
  ASSERT_TRUE(key.ok() && cert.ok());
  EvpPkeyPtr pub(X509_get_pubkey((*cert)[0].get()));
  EXPECT_TRUE(PublicKeysEqual(pub.get(), key->get()));
}

TEST_F(AgentE2ETest, JwtFetchAndValidateThroughCli) {
  CreateEntry("spiffe://example.org/jwt", {SelfUidSelector()});
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent_->Cli({"api", "fetch", "jwt", "-audience", "svc"});
    return r.exit_code == 0;
  })) << r.err;
  ASSERT_THAT(r.out, HasSubstr("token(spiffe://example.org/jwt):"));
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  std::string token(absl::StripAsciiWhitespace(lines[1]));
  RunResult v = agent_->Cli({"api", "validate", "jwt", "-audience", "svc", "-svid", token});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_THAT(v.out, HasSubstr("SPIFFE ID : spiffe://example.org/jwt"));
  RunResult bad = agent_->Cli({"api", "validate", "jwt", "-audience", "other", "-svid", token});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("InvalidArgument"));
  // Cached per (identity, audience set): the same token again.
  RunResult again = agent_->Cli({"api", "fetch", "jwt", "-audience", "svc"});
  EXPECT_THAT(again.out, HasSubstr(token));
}

TEST_F(AgentE2ETest, ErrorCodes) {
  CreateEntry("spiffe://example.org/codes", {"unix:uid:4242"});
  auto stub = agent_->Client();
  {  // Missing header.
    auto ctx = Ctx(false);
    auto r = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
    X509SVIDResponse m;
    EXPECT_FALSE(r->Read(&m));
    grpc::Status s = r->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "security header missing from request");
  }
  {  // No identity for this caller.
    auto ctx = Ctx();
    auto r = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
    X509SVIDResponse m;
    EXPECT_FALSE(r->Read(&m));
    grpc::Status s = r->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message(), "no identity issued");
  }
  {  // JWT without audience.
    auto ctx = Ctx();
    JWTSVIDResponse resp;
    EXPECT_EQ(stub->FetchJWTSVID(ctx.get(), JWTSVIDRequest(), &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // WIT.
    auto ctx = Ctx();
    auto r = stub->FetchWITSVID(ctx.get(), WITSVIDRequest());
    WITSVIDResponse m;
    EXPECT_FALSE(r->Read(&m));
    EXPECT_EQ(r->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
}

TEST_F(AgentE2ETest, AgentWithoutServerIsUnavailable) {
  AgentProcess lonely(server_, bundle_pem_, testutil::FreeTcpPort());
  ASSERT_TRUE(lonely.Start("no-such-server-token", /*wait_healthy=*/false)) << lonely.Logs();
  auto stub = lonely.Client();
  auto ctx = Ctx();
  auto r = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse m;
  EXPECT_FALSE(r->Read(&m));
  grpc::Status s = r->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  RunResult h = lonely.Cli({"healthcheck"});
  EXPECT_EQ(h.exit_code, 1);
}

TEST_F(AgentE2ETest, BadJoinTokenStopsTheAgent) {
  AgentProcess other(server_, bundle_pem_);
  std::vector<std::string> argv{testutil::AgentBinary(),        "run",        "-config",
                                other.dir().File("agent.yaml"), "-joinToken", "bogus"};
  RunResult r = testutil::Run(argv, {}, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("join token does not exist or has already been used"));
}

TEST_F(AgentE2ETest, EntryCreatedAndDeletedWhileStreamIsOpen) {
  std::string e1 = CreateEntry("spiffe://example.org/first", {SelfUidSelector()});
  auto stub = agent_->Client();
  auto ctx = Ctx(true, absl::Seconds(60));
  auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse m;
  ASSERT_TRUE(reader->Read(&m)) << reader->Finish().error_message();
  ASSERT_EQ(m.svids_size(), 1);
  EXPECT_EQ(m.svids(0).spiffe_id(), "spiffe://example.org/first");
  std::string e2 = CreateEntry("spiffe://example.org/second", {SelfUidSelector()});
  ASSERT_TRUE(ReadUntil(reader.get(), 2, &m));
  EXPECT_EQ(m.svids(0).spiffe_id(), "spiffe://example.org/first");
  EXPECT_EQ(m.svids(1).spiffe_id(), "spiffe://example.org/second");
  DeleteEntry(e2);
  ASSERT_TRUE(ReadUntil(reader.get(), 1, &m));
  EXPECT_EQ(m.svids(0).spiffe_id(), "spiffe://example.org/first");
  DeleteEntry(e1);
  EXPECT_FALSE(reader->Read(&m));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "no identity issued");
}

TEST_F(AgentE2ETest, RotationSeenOnOpenStream) {
  CreateEntry("spiffe://example.org/short", {SelfUidSelector()}, {"-x509SVIDTTL", "4"});
  auto stub = agent_->Client();
  auto ctx = Ctx(true, absl::Seconds(30));
  auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse first, next;
  ASSERT_TRUE(reader->Read(&first)) << reader->Finish().error_message();
  ASSERT_EQ(first.svids_size(), 1);
  ASSERT_TRUE(reader->Read(&next));
  ASSERT_EQ(next.svids_size(), 1);
  EXPECT_NE(LeafSerial(first.svids(0)), LeafSerial(next.svids(0)));
  EXPECT_NE(first.svids(0).x509_svid_key(), next.svids(0).x509_svid_key());
  X509SVIDResponse third;
  ASSERT_TRUE(reader->Read(&third));
  EXPECT_NE(LeafSerial(next.svids(0)), LeafSerial(third.svids(0)));
}

TEST_F(AgentE2ETest, RepeatedOneShotFetches) {
  CreateEntry("spiffe://example.org/oneshot", {SelfUidSelector()});
  auto stub = agent_->Client();
  ASSERT_TRUE(testutil::WaitFor([&] {
    auto ctx = Ctx();
    auto r = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
    X509SVIDResponse m;
    bool ok = r->Read(&m);
    ctx->TryCancel();
    (void)r->Finish();
    return ok;
  }));
  for (int i = 0; i < 30; ++i) {
    auto ctx = Ctx(true, absl::Seconds(5));
    auto r = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
    X509SVIDResponse m;
    ASSERT_TRUE(r->Read(&m)) << "iteration " << i;
    EXPECT_EQ(m.svids_size(), 1);
    ctx->TryCancel();
    grpc::Status s = r->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED);
    auto bctx = Ctx(true, absl::Seconds(5));
    auto br = stub->FetchJWTBundles(bctx.get(), JWTBundlesRequest());
    JWTBundlesResponse bm;
    ASSERT_TRUE(br->Read(&bm));
    EXPECT_EQ(bm.bundles().count("spiffe://example.org"), 1u);
    bctx->TryCancel();
    (void)br->Finish();
  }
}

TEST_F(AgentE2ETest, RestartWithoutNewToken) {
  CreateEntry("spiffe://example.org/survivor", {SelfUidSelector()});
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent_->Cli({"api", "fetch", "x509"});
    return r.exit_code == 0;
  })) << r.err;
  EXPECT_EQ(agent_->Stop(), 0);
  struct stat st;
  ASSERT_EQ(stat(agent_->dir().File("data/agent_key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(agent_->Start("")) << agent_->Logs();
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent_->Cli({"api", "fetch", "x509"});
    return r.exit_code == 0;
  })) << r.err
      << agent_->Logs();
  EXPECT_THAT(r.out, HasSubstr("spiffe://example.org/survivor"));
  EXPECT_THAT(agent_->Logs(), HasSubstr("reusing the agent SVID"));
}

TEST_F(AgentE2ETest, ServerRestartKeepsServingCachedSvids) {
  CreateEntry("spiffe://example.org/cached", {SelfUidSelector()});
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent_->Cli({"api", "fetch", "x509"});
    return r.exit_code == 0;
  })) << r.err;
  server_.Stop();
  r = agent_->Cli({"api", "fetch", "x509"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("spiffe://example.org/cached"));
  ASSERT_TRUE(server_.Start()) << server_.Logs();
  // After reconnecting, new entries arrive again.
  CreateEntry("spiffe://example.org/after", {SelfUidSelector()});
  ASSERT_TRUE(testutil::WaitFor(
      [&] {
        r = agent_->Cli({"api", "fetch", "x509"});
        return absl::StrContains(r.out, "spiffe://example.org/after");
      },
      absl::Seconds(30)))
      << r.out << r.err << agent_->Logs();
}

// ConnectUnix connects to the unix socket `path` (async-signal-safe); -1 on
// failure.
int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// FdMessage is a one-byte message with room for one passed descriptor.
struct FdMessage {
  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof(ctrl);
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
  char byte = 0;
  struct iovec iov = {&byte, 1};
  char ctrl[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
};

// SendFd passes `fd` over the unix socket `sock` (async-signal-safe).
bool SendFd(int sock, int fd) {
  FdMessage m;
  struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &m.msg, 0) == 1;
}

// RecvFd receives a descriptor passed by SendFd; -1 on failure.
int RecvFd(int sock) {
  FdMessage m;
  int fd = -1;
  if (recvmsg(sock, &m.msg, 0) == 1) {
    struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
    if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof(int));
  }
  return fd;
}

// ConnectFromExitedChild returns a connection to `path` opened by a child
// process that has exited (and been reaped) since: the kernel-recorded peer
// pid no longer names the caller. -1 on failure.
int ConnectFromExitedChild(const std::string& path) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) return -1;
  pid_t child = fork();
  if (child == 0) {
    // Only async-signal-safe calls here.
    int fd = ConnectUnix(path);
    if (fd < 0) _exit(1);
    _exit(SendFd(sp[1], fd) ? 0 : 1);
  }
  close(sp[1]);
  int fd = RecvFd(sp[0]);
  close(sp[0]);
  int st;
  waitpid(child, &st, 0);
  return fd;
}

TEST_F(AgentE2ETest, CallerWhosePidIsGoneIsUnauthenticated) {
  CreateEntry("spiffe://example.org/pinned", {SelfUidSelector()});
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent_->Cli({"api", "fetch", "x509"});
    return r.exit_code == 0;
  })) << r.err;
  int fd = ConnectFromExitedChild(agent_->socket());
  ASSERT_GE(fd, 0);
  auto stub = SpiffeWorkloadAPI::NewStub(grpc::CreateInsecureChannelFromFd("agent", fd));
  auto ctx = Ctx(true, absl::Seconds(10));
  auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse m;
  EXPECT_FALSE(reader->Read(&m));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // The agent then closes that connection.
  EXPECT_TRUE(testutil::WaitFor(
      [&] {
        auto c = Ctx(true, absl::Seconds(2));
        JWTSVIDRequest req;
        req.add_audience("a");
        JWTSVIDResponse resp;
        return stub->FetchJWTSVID(c.get(), req, &resp).error_code() ==
               grpc::StatusCode::UNAVAILABLE;
      },
      absl::Seconds(10)));
}

// The agent reuses a connection's selectors for selector_cache_ttl (1 s),
// but not for a process that switched users meanwhile: a child connects as
// uid A (effective), then switches to uid B and calls again on the same
// connection well within the second.
// What a child switches between its two calls on one connection.
enum class Switch { kUid, kGid, kGroups };

// BecomeA / BecomeB put the calling (forked) process in credential set A or B
// for `what`; raw syscalls only (the parent has threads). The process stays
// root in the dimensions it does not switch, so it can switch back.
bool BecomeA(Switch what) {
  gid_t g = testutil::kTestUidA;
  switch (what) {
    case Switch::kUid:
      return syscall(SYS_setresuid, -1, testutil::kTestUidA, -1) == 0;
    case Switch::kGid:
      return syscall(SYS_setresgid, -1, testutil::kTestUidA, -1) == 0;
    case Switch::kGroups:
      return syscall(SYS_setgroups, 1, &g) == 0;
  }
  return false;
}
bool BecomeB(Switch what) {
  gid_t g = testutil::kTestUidB;
  switch (what) {
    case Switch::kUid:
      return syscall(SYS_setresuid, -1, 0, -1) == 0 &&
             syscall(SYS_setresuid, -1, testutil::kTestUidB, -1) == 0;
    case Switch::kGid:
      return syscall(SYS_setresgid, -1, testutil::kTestUidB, -1) == 0;
    case Switch::kGroups:
      return syscall(SYS_setgroups, 1, &g) == 0;
  }
  return false;
}

// ExpectAttestedAgainAfterSwitch: a child connects in credential set A,
// calls, switches to B on the same connection and calls again; the second
// call must be attested afresh. The agent keeps selectors for a minute, so
// only the credential change can make it attest again.
void ExpectAttestedAgainAfterSwitch(ServerProcess& server, const std::string& bundle_pem,
                                    Switch what, const std::string& selector_kind) {
  AgentProcess agent(server, bundle_pem, 0, "    join_token: {}\n",
                     "  selector_cache_ttl: \"1m\"\n");
  std::string token = server.GenerateToken();
  ASSERT_TRUE(agent.Start(token)) << agent.Logs();
  std::string parent = absl::StrCat("spiffe://example.org/spire/agent/join_token/", token);
  for (auto [name, id] : {std::pair<const char*, uid_t>{"a", testutil::kTestUidA},
                          std::pair<const char*, uid_t>{"b", testutil::kTestUidB}}) {
    RunResult r = server.Cli({"entry", "create", "-parentID", parent, "-spiffeID",
                              absl::StrCat("spiffe://example.org/", selector_kind, "-", name),
                              "-selector", absl::StrCat("unix:", selector_kind, ":", id)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  int sp[2], go[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  const std::string path = agent.socket();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Exit codes name the step that failed.
    close(sp[0]);
    close(go[1]);
    if (!BecomeA(what)) _exit(11);
    int fd = ConnectUnix(path);
    if (fd < 0) _exit(12);
    if (!SendFd(sp[1], fd)) _exit(13);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(14);
    if (!BecomeB(what)) _exit(15);
    if (write(sp[1], "s", 1) != 1) _exit(16);
    if (read(go[0], &c, 1) != 1) _exit(17);
    _exit(0);
  }
  // Only the child holds these ends: a child that dies gives EOF, not a hang.
  close(go[0]);
  close(sp[1]);
  auto child_status = [&] {
    int st = 0;
    waitpid(child, &st, 0);
    return WIFEXITED(st) ? absl::StrCat("child exited ", WEXITSTATUS(st))
                         : absl::StrCat("child ended by signal ", WTERMSIG(st));
  };
  int fd = RecvFd(sp[0]);
  ASSERT_GE(fd, 0) << child_status();
  auto stub = SpiffeWorkloadAPI::NewStub(grpc::CreateInsecureChannelFromFd("agent", fd));
  auto fetch = [&](X509SVIDResponse* m) {
    auto ctx = Ctx(true, absl::Seconds(10));
    auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
    bool got = reader->Read(m);
    ctx->TryCancel();
    (void)reader->Finish();
    return got;
  };
  X509SVIDResponse m;
  // The agent may not have synced the entries yet: retry the first call.
  ASSERT_TRUE(testutil::WaitFor([&] { return fetch(&m) && m.svids_size() == 1; })) << agent.Logs();
  EXPECT_EQ(m.svids(0).spiffe_id(), absl::StrCat("spiffe://example.org/", selector_kind, "-a"));
  // Same connection, same process, selectors cached for a minute: the next
  // call sees set A again without a switch.
  ASSERT_TRUE(fetch(&m));
  ASSERT_EQ(m.svids_size(), 1);
  EXPECT_EQ(m.svids(0).spiffe_id(), absl::StrCat("spiffe://example.org/", selector_kind, "-a"));
  ASSERT_EQ(write(go[1], "g", 1), 1);
  char c;
  ASSERT_EQ(read(sp[0], &c, 1), 1) << child_status();
  ASSERT_TRUE(fetch(&m));
  ASSERT_EQ(m.svids_size(), 1);
  EXPECT_EQ(m.svids(0).spiffe_id(), absl::StrCat("spiffe://example.org/", selector_kind, "-b"));
  ASSERT_EQ(write(go[1], "g", 1), 1);
  close(go[1]);
  close(sp[0]);
  EXPECT_EQ(child_status(), "child exited 0");
}

TEST_F(AgentE2ETest, CallerThatSwitchesUserOnItsConnectionIsAttestedAgain) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to switch a process between uids";
  ExpectAttestedAgainAfterSwitch(server_, bundle_pem_, Switch::kUid, "uid");
}

TEST_F(AgentE2ETest, CallerThatSwitchesGroupOnItsConnectionIsAttestedAgain) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to switch a process between gids";
  ExpectAttestedAgainAfterSwitch(server_, bundle_pem_, Switch::kGid, "gid");
}

TEST_F(AgentE2ETest, CallerThatChangesSupplementaryGroupsOnItsConnectionIsAttestedAgain) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to call setgroups";
  ExpectAttestedAgainAfterSwitch(server_, bundle_pem_, Switch::kGroups, "supplementary_gid");
}

TEST_F(AgentE2ETest, SpiffeEndpointSocketEnvIsUsed) {
  CreateEntry("spiffe://example.org/env", {SelfUidSelector()});
  testutil::ProcessOptions o;
  o.env["SPIFFE_ENDPOINT_SOCKET"] = "unix://" + agent_->socket();
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = testutil::Run({testutil::AgentBinary(), "api", "fetch", "x509"}, o);
    return r.exit_code == 0;
  })) << r.err;
  EXPECT_THAT(r.out, HasSubstr("spiffe://example.org/env"));
  o.env["SPIFFE_ENDPOINT_SOCKET"] = "unix:relative";
  r = testutil::Run({testutil::AgentBinary(), "api", "fetch", "x509"}, o);
  EXPECT_EQ(r.exit_code, 1);
}

// The agent lifts its soft open-files limit to the hard one at start (each
// cached caller holds a pidfd and its /proc/<pid>/status open): started
// with a soft limit of half the hard one, it runs with the hard one.
TEST(AgentLimitsTest, SoftOpenFilesLimitIsRaisedToTheHardLimit) {
  struct rlimit lim;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  const struct rlimit saved = lim;
  ASSERT_GT(lim.rlim_max, 64u);
  lim.rlim_cur = lim.rlim_max / 2;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);  // inherited by the agent
  ServerProcess server;
  ASSERT_TRUE(server.Start()) << server.Logs();
  AgentProcess agent(server, server.BundlePem());
  bool started = agent.Start(server.GenerateToken());
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(started) << agent.Logs();
  std::ifstream f(absl::StrCat("/proc/", agent.pid(), "/limits"));
  std::string line, soft, hard;
  while (std::getline(f, line)) {
    if (!absl::StartsWith(line, "Max open files")) continue;
    std::istringstream fields(line.substr(strlen("Max open files")));
    fields >> soft >> hard;
  }
  EXPECT_EQ(soft, absl::StrCat(lim.rlim_max));
  EXPECT_EQ(hard, absl::StrCat(lim.rlim_max));
}

TEST(AgentX509popTest, AttestsWithX509popAndServesWorkloads) {
  // A node CA and a node certificate, made here.
  TrustDomain pop_td = *TrustDomain::FromString("nodes.test");
  EvpPkeyPtr ca_key = *GenerateKey(KeyType::kEcP256);
  X509Ptr ca = *CreateSelfSignedCa(
      ca_key.get(), CaParams{pop_td, "Node CA", "Test", absl::Now(), absl::Hours(2)});
  EvpPkeyPtr node_key = *GenerateKey(KeyType::kEcP256);
  X509Ptr node = *IssueLeaf(ca.get(), ca_key.get(), node_key.get(),
                            LeafParams{*SpiffeId::FromString("spiffe://nodes.test/node1"),
                                       {"node1.nodes.test"},
                                       absl::Now(),
                                       absl::Hours(1)});
  ServerProcess server;
  testutil::WriteFile(server.dir().File("node_ca.pem"), *CertToPem(ca.get()));
  std::string cfg = testutil::ReadFile(server.config_path());
  size_t at = cfg.find("    join_token: {}\n");
  ASSERT_NE(at, std::string::npos);
  cfg.insert(at, absl::StrCat("    x509pop:\n      ca_bundle_path: \"",
                              server.dir().File("node_ca.pem"), "\"\n"));
  testutil::WriteFile(server.config_path(), cfg);
  ASSERT_TRUE(server.Start()) << server.Logs();

  AgentProcess agent(server, server.BundlePem(), 0,
                     "    x509pop:\n      plugin_data:\n        private_key_path: \"" +
                         std::string("KEY") + "\"\n        certificate_path: \"CERT\"\n");
  testutil::WriteFile(agent.dir().File("node.key.pem"), *PrivateKeyToPkcs8Pem(node_key.get()),
                      0600);
  testutil::WriteFile(agent.dir().File("node.crt.pem"), *CertToPem(node.get()));
  std::string acfg = testutil::ReadFile(agent.dir().File("agent.yaml"));
  acfg.replace(acfg.find("\"KEY\""), 5, "\"" + agent.dir().File("node.key.pem") + "\"");
  acfg.replace(acfg.find("\"CERT\""), 6, "\"" + agent.dir().File("node.crt.pem") + "\"");
  testutil::WriteFile(agent.dir().File("agent.yaml"), acfg);
  ASSERT_TRUE(agent.Start("")) << agent.Logs();

  unsigned char sha1[20];
  unsigned int len = 0;
  std::string der = *CertToDer(node.get());
  ASSERT_EQ(EVP_Digest(der.data(), der.size(), sha1, &len, EVP_sha1(), nullptr), 1);
  std::string agent_id = "spiffe://example.org/spire/agent/x509pop/" +
                         HexEncode(std::string(reinterpret_cast<char*>(sha1), len));
  EXPECT_THAT(agent.Logs(), HasSubstr(agent_id));
  RunResult c =
      server.Cli({"entry", "create", "-parentID", agent_id, "-spiffeID",
                  "spiffe://example.org/popwl", "-selector", absl::StrCat("unix:uid:", geteuid())});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent.Cli({"api", "fetch", "x509"});
    return r.exit_code == 0;
  })) << r.err
      << agent.Logs();
  EXPECT_THAT(r.out, HasSubstr("spiffe://example.org/popwl"));
}

}  // namespace
}  // namespace signet
