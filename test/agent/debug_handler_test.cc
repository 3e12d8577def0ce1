#include "agent/debug_handler.h"

#include <memory>

#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

TEST(BuildGetInfoResponseTest, ChainUptimeSyncAndCounts) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  EvpPkeyPtr ca_key = *GenerateKey(KeyType::kEcP256);
  CaParams cp{*TrustDomain::FromString("example.org"), "Test CA", "SPIFFE", now - absl::Hours(1),
              absl::Hours(24)};
  X509Ptr ca = *CreateSelfSignedCa(ca_key.get(), cp);
  EvpPkeyPtr key = *GenerateKey(KeyType::kEcP256);
  LeafParams lp{*SpiffeId::FromString("spiffe://example.org/spire/agent/join_token/t1"),
                {},
                now - absl::Minutes(1),
                absl::Hours(1)};
  X509Ptr leaf = *IssueLeaf(ca.get(), ca_key.get(), key.get(), lp);

  AgentDebugInfo info;
  info.svid_chain.push_back(std::shared_ptr<const X509>(CopyCert(leaf.get()).release(), X509_free));
  info.svid_chain.push_back(std::shared_ptr<const X509>(CopyCert(ca.get()).release(), X509_free));
  info.started = now - absl::Seconds(42) - absl::Milliseconds(700);
  info.last_sync = now - absl::Seconds(3);
  info.cached_x509_svids = 5;
  info.cached_jwt_svids = 2;

  auto resp = BuildGetInfoResponse(info, now);
  ASSERT_EQ(resp.svid_chain_size(), 2);
  EXPECT_EQ(resp.svid_chain(0).id().trust_domain(), "example.org");
  EXPECT_EQ(resp.svid_chain(0).id().path(), "/spire/agent/join_token/t1");
  EXPECT_EQ(resp.svid_chain(0).expires_at(), absl::ToUnixSeconds(CertNotAfter(leaf.get())));
  EXPECT_EQ(resp.svid_chain(0).subject(), "O=SPIFFE");
  // The CA's ID is the trust domain's (empty path); its subject lists the
  // most specific RDN first.
  EXPECT_EQ(resp.svid_chain(1).id().trust_domain(), "example.org");
  EXPECT_EQ(resp.svid_chain(1).id().path(), "");
  EXPECT_EQ(resp.svid_chain(1).subject(), "CN=Test CA,O=SPIFFE");
  EXPECT_EQ(resp.uptime(), 42);
  EXPECT_EQ(resp.last_sync_success(), 1700000000 - 3);
  EXPECT_EQ(resp.svids_count(), 5);
  EXPECT_EQ(resp.cached_x509_svids_count(), 5);
  EXPECT_EQ(resp.cached_jwt_svids_count(), 2);
  EXPECT_EQ(resp.cached_svidstore_x509_svids_count(), 0);
}

TEST(BuildGetInfoResponseTest, BeforeAttestationAndFirstSync) {
  AgentDebugInfo info;
  info.started = absl::Now();
  auto resp = BuildGetInfoResponse(info, info.started);
  EXPECT_EQ(resp.svid_chain_size(), 0);
  EXPECT_EQ(resp.uptime(), 0);
  EXPECT_EQ(resp.last_sync_success(), 0);
  EXPECT_EQ(resp.cached_x509_svids_count(), 0);
}

}  // namespace
}  // namespace signet::agent
