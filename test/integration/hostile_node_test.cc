// Hostile input against the server's Node API (signet.agent.Node) of a real
// signet-server process: CSRs that try to obtain more than the entry grants,
// agents asking for entries of other agents, oversized requests, and TLS
// session resumption on the agent port.
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "signet/admin.grpc.pb.h"
#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

using signet::agent::BatchNewX509SvidRequest;
using signet::agent::BatchNewX509SvidResponse;
using ::testing::HasSubstr;

// CsrWithSans returns a DER CSR for `key` signed by `key` that asks for the
// given subjectAltName value (OpenSSL syntax, e.g. "URI:spiffe://x/y,DNS:a").
std::string CsrWithSans(EVP_PKEY* key, const std::string& sans) {
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("attacker"), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, sans.c_str());
  EXPECT_NE(ext, nullptr) << sans.substr(0, 100);
  sk_X509_EXTENSION_push(exts, ext);
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  EXPECT_GT(X509_REQ_sign(req.get(), key, EVP_sha256()), 0);
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

// LeafSans returns every SAN of the leaf as "URI:..." / "DNS:...".
std::vector<std::string> LeafSans(const std::string& der) {
  X509Ptr cert = ParseCertDer(der).value();
  std::vector<std::string> out;
  GENERAL_NAMES* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_URI) {
      out.push_back(absl::StrCat("URI:", reinterpret_cast<const char*>(ASN1_STRING_get0_data(
                                             n->d.uniformResourceIdentifier))));
    } else if (n->type == GEN_DNS) {
      out.push_back(
          absl::StrCat("DNS:", reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName))));
    } else {
      out.push_back(absl::StrCat("type", n->type));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

class HostileNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    agent_ = std::make_unique<TestAgent>(server_.port(), server_.BundlePem());
    ASSERT_TRUE(agent_->Attest(server_.GenerateToken()).ok());
    entry_ = CreateEntry(agent_->id(), "spiffe://example.org/web", {"-dns", "web.example.org"});
    key_ = std::move(GenerateKey(KeyType::kEcP256)).value();
  }

  std::string CreateEntry(const std::string& parent, const std::string& id,
                          const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a{"entry",     "create", "-parentID", parent,
                               "-spiffeID", id,       "-selector", "unix:uid:1000"};
    a.insert(a.end(), extra.begin(), extra.end());
    RunResult r = server_.Cli(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ServerProcess::Field(r.out, "Entry ID");
  }

  // Batch sends one BatchNewX509Svid param {entry, csr} as the test agent.
  grpc::Status Batch(const std::string& entry, const std::string& csr,
                     BatchNewX509SvidResponse* resp) {
    BatchNewX509SvidRequest req;
    auto* p = req.add_params();
    p->set_entry_id(entry);
    p->set_csr(csr);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return agent_->Stub()->BatchNewX509Svid(&ctx, req, resp);
  }

  ServerProcess server_;
  std::unique_ptr<TestAgent> agent_;
  std::string entry_;
  EvpPkeyPtr key_;
};

TEST_F(HostileNodeTest, CsrForAnotherSpiffeIdGetsTheEntryId) {
  SpiffeId admin_id = SpiffeId::FromString("spiffe://example.org/admin").value();
  std::string csr = CreateCsrDer(key_.get(), &admin_id).value();
  BatchNewX509SvidResponse resp;
  ASSERT_TRUE(Batch(entry_, csr, &resp).ok());
  ASSERT_EQ(resp.results_size(), 1);
  ASSERT_EQ(resp.results(0).status_code(), 0) << resp.results(0).status_message();
  EXPECT_THAT(LeafSans(resp.results(0).svid().cert_chain(0)),
              ::testing::ElementsAre("URI:spiffe://example.org/web", "DNS:web.example.org"));
}

TEST_F(HostileNodeTest, CsrWithExtraSansGetsOnlyTheEntryNames) {
  std::string csr = CsrWithSans(
      key_.get(),
      "URI:spiffe://example.org/web,URI:spiffe://other.org/x,DNS:evil.example.com,IP:10.0.0.1,"
      "email:root@example.org");
  BatchNewX509SvidResponse resp;
  ASSERT_TRUE(Batch(entry_, csr, &resp).ok());
  ASSERT_EQ(resp.results(0).status_code(), 0) << resp.results(0).status_message();
  EXPECT_THAT(LeafSans(resp.results(0).svid().cert_chain(0)),
              ::testing::ElementsAre("URI:spiffe://example.org/web", "DNS:web.example.org"));
}

TEST_F(HostileNodeTest, CsrWithBadSignatureIsInvalidArgument) {
  std::string csr = CreateCsrDer(key_.get()).value();
  csr[csr.size() - 5] ^= 0x5a;  // inside the ECDSA signature
  BatchNewX509SvidResponse resp;
  ASSERT_TRUE(Batch(entry_, csr, &resp).ok());
  EXPECT_EQ(resp.results(0).status_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(resp.results(0).status_message(), "invalid CSR: "))
      << resp.results(0).status_message();
  EXPECT_FALSE(resp.results(0).has_svid());
}

TEST_F(HostileNodeTest, CsrSignedByAnotherKeyIsInvalidArgument) {
  // The CSR carries key_'s public key but is signed by another key.
  EvpPkeyPtr other = std::move(GenerateKey(KeyType::kEcP256)).value();
  X509ReqPtr req = ParseCsrDer(CreateCsrDer(key_.get()).value()).value();
  ASSERT_GT(X509_REQ_sign(req.get(), other.get(), EVP_sha256()), 0);
  X509_REQ_set_pubkey(req.get(), key_.get());
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  std::string csr(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  BatchNewX509SvidResponse resp;
  ASSERT_TRUE(Batch(entry_, csr, &resp).ok());
  EXPECT_EQ(resp.results(0).status_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(resp.results(0).status_message(), "invalid CSR: "))
      << resp.results(0).status_message();
}

TEST_F(HostileNodeTest, LargeCsrWithThousandsOfSansGetsOnlyTheEntryNames) {
  std::vector<std::string> sans;
  for (int i = 0; i < 5000; ++i) sans.push_back(absl::StrCat("DNS:h", i, ".evil.example.com"));
  std::string csr = CsrWithSans(key_.get(), absl::StrJoin(sans, ","));
  ASSERT_GT(csr.size(), 100000u);
  BatchNewX509SvidResponse resp;
  ASSERT_TRUE(Batch(entry_, csr, &resp).ok());
  ASSERT_EQ(resp.results(0).status_code(), 0) << resp.results(0).status_message();
  EXPECT_THAT(LeafSans(resp.results(0).svid().cert_chain(0)),
              ::testing::ElementsAre("URI:spiffe://example.org/web", "DNS:web.example.org"));
}

TEST_F(HostileNodeTest, RequestBeyondTheMessageLimitIsResourceExhausted) {
  // 17 MiB of garbage CSR: over the server's 16 MiB receive limit.
  BatchNewX509SvidResponse resp;
  grpc::Status s = Batch(entry_, std::string(17 << 20, 'A'), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  // The server is still there.
  EXPECT_EQ(server_.Cli({"healthcheck"}).exit_code, 0);
}

TEST_F(HostileNodeTest, EntryOfAnotherAgentIsPermissionDenied) {
  TestAgent other(server_.port(), server_.BundlePem());
  ASSERT_TRUE(other.Attest(server_.GenerateToken()).ok());
  std::string theirs = CreateEntry(other.id(), "spiffe://example.org/theirs");
  BatchNewX509SvidResponse resp;
  ASSERT_TRUE(Batch(theirs, CreateCsrDer(key_.get()).value(), &resp).ok());
  EXPECT_EQ(resp.results(0).status_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(resp.results(0).status_message(),
            absl::StrCat("entry ", theirs, " is not authorized for this agent"));
  EXPECT_FALSE(resp.results(0).has_svid());
}

TEST_F(HostileNodeTest, JwtForEntryOfAnotherAgentIsPermissionDenied) {
  TestAgent other(server_.port(), server_.BundlePem());
  ASSERT_TRUE(other.Attest(server_.GenerateToken()).ok());
  std::string theirs = CreateEntry(other.id(), "spiffe://example.org/theirs-jwt");
  signet::agent::NewJwtSvidRequest req;
  req.set_entry_id(theirs);
  req.add_audience("a");
  signet::agent::NewJwtSvidResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = agent_->Stub()->NewJwtSvid(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("is not authorized for this agent"));
  EXPECT_TRUE(resp.token().empty());
}

TEST_F(HostileNodeTest, SyncListsOnlyOwnEntries) {
  TestAgent other(server_.port(), server_.BundlePem());
  ASSERT_TRUE(other.Attest(server_.GenerateToken()).ok());
  CreateEntry(other.id(), "spiffe://example.org/theirs-sync");
  grpc::ClientContext ctx;
  auto sync = agent_->Stub()->Sync(&ctx, signet::agent::SyncRequest());
  signet::agent::SyncResponse first;
  ASSERT_TRUE(sync->Read(&first));
  ASSERT_EQ(first.entries_size(), 1);
  EXPECT_EQ(first.entries(0).spiffe_id(), "spiffe://example.org/web");
  ctx.TryCancel();
}

TEST_F(HostileNodeTest, MoreThanThousandBatchParamsIsInvalidArgument) {
  BatchNewX509SvidRequest req;
  std::string csr = CreateCsrDer(key_.get()).value();
  for (int i = 0; i < 1001; ++i) {
    auto* p = req.add_params();
    p->set_entry_id(entry_);
    p->set_csr(csr);
  }
  BatchNewX509SvidResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = agent_->Stub()->BatchNewX509Svid(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "too many params (at most 1000 per call)");
}

TEST_F(HostileNodeTest, HugePageSizeIsInvalidArgument) {
  auto admin = signet::admin::Admin::NewStub(
      grpc::CreateChannel("unix:" + server_.socket(), grpc::InsecureChannelCredentials()));
  signet::admin::ShowEntriesRequest req;
  req.set_page_size(1000000000);
  signet::admin::ShowEntriesResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = admin->ShowEntries(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "page_size must be between 0 and 1000");
}

TEST_F(HostileNodeTest, HugeAgentPageSizeIsInvalidArgument) {
  auto admin = signet::admin::Admin::NewStub(
      grpc::CreateChannel("unix:" + server_.socket(), grpc::InsecureChannelCredentials()));
  signet::admin::ListAgentsRequest req;
  req.set_page_size(1000000000);
  signet::admin::ListAgentsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = admin->ListAgents(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "page_size must be between 0 and 1000");
}

TEST_F(HostileNodeTest, DefaultPageSizeIsBounded) {
  // 1001 entries, page_size 0: at most 1000 come back with a next page token.
  auto admin = signet::admin::Admin::NewStub(
      grpc::CreateChannel("unix:" + server_.socket(), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 1001; ++i) {
    signet::admin::CreateEntryRequest c;
    auto* e = c.mutable_entry();
    e->set_spiffe_id(absl::StrCat("spiffe://example.org/bulk/", i));
    e->set_parent_id(agent_->id());
    auto* sel = e->add_selectors();
    sel->set_type("unix");
    sel->set_value("uid:1");
    signet::admin::EntryResponse r;
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->CreateEntry(&ctx, c, &r).ok());
  }
  signet::admin::ShowEntriesResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(admin->ShowEntries(&ctx, signet::admin::ShowEntriesRequest(), &resp).ok());
  EXPECT_EQ(resp.entries_size(), 1000);
  EXPECT_FALSE(resp.next_page_token().empty());
}

// S_client runs `openssl s_client` against the server's agent port with
// `args`, feeding it nothing, and returns its combined output.
std::string SClient(int port, const std::vector<std::string>& args) {
  std::vector<std::string> argv{
      "/usr/bin/openssl", "s_client", "-connect", absl::StrCat("127.0.0.1:", port), "-alpn", "h2"};
  argv.insert(argv.end(), args.begin(), args.end());
  testutil::ProcessOptions o;
  o.stdin_data = "";
  RunResult r = testutil::Run(argv, o, absl::Seconds(20));
  return r.out + r.err;
}

// The server offers no session resumption on the agent port (TLS 1.3 tickets,
// TLS 1.2 tickets or session IDs): a resumed session would skip the
// certificate exchange (server/tls_policy.h).
TEST_F(HostileNodeTest, TlsSessionResumptionIsNotOffered) {
  testutil::TempDir tmp;
  int spoken = 0;

  for (const char* version : {"-tls1_3", "-tls1_2"}) {
    std::string sess = tmp.File(absl::StrCat("sess", version));
    std::string first = SClient(server_.port(), {version, "-sess_out", sess});
    if (absl::StrContains(first, "no protocols available") ||
        absl::StrContains(first, "unsupported protocol") ||
        absl::StrContains(first, "wrong version number")) {
      continue;  // the server does not speak this version at all
    }
    ++spoken;
    ASSERT_THAT(first, HasSubstr("New,")) << first;
    if (access(sess.c_str(), F_OK) == 0) {
      // s_client kept a session: try to resume it, and the server must
      // insist on a full handshake.
      std::string second = SClient(server_.port(), {version, "-sess_in", sess});
      EXPECT_THAT(second, HasSubstr("New,")) << version << "\n" << second;
      EXPECT_THAT(second, ::testing::Not(HasSubstr("Reused,"))) << version << "\n" << second;
    } else {
      // Nothing to resume with: the first handshake carried no ticket and,
      // before TLS 1.3, no session ID.
      EXPECT_THAT(first, ::testing::Not(HasSubstr("TLS session ticket:"))) << version << first;
      if (std::string(version) == "-tls1_2") {
        EXPECT_THAT(first, ::testing::ContainsRegex("Session-ID: *\n")) << first;
      }
    }
  }
  EXPECT_GE(spoken, 1) << "the server spoke neither TLS 1.3 nor TLS 1.2";
}

}  // namespace
}  // namespace signet::servertest
