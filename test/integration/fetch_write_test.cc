// `signet-agent api fetch x509 -write DIR` against a real server and agent:
// the directory is created when missing, files get SPIRE's modes, planted
// links are replaced rather than followed, and directories other users
// control are refused.
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using faulttest::AgentProcess;
using faulttest::Mode;
using servertest::ServerProcess;
using testutil::RunResult;

class FetchWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    agent_ = std::make_unique<AgentProcess>(server_, server_.BundlePem());
    std::string token = server_.GenerateToken();
    ASSERT_TRUE(agent_->Start(token)) << agent_->Logs();
    RunResult r = server_.Cli({"entry", "create", "-parentID",
                               "spiffe://example.org/spire/agent/join_token/" + token, "-spiffeID",
                               "spiffe://example.org/writer", "-selector",
                               absl::StrCat("unix:uid:", geteuid())});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(testutil::WaitFor([&] { return Fetch({}).exit_code == 0; }, absl::Seconds(30)));
  }

  RunResult Fetch(std::vector<std::string> extra) const {
    std::vector<std::string> args{"api", "fetch", "x509"};
    args.insert(args.end(), extra.begin(), extra.end());
    return agent_->Cli(args);
  }

  static bool IsRegularFile(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }

  ServerProcess server_;
  std::unique_ptr<AgentProcess> agent_;
  testutil::TempDir out_;
};

TEST_F(FetchWriteTest, MissingDirectoryIsCreatedOwnerOnly) {
  const std::string dir = out_.File("svids");
  RunResult r = Fetch({"-write", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mode(dir), 0700);
  EXPECT_EQ(Mode(dir + "/svid.0.pem"), 0644);
  EXPECT_EQ(Mode(dir + "/svid.0.key"), 0600);
  EXPECT_EQ(Mode(dir + "/bundle.0.pem"), 0644);
  EXPECT_NE(testutil::ReadFile(dir + "/svid.0.pem").find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(testutil::ReadFile(dir + "/svid.0.key").find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST_F(FetchWriteTest, MissingParentIsAnError) {
  const std::string dir = out_.File("no/svids");
  RunResult r = Fetch({"-write", dir, "-silent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("cannot create directory ", dir, ": No such file or directory\n"));
}

// A link planted where the key goes is replaced by the key file; its target
// is left alone.
TEST_F(FetchWriteTest, PlantedSymlinkIsReplacedNotFollowed) {
  const std::string dir = out_.File("svids");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  const std::string target = out_.File("elsewhere");
  testutil::WriteFile(target, "untouched", 0666);
  ASSERT_EQ(symlink(target.c_str(), (dir + "/svid.0.key").c_str()), 0);
  ASSERT_EQ(symlink(target.c_str(), (dir + "/svid.0.pem").c_str()), 0);
  RunResult r = Fetch({"-write", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testutil::ReadFile(target), "untouched");
  EXPECT_TRUE(IsRegularFile(dir + "/svid.0.key"));
  EXPECT_TRUE(IsRegularFile(dir + "/svid.0.pem"));
  EXPECT_EQ(Mode(dir + "/svid.0.key"), 0600);
}

TEST_F(FetchWriteTest, DirectoryOfAnotherUserIsRefused) {
  ASSERT_TRUE(testutil::IsRoot()) << "needs root to own a directory as another user";
  const std::string dir = out_.File("theirs");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(chown(dir.c_str(), testutil::kTestUidA, testutil::kTestUidA), 0);
  RunResult r = Fetch({"-write", dir, "-silent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("directory ", dir, " belongs to uid ", testutil::kTestUidA,
                                ", not to this user (uid 0); refusing to write SVIDs and keys "
                                "there\n"));
  EXPECT_FALSE(IsRegularFile(dir + "/svid.0.key"));
}

TEST_F(FetchWriteTest, DirectoryWritableByOthersIsRefused) {
  const std::string dir = out_.File("open");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  RunResult r = Fetch({"-write", dir, "-silent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("directory ", dir,
                                " is writable by other users; refusing to write SVIDs and keys "
                                "there\n"));
  EXPECT_FALSE(IsRegularFile(dir + "/svid.0.key"));
}

}  // namespace
}  // namespace signet
