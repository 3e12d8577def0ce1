// Integration: CA rotation of a real server with a tiny ca_ttl. The next
// authority is published in the bundle before it signs anything, then
// activated; every SVID ever minted verifies against the bundle fetched
// right after it (no gap).
#include <set>

#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

// IssuerIndex returns the index of the bundle authority that verifies
// `leaf`, or -1.
int IssuerIndex(const X509* leaf, const Bundle& b) {
  for (size_t i = 0; i < b.x509_authorities().size(); ++i) {
    Bundle one(b.trust_domain());
    one.AddX509Authority(CopyCert(b.x509_authorities()[i].get()));
    BundleSet set;
    set.Put(one);
    std::vector<X509Ptr> chain;
    chain.push_back(CopyCert(leaf));
    if (VerifyX509Svid(chain, set, absl::Now()).ok()) return static_cast<int>(i);
  }
  return -1;
}

TEST(ServerRotationTest, PreparePublishActivateWithoutGap) {
  ServerProcess server(
      "  ca_ttl: \"12s\"\n  default_x509_svid_ttl: \"2s\"\n  default_jwt_svid_ttl: \"2s\"\n");
  ASSERT_TRUE(server.Start()) << server.Logs();
  TrustDomain td = TrustDomain::FromString("example.org").value();

  std::set<std::string> published_before_use;  // authorities seen in a bundle
  std::string first_issuer;
  std::vector<std::string> issuers;  // distinct issuers in order of use
  uint64_t last_seq = 0;
  int max_authorities = 0;
  absl::Time end = absl::Now() + absl::Seconds(22);
  int checks = 0;
  while (absl::Now() < end) {
    RunResult m = server.Cli({"x509", "mint", "-spiffeID", "spiffe://example.org/w", "-ttl", "4"});
    ASSERT_EQ(m.exit_code, 0) << m.err;
    X509Ptr leaf = std::move(ParseCertsPem(m.out).value()[0]);
    RunResult bs = server.Cli({"bundle", "show", "-format", "spiffe"});
    ASSERT_EQ(bs.exit_code, 0) << bs.err;
    Bundle b = Bundle::ParseJwks(td, bs.out).value();
    ASSERT_TRUE(b.sequence_number().has_value());
    EXPECT_GE(*b.sequence_number(), last_seq);
    last_seq = *b.sequence_number();
    max_authorities = std::max<int>(max_authorities, static_cast<int>(b.x509_authorities().size()));

    int idx = IssuerIndex(leaf.get(), b);
    ASSERT_GE(idx, 0) << "SVID minted at check " << checks << " does not verify against the bundle";
    std::string issuer = CertToDer(b.x509_authorities()[idx].get()).value();
    if (issuers.empty() || issuers.back() != issuer) {
      if (!issuers.empty()) {
        // A new authority signs: it must have been published earlier.
        EXPECT_TRUE(published_before_use.count(issuer)) << "authority used before it was published";
      }
      issuers.push_back(issuer);
    }
    for (const X509Ptr& c : b.x509_authorities()) {
      published_before_use.insert(CertToDer(c.get()).value());
    }
    ++checks;
    absl::SleepFor(absl::Milliseconds(200));  // sampling interval, not synchronisation
  }
  EXPECT_GE(issuers.size(), 2u) << "no activation observed in " << checks << " checks";
  EXPECT_GE(max_authorities, 2) << "next authority never published alongside the current one";
  EXPECT_GE(last_seq, 3u);
  EXPECT_NE(server.Logs().find("X.509 CA activated"), std::string::npos);
}

}  // namespace
}  // namespace signet::servertest
