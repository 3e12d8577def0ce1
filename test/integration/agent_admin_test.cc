// The agent's admin socket (agent.admin_socket_path) with a real
// signet-server and signet-agent: SPIRE's Debug API GetInfo over gRPC, the
// socket's permissions, `signet-agent debug info`, and the configuration rule
// that keeps the admin socket out of the Workload API socket's directory.
#include <dirent.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spire/api/agent/debug/v1/debug.grpc.pb.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

namespace debugpb = spire::api::agent::debug::v1;
using faulttest::AgentProcess;
using faulttest::Mode;
using servertest::ServerProcess;
using ::testing::HasSubstr;
using testutil::RunResult;

// The problem the agent reports for an admin socket beside the Workload API
// socket (agent/config.h kAdminSocketSameDirError).
constexpr char kSameDirError[] =
    "agent.admin_socket_path: must be in a different directory from socket_path, not in it or "
    "below it (workloads can reach the Workload API socket's directory)";

grpc::Status GetInfo(const std::string& socket, debugpb::GetInfoResponse* resp) {
  auto stub = debugpb::Debug::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return stub->GetInfo(&ctx, debugpb::GetInfoRequest(), resp);
}

// Sockets returns every unix socket under `dir` (recursively).
void Sockets(const std::string& dir, std::vector<std::string>* out) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string p = dir + "/" + name;
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) continue;
    if (S_ISSOCK(st.st_mode)) out->push_back(p);
    if (S_ISDIR(st.st_mode)) Sockets(p, out);
  }
  closedir(d);
}

class AgentAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    bundle_pem_ = server_.BundlePem();
    token_ = server_.GenerateToken();
    ASSERT_FALSE(token_.empty());
  }

  // StartAgent starts an agent with `extra_agent_yaml` and waits until it is
  // healthy.
  void StartAgent(const std::string& extra_agent_yaml) {
    agent_ = std::make_unique<AgentProcess>(server_, bundle_pem_, 0, "    join_token: {}\n",
                                            extra_agent_yaml);
    ASSERT_TRUE(agent_->Start(token_)) << agent_->Logs();
  }

  // ServeSelf registers an entry for this test's uid and waits until the
  // agent serves its X.509-SVID.
  void ServeSelf() {
    std::string agent_id = absl::StrCat("spiffe://example.org/spire/agent/join_token/", token_);
    RunResult r = server_.Cli({"entry", "create", "-parentID", agent_id, "-spiffeID",
                               "spiffe://example.org/admin-test", "-selector",
                               absl::StrCat("unix:uid:", geteuid())});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    RunResult f;
    ASSERT_TRUE(testutil::WaitFor([&] {
      f = agent_->Cli({"api", "fetch", "x509"});
      return f.exit_code == 0;
    })) << f.err
        << agent_->Logs();
  }

  RunResult DebugCli(const std::vector<std::string>& args, uid_t uid = static_cast<uid_t>(-1)) {
    std::vector<std::string> argv{testutil::AgentBinary(), "debug", "info"};
    argv.insert(argv.end(), args.begin(), args.end());
    testutil::ProcessOptions o;
    o.uid = uid;
    o.gid = uid;
    return testutil::Run(argv, o, absl::Seconds(30));
  }

  ServerProcess server_;
  std::string bundle_pem_;
  std::string token_;
  testutil::TempDir admin_dir_;  // holds the admin socket's own directory
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(AgentAdminTest, GetInfoReportsAgentIdentityUptimeSyncAndCache) {
  const std::string admin = admin_dir_.File("private/admin.sock");
  StartAgent(absl::StrCat("  admin_socket_path: \"", admin, "\"\n"));
  ServeSelf();
  RunResult jwt = agent_->Cli({"api", "fetch", "jwt", "-audience", "admin-test"});
  ASSERT_EQ(jwt.exit_code, 0) << jwt.err;

  debugpb::GetInfoResponse info;
  grpc::Status s = GetInfo(admin, &info);
  ASSERT_TRUE(s.ok()) << s.error_message() << agent_->Logs();
  ASSERT_GE(info.svid_chain_size(), 1);
  const debugpb::GetInfoResponse::Cert& leaf = info.svid_chain(0);
  EXPECT_EQ(leaf.id().trust_domain(), "example.org");
  EXPECT_EQ(leaf.id().path(), "/spire/agent/join_token/" + token_);
  int64_t now = absl::ToUnixSeconds(absl::Now());
  EXPECT_GT(leaf.expires_at(), now);
  EXPECT_FALSE(leaf.subject().empty());
  EXPECT_GE(info.uptime(), 0);
  EXPECT_LT(info.uptime(), 600);
  EXPECT_GE(info.cached_x509_svids_count(), 1);
  EXPECT_EQ(info.svids_count(), info.cached_x509_svids_count());
  EXPECT_GE(info.cached_jwt_svids_count(), 1);
  EXPECT_EQ(info.cached_svidstore_x509_svids_count(), 0);
  EXPECT_GT(info.last_sync_success(), now - 60);
  EXPECT_LE(info.last_sync_success(), now + 1);

  // The Debug API is not on the Workload API socket.
  debugpb::GetInfoResponse none;
  EXPECT_EQ(GetInfo(agent_->socket(), &none).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(AgentAdminTest, AdminSocketAndDirectoryAreOwnerOnly) {
  const std::string admin = admin_dir_.File("private/admin.sock");
  StartAgent(absl::StrCat("  admin_socket_path: \"", admin, "\"\n"));
  ASSERT_TRUE(testutil::WaitFor([&] { return access(admin.c_str(), F_OK) == 0; }));
  struct stat st;
  ASSERT_EQ(stat(admin.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(Mode(admin), 0600);
  EXPECT_EQ(Mode(admin_dir_.File("private")), 0700);
  if (testutil::IsRoot()) {
    // Workloads under other uids cannot connect.
    chmod(admin_dir_.path().c_str(), 0755);
    RunResult r = DebugCli({"-socketPath", admin}, testutil::kTestUidA);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_THAT(r.err, HasSubstr("code = Unavailable"));
  }
}

TEST_F(AgentAdminTest, DebugInfoCliPrintsFieldsAsJsonAndText) {
  const std::string admin = admin_dir_.File("private/admin.sock");
  StartAgent(absl::StrCat("  admin_socket_path: \"", admin, "\"\n"));
  ServeSelf();
  RunResult r = DebugCli({"-socketPath", admin, "-output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  debugpb::GetInfoResponse info;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &info).ok()) << r.out;
  ASSERT_GE(info.svid_chain_size(), 1) << r.out;
  EXPECT_EQ(info.svid_chain(0).id().trust_domain(), "example.org");
  EXPECT_EQ(info.svid_chain(0).id().path(), "/spire/agent/join_token/" + token_);
  EXPECT_GE(info.cached_x509_svids_count(), 1);
  EXPECT_GT(info.last_sync_success(), absl::ToUnixSeconds(absl::Now()) - 60);
  // Zero counts are printed too, under the proto field names.
  EXPECT_THAT(r.out, HasSubstr("\"cached_svidstore_x509_svids_count\": 0"));
  EXPECT_THAT(r.out, HasSubstr("\"uptime\": "));

  RunResult text = DebugCli({"-socketPath", admin});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out,
              HasSubstr("#1 spiffe://example.org/spire/agent/join_token/" + token_ + "\n"));
  EXPECT_THAT(text.out, HasSubstr("Cached X.509-SVIDs:"));
  EXPECT_THAT(text.out, HasSubstr("Last sync success:"));

  RunResult missing = DebugCli({});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("-socketPath is required"));
  RunResult down = DebugCli({"-socketPath", admin_dir_.File("nothing.sock"), "-timeout", "2s"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.err, HasSubstr("rpc error: code = Unavailable"));
}

TEST_F(AgentAdminTest, AdminSocketBesideWorkloadSocketIsRefused) {
  agent_ = std::make_unique<AgentProcess>(server_, bundle_pem_);
  // Put admin_socket_path beside socket_path, as the last agent key.
  const std::string cfg_path = agent_->dir().File("agent.yaml");
  std::string cfg = testutil::ReadFile(cfg_path);
  const std::string admin = agent_->dir().File("public/admin.sock");
  size_t at = cfg.find("plugins:");
  ASSERT_NE(at, std::string::npos);
  cfg.insert(at, absl::StrCat("  admin_socket_path: \"", admin, "\"\n"));
  testutil::WriteFile(cfg_path, cfg);
  int line = 1;
  for (size_t i = 0; i < at; ++i) line += cfg[i] == '\n';
  const std::string want = absl::StrCat(cfg_path, ":", line, ": ", kSameDirError);

  RunResult v = testutil::Run({testutil::AgentBinary(), "validate", "-config", cfg_path});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_THAT(v.err, HasSubstr(want));
  RunResult run =
      testutil::Run({testutil::AgentBinary(), "run", "-config", cfg_path, "-joinToken", token_}, {},
                    absl::Seconds(30));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr(want));
  EXPECT_NE(access(admin.c_str(), F_OK), 0);
  EXPECT_NE(access(agent_->socket().c_str(), F_OK), 0);
}

TEST_F(AgentAdminTest, NoAdminSocketWithoutAdminSocketPath) {
  StartAgent("");
  std::vector<std::string> socks;
  Sockets(agent_->dir().path(), &socks);
  EXPECT_THAT(socks, ::testing::ElementsAre(agent_->socket()));
  std::vector<std::string> admin_socks;
  Sockets(admin_dir_.path(), &admin_socks);
  EXPECT_THAT(admin_socks, ::testing::IsEmpty());
  debugpb::GetInfoResponse none;
  EXPECT_EQ(GetInfo(agent_->socket(), &none).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(agent_->Logs(), ::testing::Not(HasSubstr("admin API")));
}

}  // namespace
}  // namespace signet
