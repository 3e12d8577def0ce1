// The installed package: `cmake --install` the client component into a temp
// prefix, then configure and build a consumer that does find_package(Signet)
// and links Signet::client.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet::client {
namespace {

#ifndef SIGNET_CMAKE_COMMAND
#define SIGNET_CMAKE_COMMAND "/usr/bin/cmake"
#endif
constexpr char kCmake[] = SIGNET_CMAKE_COMMAND;
#ifndef SIGNET_CXX_COMPILER
#define SIGNET_CXX_COMPILER "c++"
#endif
#ifndef SIGNET_SANITIZE_FLAGS
#define SIGNET_SANITIZE_FLAGS ""
#endif

TEST(PackageTest, FindPackageAndLinkAfterInstall) {
  testutil::TempDir dir;
  std::string prefix = dir.File("prefix");
  testutil::RunResult r = testutil::Run(
      {kCmake, "--install", testutil::BuildDir(), "--prefix", prefix, "--component", "client"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // signet-helper is its own component (and .deb, packaging/CMakeLists.txt).
  r = testutil::Run(
      {kCmake, "--install", testutil::BuildDir(), "--prefix", prefix, "--component", "helper"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  std::string src = dir.File("consumer");
  std::filesystem::create_directories(src);
  testutil::WriteFile(src + "/CMakeLists.txt",
                      "cmake_minimum_required(VERSION 3.18)\n"
                      "project(consumer CXX)\n"
                      "set(CMAKE_CXX_STANDARD 17)\n"
                      "find_package(Signet 0.1 REQUIRED)\n"
                      "add_executable(consumer main.cc)\n"
                      "target_link_libraries(consumer PRIVATE Signet::client)\n");
  testutil::WriteFile(src + "/main.cc",
                      "#include <cstdio>\n"
                      "#include \"client/authorizer.h\"\n"
                      // The sources' headers must compile from the installed
                      // tree (their internals are not installed).
                      "#include \"client/bundle_source.h\"\n"
                      "#include \"client/jwt_source.h\"\n"
                      "#include \"client/x509_source.h\"\n"
                      "int main() {\n"
                      "  auto id = signet::SpiffeId::FromString(\"spiffe://example.org/web\");\n"
                      "  if (!id.ok()) return 1;\n"
                      "  auto a = signet::client::AuthorizeId(*id);\n"
                      "  std::printf(\"%s\\n\", a(*id).ok() ? \"authorized\" : \"refused\");\n"
                      "  return 0;\n"
                      "}\n");
  std::string build = dir.File("consumer-build");
  std::vector<std::string> configure{kCmake,
                                     "-S",
                                     src,
                                     "-B",
                                     build,
                                     "-DCMAKE_PREFIX_PATH=" + prefix,
                                     "-DCMAKE_BUILD_TYPE=Debug",
                                     std::string("-DCMAKE_CXX_COMPILER=") + SIGNET_CXX_COMPILER};
  if (std::string sanitize = SIGNET_SANITIZE_FLAGS; !sanitize.empty()) {
    configure.push_back("-DCMAKE_CXX_FLAGS=-fsanitize=" + sanitize);
    configure.push_back("-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=" + sanitize);
  }
  r = testutil::Run(configure);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = testutil::Run({kCmake, "--build", build, "-j2"}, {}, absl::Seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = testutil::Run({build + "/consumer"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "authorized\n");
  EXPECT_EQ(access((prefix + "/bin/signet-helper").c_str(), X_OK), 0);
}

}  // namespace
}  // namespace signet::client
