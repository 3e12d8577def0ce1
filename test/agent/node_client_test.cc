// The agent's TLS credentials for the server: every combination of trust
// bundle and agent identity either builds credentials or is refused with a
// Status; none reaches one of gRPC's assertions (an empty certificate
// provider aborts the process).
#include "agent/node_client.h"

#include <memory>
#include <string>

#include "common/bundle.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/spiffe_id.h"
#include "common/x509.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

class ServerChannelCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<EvpPkeyPtr> ca_key = GenerateKey(KeyType::kEcP256);
    ASSERT_TRUE(ca_key.ok()) << ca_key.status();
    CaParams cp{td_, "Signet CA", "SPIFFE", absl::Now(), absl::Hours(1)};
    absl::StatusOr<X509Ptr> ca = CreateSelfSignedCa(ca_key->get(), cp);
    ASSERT_TRUE(ca.ok()) << ca.status();
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcP256);
    ASSERT_TRUE(key.ok()) << key.status();
    LeafParams lp{*SpiffeId::FromString("spiffe://example.org/spire/agent/join_token/t"),
                  {},
                  absl::Now(),
                  absl::Minutes(30)};
    absl::StatusOr<X509Ptr> leaf = IssueLeaf(ca->get(), ca_key->get(), key->get(), lp);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    bundle_.AddX509Authority(CopyCert(ca->get()));
    identity_.chain.push_back(std::move(*leaf));
    identity_.key = std::move(*key);
  }

  const TrustDomain td_ = *TrustDomain::FromString("example.org");
  Bundle bundle_{td_};
  AgentIdentity identity_;
};

TEST_F(ServerChannelCredentialsTest, InsecureBootstrapWithoutIdentityBuilds) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
      ServerChannelCredentials(td_, nullptr, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(*c, nullptr);
  // The channel too (gRPC asserted here before: a provider with no roots and
  // no identity).
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ch =
      NewServerChannel("127.0.0.1:1", td_, nullptr, nullptr);
  ASSERT_TRUE(ch.ok()) << ch.status();
  EXPECT_NE(*ch, nullptr);
}

TEST_F(ServerChannelCredentialsTest, NoBundleWithIdentityBuilds) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
      ServerChannelCredentials(td_, nullptr, &identity_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(*c, nullptr);
}

TEST_F(ServerChannelCredentialsTest, BundleWithoutIdentityBuilds) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
      ServerChannelCredentials(td_, &bundle_, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(*c, nullptr);
}

TEST_F(ServerChannelCredentialsTest, BundleAndIdentityBuild) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
      ServerChannelCredentials(td_, &bundle_, &identity_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(*c, nullptr);
}

TEST_F(ServerChannelCredentialsTest, BundleWithoutX509AuthorityIsRefused) {
  Bundle empty(td_);
  for (const AgentIdentity* id : {static_cast<const AgentIdentity*>(nullptr),
                                  static_cast<const AgentIdentity*>(&identity_)}) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
        ServerChannelCredentials(td_, &empty, id);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(c.status().message(),
              "the trust bundle of example.org holds no X.509 authority to verify the server");
    absl::StatusOr<std::shared_ptr<grpc::Channel>> ch =
        NewServerChannel("127.0.0.1:1", td_, &empty, id);
    EXPECT_EQ(ch.status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST_F(ServerChannelCredentialsTest, IdentityWithoutCertificateIsRefused) {
  AgentIdentity no_chain;
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcP256);
  ASSERT_TRUE(key.ok());
  no_chain.key = std::move(*key);
  for (const Bundle* b :
       {static_cast<const Bundle*>(nullptr), static_cast<const Bundle*>(&bundle_)}) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
        ServerChannelCredentials(td_, b, &no_chain);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(c.status().message(), "the agent identity has no certificate or no key");
  }
}

TEST_F(ServerChannelCredentialsTest, IdentityWithoutKeyIsRefused) {
  AgentIdentity no_key;
  no_key.chain.push_back(CopyCert(identity_.chain[0].get()));
  for (const Bundle* b :
       {static_cast<const Bundle*>(nullptr), static_cast<const Bundle*>(&bundle_)}) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
        ServerChannelCredentials(td_, b, &no_key);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(c.status().message(), "the agent identity has no certificate or no key");
  }
}

}  // namespace
}  // namespace signet::agent
