#include "agent/health_service.h"

namespace signet::agent {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

void HealthService::SetServing(bool serving) {
  absl::MutexLock l(&mu_);
  if (serving_ == serving) return;
  serving_ = serving;
  ++version_;
}

grpc::Status HealthService::Check(grpc::ServerContext*, const HealthCheckRequest* req,
                                  HealthCheckResponse* resp) {
  if (!req->service().empty()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
  absl::MutexLock l(&mu_);
  resp->set_status(serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx, const HealthCheckRequest* req,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  const bool known = req->service().empty();
  uint64_t seen = 0;
  bool first = true;
  while (!ctx->IsCancelled()) {
    HealthCheckResponse resp;
    {
      absl::MutexLock l(&mu_);
      if (!first) {
        auto changed = [this, seen]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return version_ != seen; };
        if (!mu_.AwaitWithTimeout(absl::Condition(&changed), watch_poll_)) continue;
      }
      seen = version_;
      if (!known) {
        if (!first) continue;  // an unknown service never changes
        resp.set_status(HealthCheckResponse::SERVICE_UNKNOWN);
      } else {
        resp.set_status(serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
      }
    }
    first = false;
    if (!writer->Write(resp)) break;
  }
  return grpc::Status::CANCELLED;
}

}  // namespace signet::agent
