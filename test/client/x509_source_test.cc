#include "client/x509_source.h"

#include "absl/synchronization/notification.h"
#include "client/internal/workload_conn.h"
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

TEST(X509SourceTest, BlocksUntilFirstMessage) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  absl::Notification done;
  absl::StatusOr<std::unique_ptr<X509Source>> src;
  std::thread t([&] {
    src = X509Source::Create(Opts(api));
    done.Notify();
  });
  ASSERT_TRUE(api.WaitCalls("FetchX509SVID", 1));
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  api.PushX509(ca.Response("spiffe://example.org/web"));
  t.join();
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_EQ((*src)->GetX509Svid()->id.ToString(), "spiffe://example.org/web");
  ASSERT_NE((*src)->GetX509Bundles()->Find(ca.td()), nullptr);
  EXPECT_EQ(api.MissingHeader(), 0);
}

TEST(X509SourceTest, TimesOutWithoutMessage) {
  FakeWorkloadApi api;
  WorkloadApiOptions o = Opts(api);
  o.initial_timeout = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<X509Source>> src = X509Source::Create(o);
  EXPECT_EQ(src.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(src.status().message().find("timed out waiting for the first X.509 context"),
            std::string::npos);
}

TEST(X509SourceTest, MissingAddressFails) {
  unsetenv("SPIFFE_ENDPOINT_SOCKET");
  absl::StatusOr<std::unique_ptr<X509Source>> src = X509Source::Create({});
  EXPECT_EQ(src.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(src.status().message(), "workload endpoint socket address is not configured");
}

TEST(X509SourceTest, AddressFromEnvironment) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509(ca.Response("spiffe://example.org/web"));
  setenv("SPIFFE_ENDPOINT_SOCKET", api.Address().c_str(), 1);
  WorkloadApiOptions o = Opts(api);
  o.address = "";
  absl::StatusOr<std::unique_ptr<X509Source>> src = X509Source::Create(o);
  unsetenv("SPIFFE_ENDPOINT_SOCKET");
  ASSERT_TRUE(src.ok()) << src.status();
}

TEST(X509SourceTest, InvalidArgumentFailsFactoryAtOnce) {
  FakeWorkloadApi api;
  api.PushX509(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "security header missing"));
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<X509Source>> src = X509Source::Create(Opts(api));
  EXPECT_EQ(src.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(src.status().message(), "security header missing");
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(api.Calls("FetchX509SVID"), 1);  // no retry
}

TEST(X509SourceTest, RetriesAfterPermissionDeniedAtStartup) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no identity issued"));
  api.PushX509(grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent starting"));
  api.PushX509(ca.Response("spiffe://example.org/web"));
  absl::StatusOr<std::unique_ptr<X509Source>> src = X509Source::Create(Opts(api));
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_EQ(api.Calls("FetchX509SVID"), 3);
  EXPECT_EQ(api.MissingHeader(), 0);
}

TEST(X509SourceTest, UpdatesAfterRotation) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509(ca.Response("spiffe://example.org/web"));
  auto src = X509Source::Create(Opts(api));
  ASSERT_TRUE(src.ok()) << src.status();
  std::string first = CertSerialHex((*src)->GetX509Svid()->chain[0].get());
  absl::Notification updated;
  (*src)->AddUpdateCallback([&](const X509Context& ctx) {
    if (!updated.HasBeenNotified()) updated.Notify();
  });
  api.PushX509(ca.Response("spiffe://example.org/web"));
  ASSERT_TRUE(updated.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_NE(CertSerialHex((*src)->GetX509Svid()->chain[0].get()), first);
}

TEST(X509SourceTest, KeepsMaterialAfterPermissionDeniedAndReconnects) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509(ca.Response("spiffe://example.org/web"));
  auto src = X509Source::Create(Opts(api));
  ASSERT_TRUE(src.ok()) << src.status();
  std::string first = CertSerialHex((*src)->GetX509Svid()->chain[0].get());
  api.PushX509(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "entry deleted"));
  ASSERT_TRUE(api.WaitCalls("FetchX509SVID", 2));  // reconnected after the error
  EXPECT_EQ((*src)->last_error().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CertSerialHex((*src)->GetX509Svid()->chain[0].get()), first);
  absl::Notification updated;
  (*src)->AddUpdateCallback([&](const X509Context&) {
    if (!updated.HasBeenNotified()) updated.Notify();
  });
  api.PushX509(ca.Response("spiffe://example.org/db"));
  ASSERT_TRUE(updated.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ((*src)->GetX509Svid()->id.ToString(), "spiffe://example.org/db");
}

TEST(X509SourceTest, ReconnectsAfterCleanEndOfStream) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509(ca.Response("spiffe://example.org/web"));
  auto src = X509Source::Create(Opts(api));
  ASSERT_TRUE(src.ok()) << src.status();
  api.PushX509(grpc::Status::OK);
  ASSERT_TRUE(api.WaitCalls("FetchX509SVID", 2));
  EXPECT_EQ((*src)->last_error().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(api.MissingHeader(), 0);
}

TEST(X509SourceTest, SkipsInvalidMessageAndKeepsStream) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509(ca.Response("spiffe://example.org/web"));
  auto src = X509Source::Create(Opts(api));
  ASSERT_TRUE(src.ok()) << src.status();
  api.PushX509(X509SVIDResponse());  // no SVIDs: invalid
  ASSERT_TRUE(testutil::WaitFor([&] { return !(*src)->last_error().ok(); }));
  EXPECT_EQ((*src)->last_error().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*src)->last_error().message(), "no SVIDs in response");
  EXPECT_EQ((*src)->GetX509Svid()->id.ToString(), "spiffe://example.org/web");
  absl::Notification updated;
  (*src)->AddUpdateCallback([&](const X509Context&) {
    if (!updated.HasBeenNotified()) updated.Notify();
  });
  api.PushX509(ca.Response("spiffe://example.org/db"));
  ASSERT_TRUE(updated.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(api.Calls("FetchX509SVID"), 1);  // same stream
}

TEST(X509SourceTest, CanceledStopsWatching) {
  TestCa ca("example.org");
  FakeWorkloadApi api;
  api.PushX509(grpc::Status(grpc::StatusCode::CANCELLED, "bye"));
  auto src = X509Source::Create(Opts(api));
  EXPECT_EQ(src.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(api.Calls("FetchX509SVID"), 1);
}

TEST(LinearBackoffTest, LinearAndCappedAndReset) {
  LinearBackoff b(absl::Seconds(1));
  EXPECT_EQ(b.Next(), absl::Seconds(1));
  EXPECT_EQ(b.Next(), absl::Seconds(2));
  EXPECT_EQ(b.Next(), absl::Seconds(3));
  for (int i = 0; i < 40; ++i) b.Next();
  EXPECT_EQ(b.Next(), absl::Seconds(30));
  b.Reset();
  EXPECT_EQ(b.Next(), absl::Seconds(1));
}

}  // namespace
}  // namespace signet::client
