// `signet-server --version`, `signet-agent --version` and their `version`
// subcommands print "<project version>-<short commit>" and nothing else; the
// startup log lines carry the same string (cmake/SignetVersion.cmake).
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using ::testing::HasSubstr;
using testutil::RunResult;

// The version CMake computed for this tree, e.g. "0.1.0-1a2b3c4".
const std::string kExpected = absl::StrCat(SIGNET_TEST_VERSION, "-", SIGNET_TEST_COMMIT);

void ExpectVersionOutput(const std::vector<std::string>& argv) {
  RunResult r = testutil::Run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpected + "\n");
  EXPECT_TRUE(
      std::regex_match(r.out, std::regex("[0-9]+\\.[0-9]+\\.[0-9]+-([0-9a-f]{7,40}|unknown)\n")))
      << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(VersionTest, ExpectedStringIsProjectVersionAndCommit) {
  EXPECT_TRUE(
      std::regex_match(std::string(SIGNET_TEST_VERSION), std::regex("[0-9]+\\.[0-9]+\\.[0-9]+")));
  EXPECT_TRUE(
      std::regex_match(std::string(SIGNET_TEST_COMMIT), std::regex("[0-9a-f]{7,40}|unknown")));
}

TEST(VersionTest, ServerDashDashVersion) {
  ExpectVersionOutput({testutil::ServerBinary(), "--version"});
}

TEST(VersionTest, ServerVersionSubcommand) {
  ExpectVersionOutput({testutil::ServerBinary(), "version"});
}

TEST(VersionTest, ServerHelpListsVersion) {
  RunResult r = testutil::Run({testutil::ServerBinary(), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("  version         Prints the version and commit.\n"));
}

TEST(VersionTest, AgentDashDashVersion) {
  ExpectVersionOutput({testutil::AgentBinary(), "--version"});
}

TEST(VersionTest, AgentVersionSubcommand) {
  ExpectVersionOutput({testutil::AgentBinary(), "version"});
}

TEST(VersionTest, AgentVersionRejectsArguments) {
  RunResult r = testutil::Run({testutil::AgentBinary(), "version", "extra"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("Usage: signet-agent <command> [flags]"));
}

TEST(VersionTest, StartupLogLinesCarryVersion) {
  servertest::ServerProcess server;
  ASSERT_TRUE(server.Start()) << server.Logs();
  faulttest::AgentProcess agent(server, server.BundlePem());
  ASSERT_TRUE(agent.Start(server.GenerateToken())) << agent.Logs();
  EXPECT_THAT(server.Logs(), HasSubstr(absl::StrCat("version=", kExpected))) << server.Logs();
  EXPECT_THAT(agent.Logs(), HasSubstr(absl::StrCat("version=", kExpected))) << agent.Logs();
}

}  // namespace
}  // namespace signet
