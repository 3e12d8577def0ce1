// Integration: x509pop node attestation against a real signet-server process
// configured with SPIRE's plugin_data nesting (chain to the configured CA,
// challenge/response, agent ID and selectors, refusals).
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"
#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

// NodePki is a root -> intermediate -> node certificate chain minted here.
struct NodePki {
  EvpPkeyPtr root_key, inter_key, leaf_key;
  X509Ptr root, inter, leaf;
  std::string Der(const X509Ptr& c) const { return CertToDer(c.get()).value(); }
  std::string ChainDer() const { return Der(leaf) + Der(inter); }
};

NodePki MakeNodePki(const std::string& cn) {
  const absl::Time now = absl::Now();
  TrustDomain td = TrustDomain::FromString("nodes.test").value();
  NodePki p;
  p.root_key = GenerateKey(KeyType::kEcP256).value();
  p.inter_key = GenerateKey(KeyType::kEcP256).value();
  p.leaf_key = GenerateKey(KeyType::kEcP256).value();
  p.root =
      CreateSelfSignedCa(p.root_key.get(), CaParams{td, "Node Root", "Test", now, absl::Hours(24)})
          .value();
  p.inter = CreateIntermediateCa(p.root.get(), p.root_key.get(), p.inter_key.get(),
                                 CaParams{td, "Node Intermediate", "Test", now, absl::Hours(12)})
                .value();
  LeafParams lp{
      SpiffeId::FromString("spiffe://nodes.test/node").value(), {cn}, now, absl::Hours(1)};
  p.leaf = IssueLeaf(p.inter.get(), p.inter_key.get(), p.leaf_key.get(), lp).value();
  return p;
}

std::string Sha1Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr), 1);
  return HexEncode(std::string(reinterpret_cast<char*>(md), len));
}

// SignWith returns the challenge response an agent sends: SHA-256 DER ECDSA.
std::function<std::string(const std::string&)> SignWith(const EVP_PKEY* key) {
  return [key](const std::string& data) {
    EvpMdCtxPtr md(EVP_MD_CTX_new());
    EXPECT_EQ(
        EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, const_cast<EVP_PKEY*>(key)),
        1);
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    EXPECT_EQ(EVP_DigestSign(md.get(), nullptr, &len, in, data.size()), 1);
    std::string sig(len, '\0');
    EXPECT_EQ(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                             data.size()),
              1);
    sig.resize(len);
    return sig;
  };
}

class ServerX509PopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakeNodePki("node1.example.org");
    const std::string ca_path = server_.dir().File("node-ca.pem");
    testutil::WriteFile(ca_path, CertToPem(pki_.root.get()).value());
    server_.SetNodeAttestors(
        "    join_token: {}\n    x509pop:\n      plugin_data:\n"
        "        ca_bundle_path: \"" +
        ca_path + "\"\n");
    ASSERT_TRUE(server_.Start()) << server_.Logs();
  }
  ServerProcess server_;
  NodePki pki_;
};

TEST_F(ServerX509PopTest, ValidChainAndSignatureGiveX509PopAgentIdAndSelectors) {
  TestAgent agent(server_.port(), server_.BundlePem());
  grpc::Status st = agent.AttestX509Pop(pki_.ChainDer(), SignWith(pki_.leaf_key.get()));
  ASSERT_TRUE(st.ok()) << st.error_message() << "\n" << server_.Logs();
  const std::string want_id =
      "spiffe://example.org/spire/agent/x509pop/" + Sha1Hex(pki_.Der(pki_.leaf));
  EXPECT_EQ(agent.id(), want_id);
  std::vector<std::string> sels;
  for (const auto& s : agent.result().selectors()) sels.push_back(s.type() + ":" + s.value());
  EXPECT_EQ(sels,
            (std::vector<std::string>{"x509pop:subject:cn:node1.example.org",
                                      "x509pop:ca:fingerprint:" + Sha1Hex(pki_.Der(pki_.inter)),
                                      "x509pop:ca:fingerprint:" + Sha1Hex(pki_.Der(pki_.root))}));

  // The agent SVID works for mTLS calls, and the server lists the agent.
  auto stub = agent.Stub();
  grpc::ClientContext ctx;
  signet::agent::FetchBundleResponse resp;
  grpc::Status fs = stub->FetchBundle(&ctx, signet::agent::FetchBundleRequest(), &resp);
  EXPECT_TRUE(fs.ok()) << fs.error_message();
  RunResult show = server_.Cli({"agent", "show", "-spiffeID", want_id});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("x509pop"), std::string::npos) << show.out;

  // Re-attestation with the same node certificate is allowed (same ID).
  TestAgent again(server_.port(), server_.BundlePem());
  st = again.AttestX509Pop(pki_.ChainDer(), SignWith(pki_.leaf_key.get()));
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.id(), want_id);
}

TEST_F(ServerX509PopTest, ChainToAnotherCaIsPermissionDenied) {
  NodePki other = MakeNodePki("node1.example.org");
  TestAgent agent(server_.port(), server_.BundlePem());
  bool challenged = false;
  grpc::Status st = agent.AttestX509Pop(other.ChainDer(), [&](const std::string& c) {
    challenged = true;
    return SignWith(other.leaf_key.get())(c);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(),
            "x509pop: certificate chain verification failed: unable to get local issuer "
            "certificate");
  EXPECT_FALSE(challenged);  // no challenge for an untrusted chain
}

TEST_F(ServerX509PopTest, WrongChallengeSignatureIsPermissionDenied) {
  EvpPkeyPtr wrong = GenerateKey(KeyType::kEcP256).value();
  TestAgent agent(server_.port(), server_.BundlePem());
  grpc::Status st = agent.AttestX509Pop(pki_.ChainDer(), SignWith(wrong.get()));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(), "x509pop: challenge response verification failed");
  EXPECT_TRUE(agent.id().empty());
}

TEST_F(ServerX509PopTest, BannedNodeCannotReattest) {
  TestAgent agent(server_.port(), server_.BundlePem());
  ASSERT_TRUE(agent.AttestX509Pop(pki_.ChainDer(), SignWith(pki_.leaf_key.get())).ok());
  ASSERT_EQ(server_.Cli({"agent", "ban", "-spiffeID", agent.id()}).exit_code, 0);
  TestAgent again(server_.port(), server_.BundlePem());
  grpc::Status st = again.AttestX509Pop(pki_.ChainDer(), SignWith(pki_.leaf_key.get()));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(), "agent is banned");
}

}  // namespace
}  // namespace signet::servertest
