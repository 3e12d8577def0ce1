// Runs README.md's "Running it yourself" block as written, in a scratch copy
// of the repository layout: build/ is this build, conf/ a copy of the
// repository's, and scripts/build.sh a no-op since the build is done. Every
// other line runs verbatim, so a newcomer's first commands keep working.
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using ::testing::HasSubstr;
using testutil::RunResult;

// ReadmeBlock returns the first ```sh block after `heading` in README.md.
std::string ReadmeBlock(const std::string& heading) {
  const std::string readme = testutil::ReadFile(testutil::SourceDir() + "/README.md");
  size_t at = readme.find(heading);
  if (at == std::string::npos) return "";
  size_t open = readme.find("```sh\n", at);
  if (open == std::string::npos) return "";
  open += 6;
  size_t close = readme.find("```\n", open);
  if (close == std::string::npos) return "";
  return readme.substr(open, close - open);
}

TEST(ReadmeTest, RunningItYourselfWorksAsWritten) {
  ASSERT_TRUE(testutil::IsRoot()) << "the README's block is written for root";
  const std::string block = ReadmeBlock("## Running it yourself\n");
  ASSERT_THAT(block, HasSubstr("bash scripts/build.sh"));
  ASSERT_THAT(block, HasSubstr("api fetch x509 -write /tmp/svids"));

  testutil::TempDir repo;
  ASSERT_EQ(symlink(testutil::BuildDir().c_str(), repo.File("build").c_str()), 0);
  RunResult cp = testutil::Run({"/bin/cp", "-r", testutil::SourceDir() + "/conf", repo.path()});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  ASSERT_EQ(mkdir(repo.File("scripts").c_str(), 0755), 0);
  testutil::WriteFile(repo.File("scripts/build.sh"), "exit 0\n", 0755);
  // Stale output of an earlier run must not make the fetch look successful.
  testutil::Run({"/bin/rm", "-rf", "/tmp/svids"});
  // The harness around the block: stop whatever it left running on failure.
  testutil::WriteFile(
      repo.File("readme.sh"),
      absl::StrCat("set -e\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n", block));
  testutil::ProcessOptions o;
  o.cwd = repo.path();
  RunResult r = testutil::Run({"/bin/bash", repo.File("readme.sh")}, o, absl::Seconds(180));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("SPIFFE ID:\t\tspiffe://example.org/myservice\n"));
  EXPECT_THAT(r.out, HasSubstr("Writing key #0 to file /tmp/svids/svid.0.key.\n"));
  EXPECT_THAT(r.out, HasSubstr("token(spiffe://example.org/myservice)"));
  struct stat st;
  ASSERT_EQ(stat("/tmp/svids", &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat("/tmp/svids/svid.0.key", &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  testutil::Run({"/bin/rm", "-rf", "/tmp/svids"});
}

}  // namespace
}  // namespace signet
