// Tests for common/file: the one atomic file writer and bounded reader of
// the daemons, the CLIs, the helper and the client library.
#include "common/file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "test/testutil/testutil.h"

namespace signet {
namespace {

using ::testing::HasSubstr;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Formerly helper_test's WriteFileAtomicallyTest.WritesWithModeAndReplaces.
TEST(WriteFileAtomicTest, WritesWithModeAndReplaces) {
  testutil::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("k.pem"), "one", 0600).ok());
  EXPECT_EQ(testutil::ReadFile(dir.File("k.pem")), "one");
  EXPECT_EQ(ModeOf(dir.File("k.pem")), 0600u);
  ASSERT_TRUE(WriteFileAtomic(dir.File("k.pem"), "two", 0600).ok());
  EXPECT_EQ(testutil::ReadFile(dir.File("k.pem")), "two");
}

// Formerly helper_test's WriteFileAtomicallyTest.MissingDirectory.
TEST(WriteFileAtomicTest, MissingDirectory) {
  absl::Status s = WriteFileAtomic("/nonexistent-dir-sg/k.pem", "x", 0600);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("cannot create temporary file in /nonexistent-dir-sg"),
            std::string::npos);
}

TEST(WriteFileAtomicTest, ModeIsExactWhateverTheUmask) {
  testutil::TempDir dir;
  mode_t old = umask(077);
  absl::Status s = WriteFileAtomic(dir.File("cert.pem"), "c", 0644);
  umask(old);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(ModeOf(dir.File("cert.pem")), 0644u);
}

TEST(WriteFileAtomicTest, ModeOfAReplacedFileIsTheNewOne) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("k.pem"), "old", 0644);
  ASSERT_TRUE(WriteFileAtomic(dir.File("k.pem"), "new", 0600).ok());
  EXPECT_EQ(ModeOf(dir.File("k.pem")), 0600u);
}

TEST(WriteFileAtomicTest, SymlinkAtPathIsReplacedNotFollowed) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("victim"), "precious", 0644);
  ASSERT_EQ(symlink(dir.File("victim").c_str(), dir.File("k.pem").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(dir.File("k.pem"), "key", 0600).ok());
  EXPECT_EQ(testutil::ReadFile(dir.File("victim")), "precious");
  EXPECT_EQ(testutil::ReadFile(dir.File("k.pem")), "key");
  EXPECT_EQ(ModeOf(dir.File("k.pem")), 0600u);  // a regular file now, not the link
}

TEST(WriteFileAtomicTest, SymlinkAtTemporaryNameIsRemovedNotFollowed) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("victim"), "precious", 0644);
  ASSERT_EQ(symlink(dir.File("victim").c_str(), dir.File("k.pem.tmp").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(dir.File("k.pem"), "key", 0600).ok());
  EXPECT_EQ(testutil::ReadFile(dir.File("victim")), "precious");
  EXPECT_EQ(testutil::ReadFile(dir.File("k.pem")), "key");
}

TEST(WriteFileAtomicTest, HardLinkAtTemporaryNameIsRemovedNotWritten) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("victim"), "precious", 0644);
  ASSERT_EQ(link(dir.File("victim").c_str(), dir.File("k.pem.tmp").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(dir.File("k.pem"), "key", 0600).ok());
  EXPECT_EQ(testutil::ReadFile(dir.File("victim")), "precious");
  EXPECT_EQ(ModeOf(dir.File("victim")), 0644u);
}

TEST(WriteFileAtomicTest, DirectoryAtTemporaryNameFailsAndKeepsTheFile) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("k.pem"), "old", 0600);
  ASSERT_EQ(mkdir(dir.File("k.pem.tmp").c_str(), 0700), 0);
  absl::Status s = WriteFileAtomic(dir.File("k.pem"), "new", 0600);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "open " + dir.File("k.pem.tmp") + ": Is a directory");
  EXPECT_EQ(testutil::ReadFile(dir.File("k.pem")), "old");
}

TEST(WriteFileAtomicTest, RelativePathInCurrentDirectory) {
  testutil::TempDir dir;
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  absl::Status s = WriteFileAtomic("rel.pem", "r", 0600);
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(testutil::ReadFile(dir.File("rel.pem")), "r");
  EXPECT_NE(access(dir.File("rel.pem.tmp").c_str(), F_OK), 0);
}

TEST(ReadFileBoundedTest, ReadsWholeFile) {
  testutil::TempDir dir;
  std::string data(10000, 'x');
  testutil::WriteFile(dir.File("f"), data);
  absl::StatusOr<std::string> got = ReadFileBounded(dir.File("f"), 10000);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, data);
}

TEST(ReadFileBoundedTest, EmptyFile) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("f"), "");
  absl::StatusOr<std::string> got = ReadFileBounded(dir.File("f"), 10);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "");
}

TEST(ReadFileBoundedTest, LargerThanBoundIsRefusedNamingTheFile) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("f"), std::string(10001, 'x'));
  absl::StatusOr<std::string> got = ReadFileBounded(dir.File("f"), 10000);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got.status().message(), dir.File("f") + ": file is larger than 10000 bytes");
}

TEST(ReadFileBoundedTest, MissingFileIsNotFound) {
  testutil::TempDir dir;
  absl::StatusOr<std::string> got = ReadFileBounded(dir.File("missing"), 10);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(),
            dir.File("missing") + ": cannot read file: No such file or directory");
}

TEST(ReadFileBoundedTest, DirectoryIsNotFound) {
  testutil::TempDir dir;
  absl::StatusOr<std::string> got = ReadFileBounded(dir.path(), 10);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(), dir.path() + ": cannot read file: Is a directory");
}

TEST(ReadOpenFileTest, ReadsFromTheDescriptorAndLeavesItOpen) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("f"), "data");
  int fd = open(dir.File("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  absl::StatusOr<std::string> got = ReadOpenFile(fd, dir.File("f"), 4);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "data");
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);  // still open
  close(fd);
}

TEST(ReadOpenFileTest, LargerThanBound) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("f"), "data!");
  int fd = open(dir.File("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  absl::StatusOr<std::string> got = ReadOpenFile(fd, "the file", 4);
  close(fd);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got.status().message(), "the file: file is larger than 4 bytes");
}

}  // namespace
}  // namespace signet
