// grpc.health.v1.Health for the agent's Workload API socket, served on the
// synchronous API (see proto/grpc/health/v1/health.proto for why not gRPC's
// default health service). Only the overall status (service "") is known.
#ifndef SIGNET_AGENT_HEALTH_SERVICE_H_
#define SIGNET_AGENT_HEALTH_SERVICE_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace signet::agent {

// HealthService answers Check and Watch for service "". Thread-safe.
class HealthService final : public grpc::health::v1::Health::Service {
 public:
  // `watch_poll` bounds how long a Watch stream takes to notice that its
  // client went away.
  explicit HealthService(absl::Duration watch_poll = absl::Seconds(1)) : watch_poll_(watch_poll) {}

  void SetServing(bool serving) ABSL_LOCKS_EXCLUDED(mu_);

  // Check: the overall status; NotFound "unknown service" for any other name.
  grpc::Status Check(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::health::v1::HealthCheckResponse* resp) override;
  // Watch sends the status at once and again on every change until the
  // client cancels; SERVICE_UNKNOWN for any other name.
  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  const absl::Duration watch_poll_;
  absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_HEALTH_SERVICE_H_
