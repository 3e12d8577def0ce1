// End-to-end tests of signet-helper with programs that only read files:
// the real helper writes a workload's SVID, key and bundle from a real agent,
// and `openssl s_server`/`s_client` and nginx (ssl_verify_client on) accept
// them. Two workloads get different identities from the same uid through the
// unix:path selector: the helper binary and a copy of it at another path.
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/integration/client_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using clienttest::Deployment;
using clienttest::HelperBinary;
using ::testing::HasSubstr;
using testutil::RunResult;

constexpr char kWebId[] = "spiffe://example.org/web";
constexpr char kClientId[] = "spiffe://example.org/web-client";
constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr char kNginx[] = "/usr/sbin/nginx";
constexpr char kHttpGet[] = "GET / HTTP/1.0\r\n\r\n";

mode_t FileMode(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

// FirstCertSerial returns the serial of the first PEM certificate in `text`
// (e.g. the server certificate `openssl s_client` prints); "" if none.
std::string FirstCertSerial(const std::string& text) {
  size_t begin = text.find("-----BEGIN CERTIFICATE-----");
  size_t end = text.find("-----END CERTIFICATE-----", begin);
  if (begin == std::string::npos || end == std::string::npos) return "";
  auto certs = ParseCertsPem(text.substr(begin, end + 25 - begin) + "\n");
  return certs.ok() && !certs->empty() ? CertSerialHex((*certs)[0].get()) : "";
}

// SvidFileDir is a cert_dir with the files a helper wrote there.
struct SvidFileDir {
  std::string svid() const { return dir.File("svid.pem"); }
  std::string key() const { return dir.File("svid_key.pem"); }
  std::string bundle() const { return dir.File("svid_bundle.pem"); }
  testutil::TempDir dir;
};

class HelperFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kNginx, X_OK) != 0) {
      GTEST_SKIP() << "nginx is not installed (scripts/install-deps.sh installs it)";
    }
    std::string error;
    ASSERT_TRUE(deployment_.Start(&error)) << error;
    // The same helper program at a second path is a second workload.
    client_helper_ = bin_dir_.File("signet-helper-client");
    testutil::WriteFile(client_helper_, testutil::ReadFile(HelperBinary()), 0755);
    chmod(bin_dir_.path().c_str(), 0755);
  }

  // Register gives the helper binary at `path` (run by us) `spiffe_id`.
  void Register(const std::string& spiffe_id, const std::string& path,
                const std::vector<std::string>& extra = {}) {
    deployment_.Register(
        spiffe_id, {absl::StrCat("unix:uid:", geteuid()), absl::StrCat("unix:path:", path)}, extra);
  }

  // HelperConfig returns the path of a helper config writing into `out`.
  std::string HelperConfig(const SvidFileDir& out, const std::string& extra = "") {
    std::string path = out.dir.File("helper.conf");
    testutil::WriteFile(path, absl::StrCat("agent_address: \"", deployment_.socket(),
                                           "\"\ncert_dir: \"", out.dir.path(), "\"\n", extra));
    return path;
  }

  // WriteOnce runs the helper at `binary` once (daemon mode off) into `out`,
  // again until it succeeds (the agent may not have the new entry yet).
  void WriteOnce(const std::string& binary, const SvidFileDir& out) {
    std::string config = HelperConfig(out);
    RunResult r;
    ASSERT_TRUE(testutil::WaitFor(
        [&] {
          r = testutil::Run({binary, "-config", config, "-daemon-mode", "false"});
          return r.exit_code == 0;
        },
        absl::Seconds(40)))
        << r.out << r.err << deployment_.Logs();
  }

  // WriteBoth writes the web identity into web_ and the client's into client_.
  void WriteBoth(const std::vector<std::string>& web_extra = {}) {
    Register(kWebId, HelperBinary(), web_extra);
    Register(kClientId, client_helper_);
    ASSERT_NO_FATAL_FAILURE(WriteOnce(HelperBinary(), web_));
    ASSERT_NO_FATAL_FAILURE(WriteOnce(client_helper_, client_));
  }

  // NginxConfig writes nginx.conf (ssl_verify_client on, the web files)
  // listening on `port`; pid, logs and temp paths inside nginx_dir_.
  std::string NginxConfig(int port) {
    std::string d = nginx_dir_.path();
    std::string conf = absl::StrCat(
        testutil::IsRoot() ? "user nobody nogroup;\n" : "", "worker_processes 1;\npid ", d,
        "/nginx.pid;\nerror_log ", d, "/error.log info;\nevents { worker_connections 64; }\n",
        "http {\n  access_log ", d, "/access.log;\n  client_body_temp_path ", d,
        "/body;\n  proxy_temp_path ", d, "/proxy;\n  fastcgi_temp_path ", d,
        "/fastcgi;\n  uwsgi_temp_path ", d, "/uwsgi;\n  scgi_temp_path ", d,
        "/scgi;\n  server {\n    listen 127.0.0.1:", port, " ssl;\n    ssl_certificate ",
        web_.svid(), ";\n    ssl_certificate_key ", web_.key(), ";\n    ssl_client_certificate ",
        web_.bundle(), ";\n    ssl_verify_client on;\n    ssl_verify_depth 3;\n",
        "    location / {\n      default_type text/plain;\n",
        "      return 200 \"client verify $ssl_client_verify\\n\";\n    }\n  }\n}\n");
    testutil::WriteFile(nginx_dir_.File("nginx.conf"), conf);
    return nginx_dir_.File("nginx.conf");
  }

  std::vector<std::string> NginxArgs(const std::string& conf) {
    return {"-p", nginx_dir_.path(), "-e", nginx_dir_.File("error.log"), "-c", conf,
            "-g", "daemon off;"};
  }

  // Get sends "GET / HTTP/1.0" to 127.0.0.1:`port` with `openssl s_client`,
  // presenting the client's SVID when `with_cert`, verifying the server
  // against the client's bundle.
  RunResult Get(int port, bool with_cert, bool quiet = true) {
    std::vector<std::string> argv{kOpenssl,
                                  "s_client",
                                  "-connect",
                                  absl::StrCat("127.0.0.1:", port),
                                  "-CAfile",
                                  client_.bundle(),
                                  "-verify_return_error"};
    if (with_cert) argv.insert(argv.end(), {"-cert", client_.svid(), "-key", client_.key()});
    if (quiet) argv.push_back("-quiet");
    testutil::ProcessOptions o;
    o.stdin_data = kHttpGet;
    return testutil::Run(argv, o, absl::Seconds(20));
  }

  Deployment deployment_;
  testutil::TempDir bin_dir_;
  std::string client_helper_;
  SvidFileDir web_;
  SvidFileDir client_;
  testutil::TempDir nginx_dir_;
};

TEST_F(HelperFilesTest, HelperWritesSvidKeyAndBundleWithModes) {
  ASSERT_NO_FATAL_FAILURE(WriteBoth());
  EXPECT_EQ(FileMode(web_.key()), 0600u);
  EXPECT_EQ(FileMode(web_.svid()), 0644u);
  EXPECT_EQ(FileMode(web_.bundle()), 0644u);
  auto certs = ParseCertsPem(testutil::ReadFile(web_.svid()));
  ASSERT_TRUE(certs.ok()) << certs.status();
  auto id = SpiffeIdFromCert((*certs)[0].get());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), kWebId);
  auto key = ParsePrivateKeyPem(testutil::ReadFile(web_.key()));
  ASSERT_TRUE(key.ok()) << key.status();
  EvpPkeyPtr pub(X509_get_pubkey((*certs)[0].get()));
  EXPECT_TRUE(PublicKeysEqual(pub.get(), key->get()));
  auto client_certs = ParseCertsPem(testutil::ReadFile(client_.svid()));
  ASSERT_TRUE(client_certs.ok());
  EXPECT_EQ(SpiffeIdFromCert((*client_certs)[0].get())->ToString(), kClientId);
  RunResult v = testutil::Run({kOpenssl, "verify", "-CAfile", web_.bundle(), web_.svid()});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(v.out, web_.svid() + ": OK\n");
}

TEST_F(HelperFilesTest, OpensslServerAndClientAcceptEachOthersHelperFiles) {
  ASSERT_NO_FATAL_FAILURE(WriteBoth());
  int port = testutil::FreeTcpPort();
  testutil::Subprocess server({kOpenssl, "s_server", "-accept", absl::StrCat("127.0.0.1:", port),
                               "-cert", web_.svid(), "-key", web_.key(), "-CAfile", web_.bundle(),
                               "-Verify", "3", "-verify_return_error", "-www", "-naccept", "1"});
  ASSERT_TRUE(testutil::WaitFor([&] { return absl::StrContains(server.Stdout(), "ACCEPT"); }))
      << server.Stdout() << server.Stderr();
  RunResult r = Get(port, /*with_cert=*/true);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("verify return:1"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.0 200 ok"));
  // s_server's status page shows the client certificate it verified.
  EXPECT_EQ(FirstCertSerial(r.out.substr(r.out.find("Client certificate"))),
            FirstCertSerial(testutil::ReadFile(client_.svid())));
  EXPECT_EQ(server.Wait(), 0) << server.Stdout() << server.Stderr();
}

TEST_F(HelperFilesTest, OpensslServerRefusesAClientWithoutCertificate) {
  ASSERT_NO_FATAL_FAILURE(WriteBoth());
  int port = testutil::FreeTcpPort();
  testutil::Subprocess server({kOpenssl, "s_server", "-accept", absl::StrCat("127.0.0.1:", port),
                               "-cert", web_.svid(), "-key", web_.key(), "-CAfile", web_.bundle(),
                               "-Verify", "3", "-verify_return_error", "-www", "-naccept", "1"});
  ASSERT_TRUE(testutil::WaitFor([&] { return absl::StrContains(server.Stdout(), "ACCEPT"); }));
  RunResult r = Get(port, /*with_cert=*/false);
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("200 ok")));
  EXPECT_THAT(r.err, HasSubstr("alert certificate required"));
  server.Wait();
  EXPECT_THAT(server.Stderr(), HasSubstr("peer did not return a certificate"));
}

TEST_F(HelperFilesTest, NginxVerifiesClientsWithTheHelperBundle) {
  ASSERT_NO_FATAL_FAILURE(WriteBoth());
  int port = testutil::FreeTcpPort();
  std::vector<std::string> argv{kNginx};
  for (const std::string& a : NginxArgs(NginxConfig(port))) argv.push_back(a);
  testutil::Subprocess nginx(argv);
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = Get(port, /*with_cert=*/true);
    return r.exit_code == 0 || !nginx.Running();
  })) << r.out
      << r.err;
  ASSERT_TRUE(nginx.Running()) << nginx.Stderr()
                               << testutil::ReadFile(nginx_dir_.File("error.log"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r.out, HasSubstr("\r\n\r\nclient verify SUCCESS\n"));

  RunResult anon = Get(port, /*with_cert=*/false);
  EXPECT_THAT(anon.out, HasSubstr("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(anon.out, HasSubstr("No required SSL certificate was sent"));

  // A client whose certificate is not from the trust domain's CA.
  SvidFileDir stranger;
  EvpPkeyPtr ca_key = *GenerateKey(KeyType::kEcP256);
  TrustDomain td = *TrustDomain::FromString("example.org");
  X509Ptr ca = *CreateSelfSignedCa(ca_key.get(),
                                   CaParams{td, "Other CA", "Test", absl::Now(), absl::Hours(1)});
  EvpPkeyPtr leaf_key = *GenerateKey(KeyType::kEcP256);
  X509Ptr leaf =
      *IssueLeaf(ca.get(), ca_key.get(), leaf_key.get(),
                 LeafParams{*SpiffeId::FromString(kClientId), {}, absl::Now(), absl::Hours(1)});
  testutil::WriteFile(stranger.svid(), *CertToPem(leaf.get()));
  testutil::WriteFile(stranger.key(), *PrivateKeyToPkcs8Pem(leaf_key.get()), 0600);
  RunResult forged = testutil::Run(
      {kOpenssl, "s_client", "-connect", absl::StrCat("127.0.0.1:", port), "-CAfile",
       client_.bundle(), "-verify_return_error", "-cert", stranger.svid(), "-key", stranger.key(),
       "-quiet"},
      [] {
        testutil::ProcessOptions o;
        o.stdin_data = kHttpGet;
        return o;
      }(),
      absl::Seconds(20));
  EXPECT_THAT(forged.out, HasSubstr("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(forged.out, HasSubstr("The SSL certificate error"));
  EXPECT_EQ(nginx.Stop(), 0);
}

TEST_F(HelperFilesTest, HelperStartsNginxAndReloadsItOnRotation) {
  Register(kWebId, HelperBinary(), {"-x509SVIDTTL", "5"});
  Register(kClientId, client_helper_);
  ASSERT_NO_FATAL_FAILURE(WriteOnce(client_helper_, client_));
  int port = testutil::FreeTcpPort();
  std::string args;
  for (const std::string& a : NginxArgs(NginxConfig(port))) {
    absl::StrAppend(&args, args.empty() ? "" : " ", "'", a, "'");
  }
  std::string config =
      HelperConfig(web_, absl::StrCat("cmd: \"", kNginx, "\"\ncmd_args: \"", args,
                                      "\"\nrenew_signal: \"SIGHUP\"\ndaemon_mode: true\n"));
  testutil::Subprocess helper({HelperBinary(), "-config", config});

  // nginx serves the SVID the helper wrote. The SVID lives 5 s and rotates
  // at half of it, so on a loaded machine a rotation may fall between the
  // request and the file read: take a pair with no rotation in between.
  RunResult r;
  std::string first, on_disk;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = Get(port, /*with_cert=*/true, /*quiet=*/false);
    if (!helper.Running()) return true;
    if (r.exit_code != 0) return false;
    first = FirstCertSerial(r.out);
    on_disk = FirstCertSerial(testutil::ReadFile(web_.svid()));
    return !first.empty() && first == on_disk;
  })) << r.out
      << r.err << "served " << first << ", file " << on_disk << helper.Stderr();
  ASSERT_TRUE(helper.Running()) << helper.Stderr();
  EXPECT_THAT(helper.Stderr(), HasSubstr("started cmd"));
  std::string nginx_pid = testutil::ReadFile(nginx_dir_.File("nginx.pid"));
  ASSERT_FALSE(nginx_pid.empty());

  // The helper rewrites the files at rotation and sends SIGHUP; nginx then
  // serves the new SVID on new connections.
  std::string served;
  ASSERT_TRUE(testutil::WaitFor(
      [&] {
        r = Get(port, /*with_cert=*/true, /*quiet=*/false);
        served = FirstCertSerial(r.out);
        return r.exit_code == 0 && !served.empty() && served != first;
      },
      absl::Seconds(30)))
      << r.out << r.err << helper.Stderr();
  // Reloaded, not restarted: the same master process re-read the files.
  EXPECT_EQ(testutil::ReadFile(nginx_dir_.File("nginx.pid")), nginx_pid);
  EXPECT_THAT(testutil::ReadFile(nginx_dir_.File("error.log")),
              HasSubstr("signal 1 (SIGHUP) received"));
  RunResult page = Get(port, /*with_cert=*/true);
  EXPECT_THAT(page.out, HasSubstr("client verify SUCCESS"));
  EXPECT_EQ(helper.Stop(), 0) << helper.Stderr();
  // The helper stopped nginx with it (nginx removes its pid file on exit).
  EXPECT_TRUE(
      testutil::WaitFor([&] { return access(nginx_dir_.File("nginx.pid").c_str(), F_OK) != 0; }));
}

}  // namespace
}  // namespace signet
