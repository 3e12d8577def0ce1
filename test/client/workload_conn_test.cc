#include "client/internal/workload_conn.h"

#include "gtest/gtest.h"
#include "test/client/fake_workload_api.h"

namespace signet::client::internal {
namespace {

using clienttest::TestCa;

void ExpectInvalid(const absl::StatusOr<X509Context>& r, const std::string& msg) {
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(msg), std::string::npos) << r.status();
}

TEST(ParseX509SvidResponseTest, Valid) {
  TestCa ca("example.org");
  X509SVIDResponse r = ca.Response("spiffe://example.org/web");
  TestCa fed("fed.org");
  (*r.mutable_federated_bundles())["spiffe://fed.org"] = fed.BundleDer();
  auto ctx = ParseX509SvidResponse(r);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ASSERT_EQ(ctx->svids.size(), 1u);
  EXPECT_EQ(ctx->svids[0]->id.ToString(), "spiffe://example.org/web");
  EXPECT_NE(ctx->bundles->Find(ca.td()), nullptr);
  EXPECT_NE(ctx->bundles->Find(fed.td()), nullptr);
}

TEST(ParseX509SvidResponseTest, NoSvids) {
  ExpectInvalid(ParseX509SvidResponse(X509SVIDResponse()), "no SVIDs in response");
}

TEST(ParseX509SvidResponseTest, DuplicateHintKeepsFirst) {
  TestCa ca("example.org");
  X509SVIDResponse r;
  *r.add_svids() = ca.Svid("spiffe://example.org/a", "h");
  *r.add_svids() = ca.Svid("spiffe://example.org/b", "h");
  *r.add_svids() = ca.Svid("spiffe://example.org/c", "");
  *r.add_svids() = ca.Svid("spiffe://example.org/d", "");
  auto ctx = ParseX509SvidResponse(r);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ASSERT_EQ(ctx->svids.size(), 3u);
  EXPECT_EQ(ctx->svids[0]->id.ToString(), "spiffe://example.org/a");
  EXPECT_EQ(ctx->svids[1]->id.ToString(), "spiffe://example.org/c");
}

TEST(ParseX509SvidResponseTest, KeyDoesNotMatchLeaf) {
  TestCa ca("example.org");
  X509SVIDResponse r = ca.Response("spiffe://example.org/web");
  r.mutable_svids(0)->set_x509_svid_key(ca.Svid("spiffe://example.org/web").x509_svid_key());
  ExpectInvalid(ParseX509SvidResponse(r),
                "leaf certificate public key does not match the private key");
}

TEST(ParseX509SvidResponseTest, CaCertAsLeaf) {
  TestCa ca("example.org");
  X509SVIDResponse r = ca.Response("spiffe://example.org/web");
  r.mutable_svids(0)->set_x509_svid(ca.BundleDer());
  ExpectInvalid(ParseX509SvidResponse(r), "invalid X509-SVID:");
}

TEST(ParseX509SvidResponseTest, FollowingCertNotCa) {
  TestCa ca("example.org");
  X509SVIDResponse r = ca.Response("spiffe://example.org/web");
  std::string leaf = r.svids(0).x509_svid();
  r.mutable_svids(0)->set_x509_svid(leaf + ca.Svid("spiffe://example.org/x").x509_svid());
  ExpectInvalid(ParseX509SvidResponse(r), "signing certificate must have CA flag set to true");
}

TEST(ParseX509SvidResponseTest, BadSpiffeIdField) {
  TestCa ca("example.org");
  X509SVIDResponse r = ca.Response("spiffe://example.org/web");
  r.mutable_svids(0)->set_spiffe_id("not-an-id");
  ExpectInvalid(ParseX509SvidResponse(r), "invalid spiffe_id");
}

TEST(ParseX509SvidResponseTest, BadKeyEncoding) {
  TestCa ca("example.org");
  X509SVIDResponse r = ca.Response("spiffe://example.org/web");
  r.mutable_svids(0)->set_x509_svid_key("garbage");
  ExpectInvalid(ParseX509SvidResponse(r), "invalid X509-SVID key");
}

TEST(ParseX509BundlesResponseTest, KeysAsIdOrName) {
  TestCa a("a.org"), b("b.org");
  X509BundlesResponse r;
  (*r.mutable_bundles())["spiffe://a.org"] = a.BundleDer();
  (*r.mutable_bundles())["b.org"] = b.BundleDer();
  auto set = ParseX509BundlesResponse(r);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_NE(set->Find(a.td()), nullptr);
  EXPECT_NE(set->Find(b.td()), nullptr);
}

TEST(ParseX509BundlesResponseTest, BadKey) {
  X509BundlesResponse r;
  (*r.mutable_bundles())["spiffe://A.org"] = "";
  EXPECT_EQ(ParseX509BundlesResponse(r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseJwtBundlesResponseTest, PlainJwks) {
  TestCa ca("example.org");
  JWTBundlesResponse r;
  (*r.mutable_bundles())["spiffe://example.org"] = ca.JwtJwks();
  auto set = ParseJwtBundlesResponse(r);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_NE(set->Find(ca.td()), nullptr);
  EXPECT_NE(set->Find(ca.td())->FindJwtAuthority("k1"), nullptr);
}

TEST(ParseJwtBundlesResponseTest, KeyWithoutKidRejectsWholeResponse) {
  TestCa ca("example.org");
  JWTBundlesResponse r;
  (*r.mutable_bundles())["spiffe://example.org"] = ca.JwtJwks();
  std::string jwks = ca.JwtJwks();
  size_t at = jwks.find("\"kid\"");
  ASSERT_NE(at, std::string::npos);
  jwks.replace(at, 5, "\"xid\"");
  (*r.mutable_bundles())["other.org"] = jwks;
  auto set = ParseJwtBundlesResponse(r);
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(set.status().message().find("keyID cannot be empty"), std::string::npos);
}

TEST(ParseJwtBundlesResponseTest, NotJson) {
  JWTBundlesResponse r;
  (*r.mutable_bundles())["example.org"] = "{";
  EXPECT_EQ(ParseJwtBundlesResponse(r).status().message(),
            "JWT bundle for \"example.org\" is not a JSON object");
}

TEST(ParseJwtSvidResponseTest, EmptyResponse) {
  auto r = ParseJwtSvidResponse(JWTSVIDResponse(), {"aud"}, absl::Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "there were no SVIDs in the response");
}

TEST(ParseJwtSvidResponseTest, WrongAudience) {
  TestCa ca("example.org");
  JWTSVIDResponse resp;
  resp.add_svids()->set_svid(ca.SignJwt("spiffe://example.org/web", {"other"}));
  auto r = ParseJwtSvidResponse(resp, {"aud"}, absl::Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("invalid JWT-SVID"), std::string::npos);
}

}  // namespace
}  // namespace signet::client::internal
