#include "agent/health_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/server_builder.h>

#include <memory>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.RegisterService(&health_);
    server_ = b.BuildAndStart();
    stub_ = Health::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return c;
  }

  HealthService health_{absl::Milliseconds(20)};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, CheckFollowsServingStatus) {
  HealthCheckResponse r;
  ASSERT_TRUE(stub_->Check(Ctx().get(), HealthCheckRequest(), &r).ok());
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
  health_.SetServing(true);
  ASSERT_TRUE(stub_->Check(Ctx().get(), HealthCheckRequest(), &r).ok());
  EXPECT_EQ(r.status(), HealthCheckResponse::SERVING);
  health_.SetServing(false);
  ASSERT_TRUE(stub_->Check(Ctx().get(), HealthCheckRequest(), &r).ok());
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, CheckOfAnotherServiceIsNotFound) {
  HealthCheckRequest req;
  req.set_service("SpiffeWorkloadAPI");
  HealthCheckResponse r;
  grpc::Status s = stub_->Check(Ctx().get(), req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "unknown service");
}

TEST_F(HealthServiceTest, WatchSendsTheStatusAndEveryChangeUntilCancelled) {
  auto ctx = Ctx();
  auto reader = stub_->Watch(ctx.get(), HealthCheckRequest());
  HealthCheckResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
  health_.SetServing(true);
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status(), HealthCheckResponse::SERVING);
  health_.SetServing(false);
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
  ctx->TryCancel();
  EXPECT_FALSE(reader->Read(&r));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(HealthServiceTest, WatchOfAnotherServiceSaysServiceUnknown) {
  auto ctx = Ctx();
  HealthCheckRequest req;
  req.set_service("nope");
  auto reader = stub_->Watch(ctx.get(), req);
  HealthCheckResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  ctx->TryCancel();
  (void)reader->Finish();
}

}  // namespace
}  // namespace signet::agent
