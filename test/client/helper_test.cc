// signet-helper: configuration, atomic file writes, and the real binary run
// against the fake Workload API (files, modes, rotation, signals).
#include "helper/helper.h"

#include <signal.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "test/client/fake_workload_api.h"

namespace signet::helper {
namespace {

using clienttest::FakeWorkloadApi;
using clienttest::TestCa;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(HelperConfigTest, DefaultsAsSpiffeHelper) {
  auto c = ParseHelperConfig("cert_dir: /tmp/x\n", "h.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->svid_file_name, "svid.pem");
  EXPECT_EQ(c->svid_key_file_name, "svid_key.pem");
  EXPECT_EQ(c->svid_bundle_file_name, "svid_bundle.pem");
  EXPECT_TRUE(c->daemon_mode);
  EXPECT_EQ(c->cert_file_mode, 0644u);
  EXPECT_EQ(c->key_file_mode, 0600u);
}

TEST(HelperConfigTest, AllOptions) {
  auto c = ParseHelperConfig(
      "agent_address: /run/agent.sock\ncert_dir: /certs\nsvid_file_name: c.pem\n"
      "svid_key_file_name: k.pem\nsvid_bundle_file_name: b.pem\ncmd: nginx\n"
      "cmd_args: \"-g 'daemon off;'\"\nrenew_signal: SIGHUP\npid_file_name: /run/n.pid\n"
      "daemon_mode: false\nadd_intermediates_to_bundle: true\ncert_file_mode: \"0640\"\n"
      "key_file_mode: \"0400\"\njwt_svids:\n  - jwt_audience: db\n    jwt_svid_file_name: db.jwt\n",
      "h.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(WorkloadAddress(c->agent_address), "unix:///run/agent.sock");
  EXPECT_EQ(c->cert_file_mode, 0640u);
  EXPECT_EQ(c->key_file_mode, 0400u);
  ASSERT_EQ(c->jwt_svids.size(), 1u);
  EXPECT_EQ(c->jwt_svids[0].audience, "db");
  EXPECT_EQ(*SplitArgs(c->cmd_args), (std::vector<std::string>{"-g", "daemon off;"}));
  EXPECT_FALSE(c->daemon_mode);
  EXPECT_TRUE(c->add_intermediates_to_bundle);
}

TEST(HelperConfigTest, MissingCertDir) {
  auto c = ParseHelperConfig("svid_file_name: a.pem\n", "h.conf");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("cert_dir is required"), std::string::npos) << c.status();
}

TEST(HelperConfigTest, UnknownKey) {
  auto c = ParseHelperConfig("cert_dir: /x\ncertdir: /y\n", "h.conf");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("certdir"), std::string::npos) << c.status();
}

TEST(HelperConfigTest, UnknownSignal) {
  auto c = ParseHelperConfig("cert_dir: /x\nrenew_signal: SIGFOO\n", "h.conf");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("unknown signal \"SIGFOO\""), std::string::npos);
}

TEST(HelperConfigTest, BadMode) {
  auto c = ParseHelperConfig("cert_dir: /x\nkey_file_mode: \"0999\"\n", "h.conf");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("invalid file mode \"0999\""), std::string::npos);
}

TEST(HelperConfigTest, JwtEntryWithoutAudience) {
  auto c = ParseHelperConfig("cert_dir: /x\njwt_svids:\n  - jwt_svid_file_name: a.jwt\n", "h");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("jwt_audience is required"), std::string::npos);
}

TEST(HelperConfigTest, UnterminatedQuoteInArgs) {
  EXPECT_EQ(SplitArgs("a 'b").status().code(), absl::StatusCode::kInvalidArgument);
}

// HelperProcessTest runs the signet-helper binary against the fake API.
class HelperProcessTest : public ::testing::Test {
 protected:
  std::string Binary() { return testutil::BuildDir() + "/helper/signet-helper"; }
  void WriteConfig(const std::string& extra) {
    testutil::WriteFile(dir_.File("helper.conf"),
                        absl::StrCat("agent_address: \"", api_.dir().File("api.sock"),
                                     "\"\ncert_dir: \"", dir_.File("certs"), "\"\n", extra));
    mkdir(dir_.File("certs").c_str(), 0700);
  }
  std::string Serial(const std::string& file) {
    auto certs = ParseCertsPem(testutil::ReadFile(file));
    return certs.ok() ? CertSerialHex((*certs)[0].get()) : "";
  }
  // A program that appends "started" and one "hup" per SIGHUP to `log`.
  std::string WriteRecorder() {
    std::string script = dir_.File("recorder.sh");
    testutil::WriteFile(script,
                        "#!/bin/sh\ntrap 'echo hup >> \"$1\"' HUP\ntrap 'exit 0' TERM\n"
                        "echo started >> \"$1\"\nwhile :; do sleep 0.02; done\n",
                        0755);
    return script;
  }
  int Count(const std::string& file, const std::string& word) {
    int n = 0;
    for (absl::string_view l : absl::StrSplit(testutil::ReadFile(file), '\n')) n += l == word;
    return n;
  }

  TestCa ca_{"example.org"};
  FakeWorkloadApi api_;
  testutil::TempDir dir_;
};

TEST_F(HelperProcessTest, OneShotWritesFilesWithModes) {
  api_.PushX509(ca_.Response("spiffe://example.org/web"));
  WriteConfig("");
  testutil::RunResult r =
      testutil::Run({Binary(), "-config", dir_.File("helper.conf"), "-daemon-mode", "false"}, {},
                    absl::Seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ModeOf(dir_.File("certs/svid.pem")), 0644u);
  EXPECT_EQ(ModeOf(dir_.File("certs/svid_key.pem")), 0600u);
  EXPECT_EQ(ModeOf(dir_.File("certs/svid_bundle.pem")), 0644u);
  auto leaf = ParseCertsPem(testutil::ReadFile(dir_.File("certs/svid.pem")));
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(SpiffeIdFromCert((*leaf)[0].get())->ToString(), "spiffe://example.org/web");
  auto key = ParsePrivateKeyPem(testutil::ReadFile(dir_.File("certs/svid_key.pem")));
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey((*leaf)[0].get()), key->get()));
  auto bundle = ParseCertsPem(testutil::ReadFile(dir_.File("certs/svid_bundle.pem")));
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(X509_cmp((*bundle)[0].get(), ca_.cert()), 0);
  EXPECT_EQ(r.err.find("PRIVATE KEY"), std::string::npos);  // key never logged
}

TEST_F(HelperProcessTest, FailsWithoutIdentity) {
  api_.PushX509(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "security header missing"));
  WriteConfig("daemon_mode: false\n");
  testutil::RunResult r = testutil::Run({Binary(), "-config", dir_.File("helper.conf")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("security header missing"), std::string::npos) << r.err;
}

TEST_F(HelperProcessTest, BadConfigExits1) {
  testutil::WriteFile(dir_.File("bad.conf"), "cert_dir: /x\nbogus: 1\n");
  testutil::RunResult r = testutil::Run({Binary(), "-config", dir_.File("bad.conf")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;
}

TEST_F(HelperProcessTest, StartsCmdRewritesOnRotationAndSignals) {
  api_.PushX509(ca_.Response("spiffe://example.org/web"));
  std::string log = dir_.File("events.log");
  WriteConfig(absl::StrCat("cmd: \"", WriteRecorder(), "\"\ncmd_args: \"", log,
                           "\"\nrenew_signal: SIGHUP\n"));
  testutil::Subprocess helper({Binary(), "-config", dir_.File("helper.conf")});
  ASSERT_TRUE(testutil::WaitFor([&] { return Count(log, "started") == 1; })) << helper.Stderr();
  std::string first = Serial(dir_.File("certs/svid.pem"));
  ASSERT_FALSE(first.empty());

  api_.PushX509(ca_.Response("spiffe://example.org/web"));
  ASSERT_TRUE(testutil::WaitFor([&] { return Count(log, "hup") == 1; })) << helper.Stderr();
  EXPECT_NE(Serial(dir_.File("certs/svid.pem")), first);
  EXPECT_EQ(ModeOf(dir_.File("certs/svid_key.pem")), 0600u);
  EXPECT_EQ(Count(log, "started"), 1);  // signalled, not restarted

  api_.PushX509(ca_.Response("spiffe://example.org/web"));
  ASSERT_TRUE(testutil::WaitFor([&] { return Count(log, "hup") == 2; })) << helper.Stderr();
  EXPECT_EQ(helper.Stop(), 0);
}

TEST_F(HelperProcessTest, SignalsProcessFromPidFile) {
  api_.PushX509(ca_.Response("spiffe://example.org/web"));
  std::string log = dir_.File("events.log");
  testutil::Subprocess program({WriteRecorder(), log});
  ASSERT_TRUE(testutil::WaitFor([&] { return Count(log, "started") == 1; }));
  testutil::WriteFile(dir_.File("program.pid"), absl::StrCat(program.pid(), "\n"));
  WriteConfig(
      absl::StrCat("pid_file_name: \"", dir_.File("program.pid"), "\"\nrenew_signal: SIGHUP\n"));
  testutil::Subprocess helper({Binary(), "-config", dir_.File("helper.conf")});
  // The first write is announced too (spiffe-helper signals after each write).
  ASSERT_TRUE(testutil::WaitFor([&] { return Count(log, "hup") == 1; })) << helper.Stderr();
  api_.PushX509(ca_.Response("spiffe://example.org/web"));
  ASSERT_TRUE(testutil::WaitFor([&] { return Count(log, "hup") == 2; })) << helper.Stderr();
  EXPECT_EQ(helper.Stop(), 0);
}

}  // namespace
}  // namespace signet::helper
