// Hostile input against the agent's Workload API of a real signet-agent:
// forged JWT-SVIDs through ValidateJWTSVID, calls without the security
// header, connection floods (no descriptor leak), and the modes of the
// sockets, key and SVID files.
#include <dirent.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/bundle.h"
#include "common/jwt.h"
#include "common/keys.h"
#include "gmock/gmock.h"
#include "test/integration/fault_agent_fixture.h"

namespace signet::faulttest {
namespace {

using ::testing::HasSubstr;

std::string B64(absl::string_view s) { return absl::WebSafeBase64Escape(s); }

// Hs256 returns HMAC-SHA256(key, data).
std::string Hs256(const std::string& key, const std::string& data) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  unsigned char out[32];
  size_t len = 0;
  EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params);
  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  EVP_MAC_final(ctx, out, &len, sizeof out);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return std::string(reinterpret_cast<char*>(out), len);
}

class HostileWorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    bundle_pem_ = server_.BundlePem();
    agent_ = std::make_unique<AgentProcess>(server_, bundle_pem_);
    std::string token = server_.GenerateToken();
    ASSERT_TRUE(agent_->Start(token)) << agent_->Logs();
    agent_id_ = absl::StrCat("spiffe://example.org/spire/agent/join_token/", token);
    RunResult r =
        server_.Cli({"entry", "create", "-parentID", agent_id_, "-spiffeID",
                     "spiffe://example.org/wl", "-selector", absl::StrCat("unix:uid:", geteuid())});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(testutil::WaitFor([&] {
      return agent_->Cli({"api", "fetch", "x509"}).exit_code == 0;
    })) << agent_->Logs();
  }

  // ServerJwtKey finds the server's current JWT signing key in its data dir
  // (the test plays an attacker who has it, to reach the claim checks that
  // come after the signature check) and its kid.
  void ServerJwtKey(EvpPkeyPtr* key, std::string* kid) {
    Bundle b = Bundle::ParseJwks(TrustDomain::FromString("example.org").value(),
                                 server_.Cli({"bundle", "show", "-format", "spiffe"}).out)
                   .value();
    std::vector<std::string> pems;
    std::function<void(const std::string&)> walk = [&](const std::string& dir) {
      DIR* d = opendir(dir.c_str());
      if (d == nullptr) return;
      while (struct dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        std::string p = dir + "/" + n;
        if (e->d_type == DT_DIR) {
          walk(p);
        } else if (absl::EndsWith(n, ".pem")) {
          pems.push_back(p);
        }
      }
      closedir(d);
    };
    walk(server_.dir().File("data"));
    for (const std::string& p : pems) {
      absl::StatusOr<EvpPkeyPtr> k = ParsePrivateKeyPem(testutil::ReadFile(p));
      if (!k.ok()) continue;
      for (const auto& [id, pub] : b.jwt_authorities()) {
        if (PublicKeysEqual(pub.get(), k->get())) {
          *key = std::move(*k);
          *kid = id;
          return;
        }
      }
    }
    FAIL() << "no JWT key found in " << server_.dir().File("data");
  }

  grpc::Status Validate(const std::string& token, const std::string& audience = "svc") {
    auto stub = agent_->Client();
    auto ctx = Ctx();
    ValidateJWTSVIDRequest req;
    req.set_audience(audience);
    req.set_svid(token);
    ValidateJWTSVIDResponse resp;
    grpc::Status s = stub->ValidateJWTSVID(ctx.get(), req, &resp);
    if (s.ok()) validated_id_ = resp.spiffe_id();
    return s;
  }

  static std::string Exp(absl::Duration d) {
    return absl::StrCat(absl::ToUnixSeconds(absl::Now() + d));
  }

  ServerProcess server_;
  std::string bundle_pem_;
  std::unique_ptr<AgentProcess> agent_;
  std::string agent_id_;
  std::string validated_id_;
};

TEST_F(HostileWorkloadTest, RealJwtValidates) {
  EvpPkeyPtr key;
  std::string kid;
  ServerJwtKey(&key, &kid);
  std::string t =
      SignCompactJws(key.get(), "ES256",
                     absl::StrCat(R"({"alg":"ES256","typ":"JWT","kid":")", kid, "\"}"),
                     absl::StrCat(R"({"sub":"spiffe://example.org/wl","aud":["svc"],"exp":)",
                                  Exp(absl::Minutes(5)), "}"))
          .value();
  grpc::Status s = Validate(t);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(validated_id_, "spiffe://example.org/wl");
}

TEST_F(HostileWorkloadTest, AlgNoneIsRejected) {
  std::string t =
      absl::StrCat(B64(R"({"alg":"none","typ":"JWT","kid":"x"})"), ".",
                   B64(absl::StrCat(R"({"sub":"spiffe://example.org/wl","aud":"svc","exp":)",
                                    Exp(absl::Minutes(5)), "}")),
                   ".");
  grpc::Status s = Validate(t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "unsupported token signature algorithm \"none\"");
}

TEST_F(HostileWorkloadTest, Hs256KeyedWithThePublicKeyIsRejected) {
  EvpPkeyPtr key;
  std::string kid;
  ServerJwtKey(&key, &kid);
  // The classic confusion: HMAC keyed with the bundle's public key bytes.
  for (const std::string& secret :
       {PublicKeyToDer(key.get()).value(), PublicKeyToPem(key.get()).value()}) {
    std::string signing_input =
        absl::StrCat(B64(absl::StrCat(R"({"alg":"HS256","typ":"JWT","kid":")", kid, "\"}")), ".",
                     B64(absl::StrCat(R"({"sub":"spiffe://example.org/wl","aud":"svc","exp":)",
                                      Exp(absl::Minutes(5)), "}")));
    std::string t = absl::StrCat(signing_input, ".", B64(Hs256(secret, signing_input)));
    grpc::Status s = Validate(t);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "unsupported token signature algorithm \"HS256\"");
  }
}

TEST_F(HostileWorkloadTest, MissingExpIsRejected) {
  EvpPkeyPtr key;
  std::string kid;
  ServerJwtKey(&key, &kid);
  std::string t = SignCompactJws(key.get(), "ES256",
                                 absl::StrCat(R"({"alg":"ES256","typ":"JWT","kid":")", kid, "\"}"),
                                 R"({"sub":"spiffe://example.org/wl","aud":["svc"]})")
                      .value();
  grpc::Status s = Validate(t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "token missing exp claim");
}

TEST_F(HostileWorkloadTest, WrongAudienceIsRejected) {
  EvpPkeyPtr key;
  std::string kid;
  ServerJwtKey(&key, &kid);
  std::string t =
      SignCompactJws(key.get(), "ES256",
                     absl::StrCat(R"({"alg":"ES256","typ":"JWT","kid":")", kid, "\"}"),
                     absl::StrCat(R"({"sub":"spiffe://example.org/wl","aud":["other"],"exp":)",
                                  Exp(absl::Minutes(5)), "}"))
          .value();
  grpc::Status s = Validate(t, "svc");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("token audience does not contain an expected audience"));
}

TEST_F(HostileWorkloadTest, SubjectOfForeignTrustDomainIsRejected) {
  // Signed by a key of another trust domain, for a subject there: the agent
  // has no bundle for it (no federation configured).
  EvpPkeyPtr other = GenerateKey(KeyType::kEcP256).value();
  std::string t =
      SignCompactJws(other.get(), "ES256", R"({"alg":"ES256","typ":"JWT","kid":"k"})",
                     absl::StrCat(R"({"sub":"spiffe://other.org/wl","aud":["svc"],"exp":)",
                                  Exp(absl::Minutes(5)), "}"))
          .value();
  grpc::Status s = Validate(t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "no bundle found for trust domain \"other.org\"");
}

// A key that is not the server's, under the server's kid. (The same kid under
// another trust domain's key is checked against two real bundles in
// JwtTest.KeyOfAnotherTrustDomainWithOurKidIsRejected: the CLI cannot set a
// federated bundle yet.)
TEST_F(HostileWorkloadTest, ForeignKeyUnderOurKidIsRejected) {
  EvpPkeyPtr key;
  std::string kid;
  ServerJwtKey(&key, &kid);
  EvpPkeyPtr other = GenerateKey(KeyType::kEcP256).value();
  std::string t =
      SignCompactJws(other.get(), "ES256",
                     absl::StrCat(R"({"alg":"ES256","typ":"JWT","kid":")", kid, "\"}"),
                     absl::StrCat(R"({"sub":"spiffe://example.org/wl","aud":["svc"],"exp":)",
                                  Exp(absl::Minutes(5)), "}"))
          .value();
  grpc::Status s = Validate(t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "token signature verification failed");
}

TEST_F(HostileWorkloadTest, UnknownKidIsRejected) {
  EvpPkeyPtr other = GenerateKey(KeyType::kEcP256).value();
  std::string t =
      SignCompactJws(other.get(), "ES256", R"({"alg":"ES256","typ":"JWT","kid":"forged"})",
                     absl::StrCat(R"({"sub":"spiffe://example.org/wl","aud":["svc"],"exp":)",
                                  Exp(absl::Minutes(5)), "}"))
          .value();
  grpc::Status s = Validate(t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "no JWT authority found with key ID \"forged\"");
}

// Each Workload API method without the security header.
TEST_F(HostileWorkloadTest, FetchX509SvidWithoutHeader) {
  auto stub = agent_->Client();
  auto ctx = Ctx(false);
  auto r = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse m;
  EXPECT_FALSE(r->Read(&m));
  grpc::Status s = r->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "security header missing from request");
}

TEST_F(HostileWorkloadTest, FetchX509BundlesWithoutHeader) {
  auto stub = agent_->Client();
  auto ctx = Ctx(false);
  auto r = stub->FetchX509Bundles(ctx.get(), X509BundlesRequest());
  X509BundlesResponse m;
  EXPECT_FALSE(r->Read(&m));
  grpc::Status s = r->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "security header missing from request");
}

TEST_F(HostileWorkloadTest, FetchJwtSvidWithoutHeader) {
  auto stub = agent_->Client();
  auto ctx = Ctx(false);
  JWTSVIDRequest req;
  req.add_audience("svc");
  JWTSVIDResponse resp;
  grpc::Status s = stub->FetchJWTSVID(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "security header missing from request");
  EXPECT_EQ(resp.svids_size(), 0);
}

TEST_F(HostileWorkloadTest, FetchJwtBundlesWithoutHeader) {
  auto stub = agent_->Client();
  auto ctx = Ctx(false);
  auto r = stub->FetchJWTBundles(ctx.get(), JWTBundlesRequest());
  JWTBundlesResponse m;
  EXPECT_FALSE(r->Read(&m));
  grpc::Status s = r->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "security header missing from request");
}

TEST_F(HostileWorkloadTest, ValidateJwtSvidWithoutHeader) {
  auto stub = agent_->Client();
  auto ctx = Ctx(false);
  ValidateJWTSVIDRequest req;
  req.set_audience("svc");
  req.set_svid("a.b.c");
  ValidateJWTSVIDResponse resp;
  grpc::Status s = stub->ValidateJWTSVID(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "security header missing from request");
}

TEST_F(HostileWorkloadTest, HeaderWithWrongValueIsRejected) {
  auto stub = agent_->Client();
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("workload.spiffe.io", "false");
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto r = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse m;
  EXPECT_FALSE(r->Read(&m));
  grpc::Status s = r->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "security header missing from request");
}

TEST_F(HostileWorkloadTest, ConnectionFloodLeavesNoDescriptors) {
  pid_t pid = agent_->pid();
  // Let the agent settle, then take the baseline.
  int baseline = CountFds(pid);
  ASSERT_GT(baseline, 0);
  // 1) 500 raw connections that send garbage (no HTTP/2 preface) and close.
  for (int i = 0; i < 500; ++i) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, agent_->socket().c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      (void)!write(fd, "GET / HTTP/1.1\r\n\r\n", 18);
    }
    close(fd);
  }
  // 2) 200 gRPC channels, each with an open stream, all dropped at once.
  {
    std::vector<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stubs;
    std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
    std::vector<std::unique_ptr<grpc::ClientReader<X509SVIDResponse>>> readers;
    for (int i = 0; i < 200; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);  // one connection per channel
      stubs.push_back(SpiffeWorkloadAPI::NewStub(grpc::CreateCustomChannel(
          "unix:" + agent_->socket(), grpc::InsecureChannelCredentials(), args)));
      ctxs.push_back(Ctx(true, absl::Seconds(60)));
      readers.push_back(stubs.back()->FetchX509SVID(ctxs.back().get(), X509SVIDRequest()));
      X509SVIDResponse m;
      ASSERT_TRUE(readers.back()->Read(&m)) << i;
    }
    EXPECT_GT(CountFds(pid), baseline + 100);
    for (auto& c : ctxs) c->TryCancel();
    for (auto& r : readers) (void)r->Finish();
  }
  int now = -1;
  EXPECT_TRUE(testutil::WaitFor(
      [&] {
        now = CountFds(pid);
        return now <= baseline;
      },
      absl::Seconds(30)))
      << "baseline " << baseline << ", now " << now;
  EXPECT_EQ(agent_->Cli({"healthcheck"}).exit_code, 0);
}

TEST_F(HostileWorkloadTest, SocketAndDirectoryModes) {
  // Workload API: any local user may connect (attestation decides), so the
  // socket is 0777 in a 0755 directory nobody else can write.
  EXPECT_EQ(Mode(agent_->socket()), 0777);
  EXPECT_EQ(Mode(agent_->dir().File("public")), 0755);
  // Admin API: owner and group only; the group may connect but not replace
  // the socket (SECURITY.md, "Socket directories").
  EXPECT_EQ(Mode(server_.socket()), 0770);
  EXPECT_EQ(Mode(server_.dir().File("admin")), 0750);
  // Data directories hold keys: owner only.
  EXPECT_EQ(Mode(agent_->dir().File("data")), 0700);
  EXPECT_EQ(Mode(server_.dir().File("data")), 0700);
}

// PrivateKeyFiles returns every regular file under `dir` containing a PEM
// private key.
std::vector<std::string> PrivateKeyFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    std::string p = dir + "/" + n;
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      std::vector<std::string> sub = PrivateKeyFiles(p);
      out.insert(out.end(), sub.begin(), sub.end());
    } else if (S_ISREG(st.st_mode) &&
               absl::StrContains(testutil::ReadFile(p), "PRIVATE KEY-----")) {
      out.push_back(p);
    }
  }
  closedir(d);
  return out;
}

TEST_F(HostileWorkloadTest, KeyFilesAreOwnerOnly) {
  std::vector<std::string> keys = PrivateKeyFiles(server_.dir().File("data"));
  std::vector<std::string> agent_keys = PrivateKeyFiles(agent_->dir().File("data"));
  EXPECT_GE(keys.size(), 3u);  // X.509 CA, JWT key, server SVID key
  EXPECT_GE(agent_keys.size(), 1u);
  keys.insert(keys.end(), agent_keys.begin(), agent_keys.end());
  for (const std::string& k : keys) EXPECT_EQ(Mode(k), 0600) << k;
}

TEST_F(HostileWorkloadTest, WrittenSvidKeyIsOwnerOnly) {
  testutil::TempDir out;
  RunResult r = agent_->Cli({"api", "fetch", "x509", "-write", out.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mode(out.File("svid.0.key")), 0600);
}

}  // namespace
}  // namespace signet::faulttest
