// A workload in its own mount namespace must not choose its unix:path: an
// unprivileged user can `unshare -Urm`, bind-mount another binary over a
// registered path and exec it, and /proc/<pid>/exe then names the registered
// path. Real signet-server and signet-agent; the attacker is uid 65534 in a
// user and mount namespace of its own (util-linux unshare).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using faulttest::AgentProcess;
using servertest::ServerProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using testutil::RunResult;

constexpr char kUnshare[] = "/usr/bin/unshare";
constexpr char kNoIdentity[] = "rpc error: code = PermissionDenied desc = no identity issued\n";

// UserNamespacesMissing names what keeps an unprivileged user from creating
// a user namespace here, or returns "" when nothing does.
std::string UserNamespacesMissing() {
  if (access(kUnshare, X_OK) != 0) return absl::StrCat(kUnshare, " (util-linux) is not installed");
  std::string max(
      absl::StripAsciiWhitespace(testutil::ReadFile("/proc/sys/user/max_user_namespaces")));
  int n = 0;
  if (!absl::SimpleAtoi(max, &n) || n <= 0) return "user.max_user_namespaces is 0";
  std::ifstream clone("/proc/sys/kernel/unprivileged_userns_clone");
  int allowed = 1;
  if (clone >> allowed && allowed == 0) return "kernel.unprivileged_userns_clone is 0";
  return "";
}

class MountNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to run the attacker as uid 65534";
    std::string missing = UserNamespacesMissing();
    ASSERT_EQ(missing, "") << "the mount-namespace attack cannot be staged";
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    agent_ = std::make_unique<AgentProcess>(server_, server_.BundlePem());
    std::string token = server_.GenerateToken();
    ASSERT_FALSE(token.empty());
    ASSERT_TRUE(agent_->Start(token)) << agent_->Logs();
    agent_id_ = absl::StrCat("spiffe://example.org/spire/agent/join_token/", token);

    // The registered workload is a copy of signet-agent (its `api fetch`
    // is the Workload API client); the attacker's binary is another copy
    // with bytes appended, so its content (and hash) differs.
    std::string bin = testutil::ReadFile(testutil::AgentBinary());
    ASSERT_FALSE(bin.empty());
    ASSERT_EQ(mkdir(dir_.File("reg").c_str(), 0755), 0);
    registered_ = dir_.File("reg/workload");
    attacker_ = dir_.File("attacker");
    testutil::WriteFile(registered_, bin, 0755);
    testutil::WriteFile(attacker_, bin + "\nnot the registered workload\n", 0755);
    ASSERT_NE(Sha256Hex(registered_), Sha256Hex(attacker_));
  }

  std::string CreateEntry(const std::string& spiffe_id, const std::vector<std::string>& selectors) {
    std::vector<std::string> a{"entry", "create", "-parentID", agent_id_, "-spiffeID", spiffe_id};
    for (const auto& s : selectors) {
      a.push_back("-selector");
      a.push_back(s);
    }
    RunResult r = server_.Cli(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ServerProcess::Field(r.out, "Entry ID");
  }

  static std::string Sha256Hex(const std::string& path) {
    return HexEncode(Sha256(testutil::ReadFile(path)));
  }

  // Legit runs the registered binary as uid 65534 in the agent's mount
  // namespace; waits until it receives `want` SVIDs (so the entries reached
  // the agent).
  RunResult Legit(int want) {
    RunResult r;
    std::string received = absl::StrCat("Received ", want, want == 1 ? " svid" : " svids");
    EXPECT_TRUE(testutil::WaitFor([&] {
      r = agent_->Cli({"api", "fetch", "x509"}, testutil::kTestUidA, registered_);
      return r.exit_code == 0 && absl::StrContains(r.out, received);
    })) << r.out
        << r.err << agent_->Logs();
    return r;
  }

  // Attacker runs, as uid 65534, `unshare -Urm` and in the new namespaces
  // bind-mounts the attacker's binary over the registered path and execs the
  // registered path (so /proc/<pid>/exe names it) as a Workload API client.
  RunResult Attacker() {
    testutil::ProcessOptions o;
    o.uid = testutil::kTestUidA;
    o.gid = testutil::kTestUidA;
    return testutil::Run(
        {kUnshare, "-Urm", "/bin/sh", "-c",
         "/usr/bin/mount --bind \"$1\" \"$2\" && exec \"$2\" api fetch x509 -socketPath \"$3\"",
         "sh", attacker_, registered_, agent_->socket()},
        o, absl::Seconds(30));
  }

  ServerProcess server_;
  std::unique_ptr<AgentProcess> agent_;
  std::string agent_id_;
  testutil::TempDir dir_;
  std::string registered_;
  std::string attacker_;
};

// The attack of the issue: the entry's only selector is unix:path. A normal
// process running that path gets it; the namespaced impostor gets nothing.
TEST_F(MountNamespaceTest, BindMountOverRegisteredPathGetsNoIdentity) {
  CreateEntry("spiffe://example.org/by-path", {"unix:path:" + registered_});
  RunResult legit = Legit(1);
  EXPECT_THAT(legit.out, HasSubstr("SPIFFE ID:\t\tspiffe://example.org/by-path"));

  RunResult attack = Attacker();
  EXPECT_EQ(attack.exit_code, 1) << attack.out << attack.err;
  EXPECT_EQ(attack.err, kNoIdentity) << agent_->Logs();
  EXPECT_THAT(attack.out, Not(HasSubstr("by-path")));
  // The agent said why it left the path out.
  EXPECT_TRUE(testutil::WaitFor([&] {
    return absl::StrContains(agent_->Logs(), "another mount namespace");
  })) << agent_->Logs();
}

// unix:sha256 still applies across mount namespaces and is the hash of the
// binary actually running (the attacker's), not of the file the registered
// path names in the agent's namespace.
TEST_F(MountNamespaceTest, NamespacedWorkloadIsHashedByItsRealBinary) {
  CreateEntry("spiffe://example.org/by-path", {"unix:path:" + registered_});
  CreateEntry("spiffe://example.org/registered-hash", {"unix:sha256:" + Sha256Hex(registered_)});
  CreateEntry("spiffe://example.org/attacker-hash", {"unix:sha256:" + Sha256Hex(attacker_)});
  RunResult legit = Legit(2);
  EXPECT_THAT(legit.out, HasSubstr("spiffe://example.org/by-path"));
  EXPECT_THAT(legit.out, HasSubstr("spiffe://example.org/registered-hash"));
  EXPECT_THAT(legit.out, Not(HasSubstr("attacker-hash")));

  RunResult attack = Attacker();
  ASSERT_EQ(attack.exit_code, 0) << attack.out << attack.err << agent_->Logs();
  EXPECT_THAT(attack.out, HasSubstr("Received 1 svid after"));
  EXPECT_THAT(attack.out, HasSubstr("SPIFFE ID:\t\tspiffe://example.org/attacker-hash"));
  EXPECT_THAT(attack.out, Not(HasSubstr("by-path")));
  EXPECT_THAT(attack.out, Not(HasSubstr("registered-hash")));
}

}  // namespace
}  // namespace signet
