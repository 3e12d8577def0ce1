#include "client/jwt_source.h"

#include "gtest/gtest.h"
#include "test/client/fake_workload_api.h"

namespace signet::client {
namespace {

using clienttest::FakeWorkloadApi;
using clienttest::TestCa;

class JwtSourceTest : public ::testing::Test {
 protected:
  JwtSourceTest() {
    JWTBundlesResponse r;
    (*r.mutable_bundles())["spiffe://example.org"] = ca_.JwtJwks();
    api_.PushJwtBundles(r);
    opts_.address = api_.Address();
    opts_.backoff_unit = absl::Milliseconds(10);
  }
  TestCa ca_{"example.org"};
  FakeWorkloadApi api_;
  WorkloadApiOptions opts_;
};

TEST_F(JwtSourceTest, FetchesTokenWithHeaderAndAudience) {
  JWTSVIDResponse resp;
  JWTSVID* s = resp.add_svids();
  s->set_spiffe_id("spiffe://example.org/web");
  s->set_svid(ca_.SignJwt("spiffe://example.org/web", {"db", "extra"}));
  api_.SetJwtSvidResponse(grpc::Status::OK, resp);
  auto src = JwtSource::Create(opts_);
  ASSERT_TRUE(src.ok()) << src.status();
  auto tok = (*src)->FetchJwtSvid("db", "spiffe://example.org/web", {"extra"});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(tok->svid.subject.ToString(), "spiffe://example.org/web");
  JWTSVIDRequest req = api_.last_jwt_request();
  ASSERT_EQ(req.audience_size(), 2);
  EXPECT_EQ(req.audience(0), "db");
  EXPECT_EQ(req.spiffe_id(), "spiffe://example.org/web");
  EXPECT_EQ(api_.MissingHeader(), 0);
  // And the token validates offline against the source's bundles.
  auto v = (*src)->ValidateJwtSvid(tok->token, "db");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->subject.ToString(), "spiffe://example.org/web");
}

TEST_F(JwtSourceTest, FetchReturnsRpcStatus) {
  api_.SetJwtSvidResponse(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no identity issued"));
  auto src = JwtSource::Create(opts_);
  ASSERT_TRUE(src.ok()) << src.status();
  auto tok = (*src)->FetchJwtSvid("db");
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(tok.status().message(), "no identity issued");
}

TEST_F(JwtSourceTest, FetchRequiresAudience) {
  auto tok = FetchJwtSvids(opts_, {});
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tok.status().message(), "audience is required");
}

TEST_F(JwtSourceTest, ValidateRejectsWrongAudience) {
  auto src = JwtSource::Create(opts_);
  ASSERT_TRUE(src.ok()) << src.status();
  auto v = (*src)->ValidateJwtSvid(ca_.SignJwt("spiffe://example.org/web", {"db"}), "other");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JwtSourceTest, ValidateRejectsTokenOfUntrustedDomain) {
  TestCa other("other.org");
  auto src = JwtSource::Create(opts_);
  ASSERT_TRUE(src.ok()) << src.status();
  auto v = (*src)->ValidateJwtSvid(other.SignJwt("spiffe://other.org/web", {"db"}), "db");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JwtSourceTest, ValidateWithoutBundlesIsUnavailable) {
  struct NoBundles : JwtBundleSource {
    std::shared_ptr<const BundleSet> GetJwtBundles() const override { return nullptr; }
  } none;
  auto v = ValidateJwtSvid("x.y.z", "db", none);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace signet::client
