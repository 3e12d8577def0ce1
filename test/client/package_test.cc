// The installed package: `cmake --install` the client component into a temp
// prefix, then configure and build a consumer that does find_package(Signet)
// and links Signet::client.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
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
#ifndef SIGNET_NM
#define SIGNET_NM "/usr/bin/nm"
#endif
constexpr char kNm[] = SIGNET_NM;
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

// The installed archive is the client library: SPIFFE IDs, bundles and SVID
// verification, but none of the issuance code (signet_issuance, linked by the
// server and the tests only) nor the server support code (signet_support).
TEST(PackageTest, InstalledArchiveHasNoIssuanceCode) {
  testutil::TempDir dir;
  std::string prefix = dir.File("prefix");
  testutil::RunResult r = testutil::Run(
      {kCmake, "--install", testutil::BuildDir(), "--prefix", prefix, "--component", "client"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string archive;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(prefix)) {
    if (entry.path().filename() == "libsignet.a") archive = entry.path().string();
  }
  ASSERT_FALSE(archive.empty()) << "no libsignet.a under " << prefix;
  r = testutil::Run({kNm, "-C", "--defined-only", archive}, {}, absl::Seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> text_symbols;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    // "<address> <type> <name>": keep code symbols (T/t) of namespace signet,
    // without ABI tags ("CreateCsrDer[abi:cxx11](...)").
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (f.size() == 3 && (f[1] == "T" || f[1] == "t") && absl::StartsWith(f[2], "signet::")) {
      text_symbols.push_back(absl::StrReplaceAll(f[2], {{"[abi:cxx11]", ""}}));
    }
  }
  auto defines = [&](absl::string_view prefix_of_name) {
    for (const std::string& s : text_symbols) {
      if (absl::StartsWith(s, prefix_of_name)) return true;
    }
    return false;
  };
  // The check sees the archive's symbols at all: core functions are there.
  EXPECT_TRUE(defines("signet::VerifyX509Svid("));
  EXPECT_TRUE(defines("signet::ValidateJwtSvid("));
  EXPECT_TRUE(defines("signet::CreateCsrDer("));
  for (const char* issuance :
       {"signet::CreateSelfSignedCa(", "signet::CreateIntermediateCa(", "signet::IssueLeaf(",
        "signet::IssueLeafFromCsr(", "signet::ParseCsrDer(", "signet::ParseCsrPublicKey(",
        "signet::CsrPublicKey(", "signet::CsrUriSans(",
        "signet::X509Issuer::", "signet::VerifyIssuedX509Svid("}) {
    EXPECT_FALSE(defines(issuance)) << issuance << " is in " << archive;
  }
  // Nor server support (signet_support): YAML configuration, the unix socket
  // server, the HTTP client.
  for (const char* support :
       {"signet::LoadYamlFile(", "signet::ConfigSection::", "signet::UnixSocketServer::",
        "signet::OpenSocketDir(", "signet::http::HttpDo("}) {
    EXPECT_FALSE(defines(support)) << support << " is in " << archive;
  }
}

}  // namespace
}  // namespace signet::client
