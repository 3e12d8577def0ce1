// signet-agent with insecure_bootstrap (no trust_bundle_path): the first node
// attestation does not verify the server, the bundle it returns is kept in
// data_dir and pinned from then on; and no trust configuration the validator
// accepts ends the agent on a signal (gRPC aborts on a certificate provider
// with neither roots nor an identity).
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/bundle.h"
#include "common/spiffe_id.h"
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
using ::testing::Not;
using testutil::RunResult;

constexpr char kInsecureWarning[] =
    "insecure_bootstrap: the server's certificate is not verified for the first node attestation";
constexpr char kRetrying[] = "server unavailable for attestation; retrying";

// SetPort points `agent`'s config at server_port `port`.
void SetPort(const AgentProcess& agent, int port) {
  std::string path = agent.dir().File("agent.yaml");
  std::string cfg = testutil::ReadFile(path);
  size_t at = cfg.find("  server_port: ");
  ASSERT_NE(at, std::string::npos) << cfg;
  size_t end = cfg.find('\n', at);
  cfg.replace(at, end - at, absl::StrCat("  server_port: ", port));
  testutil::WriteFile(path, cfg);
}

// MakeInsecure rewrites `agent`'s config: insecure_bootstrap instead of
// trust_bundle_path (the validator refuses both together); `port`, when not
// 0, replaces the server port.
void MakeInsecure(const AgentProcess& agent, int port = 0) {
  std::string path = agent.dir().File("agent.yaml");
  std::string cfg = testutil::ReadFile(path);
  std::string line =
      absl::StrCat("  trust_bundle_path: \"", agent.dir().File("bundle.pem"), "\"\n");
  ASSERT_NE(cfg.find(line), std::string::npos) << cfg;
  cfg = absl::StrReplaceAll(cfg, {{line, "  insecure_bootstrap: true\n"}});
  testutil::WriteFile(path, cfg);
  if (port != 0) SetPort(agent, port);
}

// RunAgent runs `signet-agent run` with `agent`'s config to completion.
RunResult RunAgent(const AgentProcess& agent, const std::string& token = "") {
  std::vector<std::string> argv{testutil::AgentBinary(), "run", "-config",
                                agent.dir().File("agent.yaml")};
  if (!token.empty()) {
    argv.push_back("-joinToken");
    argv.push_back(token);
  }
  return testutil::Run(argv, {}, absl::Seconds(30));
}

// Count returns how often `needle` occurs in `hay`.
int Count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// BundleDer returns the concatenated DER of the PEM bundle `pem`.
std::string BundleDer(const std::string& pem) {
  absl::StatusOr<Bundle> b = Bundle::FromX509Pem(*TrustDomain::FromString("example.org"), pem);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? b->X509AuthoritiesDer() : "";
}

class InsecureBootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()) << server_.Logs(); }

  // FetchBundle returns the bundle of the first X509SVIDResponse that holds
  // an SVID for spiffe://example.org/wl (the caller's uid selects it).
  std::string FetchBundle(const AgentProcess& agent) {
    std::string bundle;
    EXPECT_TRUE(testutil::WaitFor([&] {
      auto stub = agent.Client();
      auto ctx = Ctx();
      auto r = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
      X509SVIDResponse m;
      if (!r->Read(&m) || m.svids_size() != 1 || m.svids(0).spiffe_id() != kWorkloadId) {
        return false;
      }
      bundle = m.svids(0).bundle();
      return true;
    })) << agent.Logs();
    return bundle;
  }

  static constexpr char kWorkloadId[] = "spiffe://example.org/wl";
  ServerProcess server_;
};

TEST_F(InsecureBootstrapTest, AttestsWithoutBundleServesTheServersBundleAndPinsIt) {
  AgentProcess agent(server_, "");
  MakeInsecure(agent);
  std::string token = server_.GenerateToken();
  ASSERT_TRUE(agent.Start(token)) << agent.Logs();
  EXPECT_THAT(agent.Logs(), HasSubstr(kInsecureWarning));
  RunResult e = server_.Cli({"entry", "create", "-parentID",
                             "spiffe://example.org/spire/agent/join_token/" + token, "-spiffeID",
                             kWorkloadId, "-selector", absl::StrCat("unix:uid:", geteuid())});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::string server_der = BundleDer(server_.BundlePem());
  ASSERT_FALSE(server_der.empty());
  EXPECT_EQ(FetchBundle(agent), server_der);

  // The bundle is kept in data_dir, readable by the agent's user only.
  std::string kept = agent.dir().File("data/bundle.pem");
  EXPECT_EQ(BundleDer(testutil::ReadFile(kept)), server_der);
  EXPECT_EQ(faulttest::Mode(kept), 0600);

  // A restart verifies the server against it: no insecure attestation.
  EXPECT_EQ(agent.Stop(), 0);
  ASSERT_TRUE(agent.Start("")) << agent.Logs();
  EXPECT_THAT(agent.Logs(), Not(HasSubstr(kInsecureWarning)));
  EXPECT_THAT(agent.Logs(),
              HasSubstr("insecure_bootstrap: verifying the server against the bundle pinned"));
  EXPECT_EQ(FetchBundle(agent), server_der);
}

TEST_F(InsecureBootstrapTest, PinnedBundleRefusesAnotherServerAfterRestart) {
  AgentProcess agent(server_, "");
  MakeInsecure(agent);
  ASSERT_TRUE(agent.Start(server_.GenerateToken())) << agent.Logs();
  EXPECT_EQ(agent.Stop(), 0);

  // Another server (its own CA, same trust domain) now answers at the
  // agent's server address.
  ServerProcess impostor;
  ASSERT_TRUE(impostor.Start()) << impostor.Logs();
  ASSERT_NE(BundleDer(impostor.BundlePem()), BundleDer(server_.BundlePem()));
  SetPort(agent, impostor.port());
  const std::string refused = absl::StrCat(
      "error=\"UNAVAILABLE: failed to connect to all addresses; last error: UNKNOWN: "
      "ipv4:127.0.0.1:",
      impostor.port(),
      ": Custom verification check failed with error: UNAUTHENTICATED: server certificate: "
      "X.509-SVID verification failed: unable to get local issuer certificate\"");

  // With its kept SVID the agent goes straight to the entry stream: refused.
  const std::string reconnecting = "entry stream from the server ended; reconnecting ";
  ASSERT_TRUE(agent.Start("", /*wait_healthy=*/false)) << agent.Logs();
  ASSERT_TRUE(testutil::WaitFor([&] { return Count(agent.Logs(), reconnecting + refused) >= 2; }))
      << agent.Logs();
  EXPECT_EQ(agent.Cli({"healthcheck"}).exit_code, 1);
  EXPECT_EQ(agent.Stop(), 0);

  // Without it the agent must attest: refused as well, and retried.
  ASSERT_EQ(unlink(agent.dir().File("data/agent_svid.pem").c_str()), 0);
  ASSERT_TRUE(agent.Start(impostor.GenerateToken(), /*wait_healthy=*/false)) << agent.Logs();
  ASSERT_TRUE(testutil::WaitFor([&] {
    return Count(agent.Logs(), absl::StrCat(kRetrying, " ", refused)) >= 2;
  })) << agent.Logs();
  EXPECT_THAT(agent.Logs(), Not(HasSubstr(kInsecureWarning)));
  EXPECT_TRUE(agent.Running());
  EXPECT_EQ(agent.Cli({"healthcheck"}).exit_code, 1);
  EXPECT_EQ(agent.Stop(), 0);
  EXPECT_THAT(impostor.Logs(), Not(HasSubstr("agent attested")));

  // Control: without the pinned bundle the same agent bootstraps (insecurely)
  // with the other server.
  ASSERT_EQ(unlink(agent.dir().File("data/bundle.pem").c_str()), 0);
  ASSERT_TRUE(agent.Start(impostor.GenerateToken())) << agent.Logs();
  EXPECT_THAT(agent.Logs(), HasSubstr(kInsecureWarning));
  EXPECT_THAT(impostor.Logs(), HasSubstr("agent attested"));
}

TEST_F(InsecureBootstrapTest, UnreachableServerIsRetriedAndTheAgentStopsCleanly) {
  AgentProcess agent(server_, "");
  const int port = testutil::FreeTcpPort();  // nothing listens there
  MakeInsecure(agent, port);
  ASSERT_TRUE(agent.Start(server_.GenerateToken(), /*wait_healthy=*/false)) << agent.Logs();
  const std::string retry =
      absl::StrCat(kRetrying,
                   " error=\"UNAVAILABLE: failed to connect to all addresses; last error: UNKNOWN: "
                   "ipv4:127.0.0.1:",
                   port, ": Failed to connect to remote host: Connection refused\"");
  ASSERT_TRUE(testutil::WaitFor([&] { return Count(agent.Logs(), retry) >= 2; })) << agent.Logs();
  EXPECT_TRUE(agent.Running());
  EXPECT_THAT(agent.Logs(), HasSubstr(kInsecureWarning));
  // SIGTERM: a normal exit, status 0, not a signal (gRPC's abort was 134).
  EXPECT_EQ(agent.Stop(), 0);
}

TEST_F(InsecureBootstrapTest, EmptyTrustBundleFileIsAClearError) {
  AgentProcess agent(server_, "");  // bundle.pem is empty
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("invalid trust bundle ", agent.dir().File("bundle.pem"),
                                            ": empty certificate PEM")));
}

TEST_F(InsecureBootstrapTest, TrustBundleFileWithoutCertificateIsAClearError) {
  AgentProcess agent(server_, "not a certificate\n");
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("invalid trust bundle ", agent.dir().File("bundle.pem"),
                                            ": no CERTIFICATE block in PEM")));
}

TEST_F(InsecureBootstrapTest, MissingTrustBundleFileIsAClearError) {
  AgentProcess agent(server_, "");
  ASSERT_EQ(unlink(agent.dir().File("bundle.pem").c_str()), 0);
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("cannot read trust_bundle_path ",
                                            agent.dir().File("bundle.pem"))));
}

// A kept bundle that cannot be used never sends the agent back to an
// insecure bootstrap.
TEST_F(InsecureBootstrapTest, EmptyKeptBundleIsAnErrorNotANewBootstrap) {
  AgentProcess agent(server_, "");
  MakeInsecure(agent);
  ASSERT_EQ(mkdir(agent.dir().File("data").c_str(), 0700), 0);
  testutil::WriteFile(agent.dir().File("data/bundle.pem"), "", 0600);
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(
                         "the trust bundle kept in ", agent.dir().File("data/bundle.pem"),
                         " is invalid: empty certificate PEM; insecure_bootstrap "
                         "does not bootstrap again while data_dir holds a bundle")));
  EXPECT_THAT(r.err, Not(HasSubstr(kInsecureWarning)));
}

TEST_F(InsecureBootstrapTest, KeptBundleWritableByOthersIsAnError) {
  AgentProcess agent(server_, "");
  MakeInsecure(agent);
  ASSERT_EQ(mkdir(agent.dir().File("data").c_str(), 0700), 0);
  std::string kept = agent.dir().File("data/bundle.pem");
  testutil::WriteFile(kept, server_.BundlePem(), 0600);
  ASSERT_EQ(chmod(kept.c_str(), 0666), 0);
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr(absl::StrCat(
                  "the trust bundle kept in ", kept,
                  " is not a regular file owned by the agent's user and writable by it only")));
}

TEST_F(InsecureBootstrapTest, KeptBundleOwnedByAnotherUserIsAnError) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to give the file to another uid";
  AgentProcess agent(server_, "");
  MakeInsecure(agent);
  ASSERT_EQ(mkdir(agent.dir().File("data").c_str(), 0700), 0);
  std::string kept = agent.dir().File("data/bundle.pem");
  testutil::WriteFile(kept, server_.BundlePem(), 0600);
  ASSERT_EQ(chown(kept.c_str(), testutil::kTestUidA, testutil::kTestUidA), 0);
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr(absl::StrCat(
                  "the trust bundle kept in ", kept,
                  " is not a regular file owned by the agent's user and writable by it only")));
}

TEST_F(InsecureBootstrapTest, OversizedKeptBundleIsAnError) {
  AgentProcess agent(server_, "");
  MakeInsecure(agent);
  ASSERT_EQ(mkdir(agent.dir().File("data").c_str(), 0700), 0);
  std::string kept = agent.dir().File("data/bundle.pem");
  std::string pem = server_.BundlePem();
  pem.append((1 << 20) + 1 - pem.size(), '\n');
  testutil::WriteFile(kept, pem, 0600);
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("the trust bundle kept in ", kept,
                                            " is larger than 1048576 bytes")));
}

// The bundle cannot be kept (its temporary file's name is taken by a
// directory): the insecure bootstrap fails rather than leave the next start
// to bootstrap insecurely again.
TEST_F(InsecureBootstrapTest, BundleThatCannotBeKeptFailsTheBootstrap) {
  AgentProcess agent(server_, "");
  MakeInsecure(agent);
  ASSERT_EQ(mkdir(agent.dir().File("data").c_str(), 0700), 0);
  std::string tmp = agent.dir().File("data/bundle.pem.tmp");
  ASSERT_EQ(mkdir(tmp.c_str(), 0700), 0);
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr(absl::StrCat("insecure_bootstrap: cannot pin the server's bundle: open ",
                                     tmp, ": Is a directory")));
  EXPECT_NE(access(agent.dir().File("data/bundle.pem").c_str(), F_OK), 0);
}

TEST_F(InsecureBootstrapTest, KeptBundleSymlinkIsAnError) {
  AgentProcess agent(server_, "");
  MakeInsecure(agent);
  ASSERT_EQ(mkdir(agent.dir().File("data").c_str(), 0700), 0);
  std::string target = agent.dir().File("elsewhere.pem");
  testutil::WriteFile(target, server_.BundlePem(), 0600);
  std::string kept = agent.dir().File("data/bundle.pem");
  ASSERT_EQ(symlink(target.c_str(), kept.c_str()), 0);
  RunResult r = RunAgent(agent, server_.GenerateToken());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("cannot open the trust bundle kept in ", kept, ": ")));
}

}  // namespace
}  // namespace signet
