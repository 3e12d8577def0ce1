#include "client/bundle_source.h"

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "test/client/fake_workload_api.h"

namespace signet::client {
namespace {

using clienttest::FakeWorkloadApi;
using clienttest::TestCa;

WorkloadApiOptions Opts(const FakeWorkloadApi& api) {
  WorkloadApiOptions o;
  o.address = api.Address();
  o.backoff_unit = absl::Milliseconds(10);
  o.initial_timeout = absl::Seconds(10);
  return o;
}

X509BundlesResponse X509Bundles(const TestCa& ca) {
  X509BundlesResponse r;
  (*r.mutable_bundles())[ca.td().IdString()] = ca.BundleDer();
  return r;
}

JWTBundlesResponse JwtBundles(const TestCa& ca) {
  JWTBundlesResponse r;
  (*r.mutable_bundles())[ca.td().IdString()] = ca.JwtJwks();
  return r;
}

TEST(BundleSourceTest, NeedsBothStreams) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509Bundles(X509Bundles(ca));
  WorkloadApiOptions o = Opts(api);
  o.initial_timeout = absl::Milliseconds(300);
  auto src = BundleSource::Create(o);
  EXPECT_EQ(src.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(src.status().message().find("timed out waiting for the first JWT bundles"),
            std::string::npos);
}

TEST(BundleSourceTest, ServesBothKindsSeparately) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509Bundles(X509Bundles(ca));
  api.PushJwtBundles(JwtBundles(ca));
  auto src = BundleSource::Create(Opts(api));
  ASSERT_TRUE(src.ok()) << src.status();
  const Bundle* x = (*src)->GetX509Bundles()->Find(ca.td());
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->x509_authorities().size(), 1u);
  EXPECT_TRUE(x->jwt_authorities().empty());  // F17
  const Bundle* j = (*src)->GetJwtBundles()->Find(ca.td());
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->x509_authorities().empty());
  auto both = (*src)->GetBundleForTrustDomain(ca.td());
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->x509_authorities().size(), 1u);
  EXPECT_EQ(both->jwt_authorities().size(), 1u);
  auto none = (*src)->GetBundleForTrustDomain(*TrustDomain::FromString("nope.org"));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(api.MissingHeader(), 0);
}

TEST(BundleSourceTest, InvalidArgumentFailsAtOnce) {
  FakeWorkloadApi api;
  api.PushJwtBundles(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no header"));
  auto src = BundleSource::Create(Opts(api));
  EXPECT_EQ(src.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(src.status().message(), "no header");
}

TEST(BundleSourceTest, FederationDroppedInLaterMessage) {
  TestCa ca("example.org"), fed("fed.org");
  FakeWorkloadApi api;
  X509BundlesResponse first = X509Bundles(ca);
  (*first.mutable_bundles())[fed.td().IdString()] = fed.BundleDer();
  api.PushX509Bundles(first);
  api.PushJwtBundles(JwtBundles(ca));
  auto src = BundleSource::Create(Opts(api));
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_NE((*src)->GetX509Bundles()->Find(fed.td()), nullptr);
  absl::Notification n;
  (*src)->AddUpdateCallback([&] {
    if (!n.HasBeenNotified()) n.Notify();
  });
  api.PushX509Bundles(X509Bundles(ca));
  ASSERT_TRUE(n.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ((*src)->GetX509Bundles()->Find(fed.td()), nullptr);  // F5
}

TEST(BundleSourceTest, KeepsBundlesOnErrorAndInvalidMessage) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509Bundles(X509Bundles(ca));
  api.PushJwtBundles(JwtBundles(ca));
  auto src = BundleSource::Create(Opts(api));
  ASSERT_TRUE(src.ok()) << src.status();
  JWTBundlesResponse bad;
  (*bad.mutable_bundles())["example.org"] = "{\"keys\":[{\"kty\":\"EC\"}]}";
  api.PushJwtBundles(bad);
  api.PushX509Bundles(grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent restarting"));
  ASSERT_TRUE(api.WaitCalls("FetchX509Bundles", 2));
  ASSERT_TRUE(testutil::WaitFor([&] { return !(*src)->last_error().ok(); }));
  EXPECT_NE((*src)->GetJwtBundles()->Find(ca.td())->FindJwtAuthority("k1"), nullptr);
  EXPECT_NE((*src)->GetX509Bundles()->Find(ca.td()), nullptr);
}

}  // namespace
}  // namespace signet::client
