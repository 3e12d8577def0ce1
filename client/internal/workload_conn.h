// Internal plumbing of the client library (not installed): the Workload API
// channel, response parsing as go-spiffe does it, and the stream watcher that
// reconnects with go-spiffe's rules (checklist Part 4).
#ifndef SIGNET_CLIENT_INTERNAL_WORKLOAD_CONN_H_
#define SIGNET_CLIENT_INTERNAL_WORKLOAD_CONN_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/workload_api.h"
#include "workload/workload.grpc.pb.h"

namespace signet::client::internal {

// WorkloadConn is a channel and stub to the Workload API. Thread-safe.
class WorkloadConn {
 public:
  // Create resolves the address (option, else $SPIFFE_ENDPOINT_SOCKET) and
  // creates a plaintext channel. FailedPrecondition when no address is
  // configured, InvalidArgument when it is malformed.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<WorkloadConn>> Create(
      const WorkloadApiOptions& options);

  SpiffeWorkloadAPI::Stub* stub() { return stub_.get(); }
  const WorkloadApiOptions& options() const { return options_; }

  // NewContext returns a ClientContext carrying the security header (E3) and,
  // when `timeout` is non-zero, a deadline.
  static std::unique_ptr<grpc::ClientContext> NewContext(
      absl::Duration timeout = absl::ZeroDuration());

 private:
  WorkloadConn(WorkloadApiOptions options, std::shared_ptr<grpc::Channel> channel);
  const WorkloadApiOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<SpiffeWorkloadAPI::Stub> stub_;
};

// ParseX509SvidResponse validates a response as go-spiffe's parseX509Context:
// non-empty svids, later duplicates of a non-empty hint skipped, each chain
// with exactly one URI SAN, a non-root path, leaf cA=false with
// digitalSignature and without keyCertSign/cRLSign, following certs
// cA=true+keyCertSign, key matching the leaf; bundle keyed by the trust domain
// of spiffe_id; federated bundles keyed "spiffe://td" or "td".
// InvalidArgument naming the defect.
[[nodiscard]] absl::StatusOr<X509Context> ParseX509SvidResponse(const X509SVIDResponse& resp);

// ParseX509BundlesResponse: keys parsed as trust domains, values concatenated
// DER (empty -> empty bundle). InvalidArgument on a bad key or certificate.
[[nodiscard]] absl::StatusOr<BundleSet> ParseX509BundlesResponse(const X509BundlesResponse& resp);

// ParseJwtBundlesResponse: each value a plain JWKS; every key must have a
// non-empty kid (else the whole response is rejected, as go-spiffe);
// "use" is ignored. InvalidArgument naming the defect.
[[nodiscard]] absl::StatusOr<BundleSet> ParseJwtBundlesResponse(const JWTBundlesResponse& resp);

// ParseJwtSvidResponse parses every token of the response insecurely against
// `audiences` (go-spiffe ParseInsecure), deduplicating non-empty hints.
// InvalidArgument "no SVIDs in response" when empty or on a bad token.
[[nodiscard]] absl::StatusOr<std::vector<JwtSvidToken>> ParseJwtSvidResponse(
    const JWTSVIDResponse& resp, const std::vector<std::string>& audiences, absl::Time now);

// StreamWatcher runs one server-streaming Workload API call on a background
// thread, forever: each message goes to `on_message` (a non-OK return means
// the message was invalid: it is reported to `on_error` and skipped, the
// stream stays open); after each successful receive the backoff resets. When
// the stream ends: Canceled -> stop; InvalidArgument -> stop with that error
// (no retry); anything else, a clean end included -> `on_error`, then retry
// after the linear backoff. Thread-safe; Stop() joins the thread.
class StreamWatcher {
 public:
  // Opens the stream on `ctx` and reads messages into the callback until it
  // ends; returns the final status. Implemented per RPC by the sources.
  using RunStream = std::function<grpc::Status(grpc::ClientContext* ctx)>;
  using ErrorFn = std::function<void(const absl::Status&)>;

  StreamWatcher(std::string name, absl::Duration backoff_unit, RunStream run, ErrorFn on_error,
                ErrorFn on_stop);
  ~StreamWatcher();
  StreamWatcher(const StreamWatcher&) = delete;
  StreamWatcher& operator=(const StreamWatcher&) = delete;

  void Start();
  // Stop cancels the current stream and any backoff wait, then joins.
  void Stop();
  // ResetBackoff is called by the stream callback after each good receive.
  void ResetBackoff();

 private:
  void Loop();

  const std::string name_;
  const absl::Duration backoff_unit_;
  const RunStream run_;
  const ErrorFn on_error_;
  const ErrorFn on_stop_;
  absl::Mutex join_mu_;  // serializes Stop()'s join
  std::thread thread_;

  // Guarded by mu_
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  LinearBackoff backoff_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::client::internal

#endif  // SIGNET_CLIENT_INTERNAL_WORKLOAD_CONN_H_
