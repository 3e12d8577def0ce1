// The SPIFFE Workload API (checklist E and F) served to local workloads.
#ifndef SIGNET_AGENT_WORKLOAD_HANDLER_H_
#define SIGNET_AGENT_WORKLOAD_HANDLER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/snapshot.h"
#include "attestors/workload_attestor.h"
#include "common/peer_server.h"
#include "workload/workload.grpc.pb.h"

namespace signet::agent {

// Manager is what the handler needs from the SVID cache. Thread-safe.
class Manager {
 public:
  virtual ~Manager() = default;
  // Snapshot returns the current state (never null).
  virtual std::shared_ptr<const AgentSnapshot> Snapshot() = 0;
  // WaitForChange blocks until the snapshot's version differs from `seen` or
  // `deadline` passes, and returns the current snapshot.
  virtual std::shared_ptr<const AgentSnapshot> WaitForChange(uint64_t seen,
                                                             absl::Time deadline) = 0;
  // FetchJwtSvid returns a JWT-SVID for `entry` and `audience` (cached per
  // identity and audience set until half its lifetime). Unavailable when the
  // server cannot be reached.
  [[nodiscard]] virtual absl::StatusOr<std::string> FetchJwtSvid(
      const WorkloadEntry& entry, const std::vector<std::string>& audience) = 0;
};

// Attestor returns the selectors of a process. Thread-safe.
class Attestor {
 public:
  virtual ~Attestor() = default;
  [[nodiscard]] virtual absl::StatusOr<std::vector<attestors::Selector>> Attest(pid_t pid) = 0;
};

// PinnedProcess holds a process steady across attestation (pid-reuse
// defence).
class PinnedProcess {
 public:
  virtual ~PinnedProcess() = default;
  // Check returns OK when the pinned process is still alive and is the same
  // process (same start time) as when pinned; Unauthenticated otherwise.
  [[nodiscard]] virtual absl::Status Check() = 0;
};

// ProcessPinner pins processes by pid. Thread-safe.
class ProcessPinner {
 public:
  virtual ~ProcessPinner() = default;
  // Pin opens a pidfd (or /proc/<pid>) and records the start time.
  // Unauthenticated when the process is already gone.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<PinnedProcess>> Pin(pid_t pid) = 0;
};

// NewLinuxProcessPinner returns the pinner that uses pidfd_open (falling back
// to an open /proc/<pid> directory) and field 22 of /proc/<pid>/stat.
std::unique_ptr<ProcessPinner> NewLinuxProcessPinner();

// ProcessStartTime returns field 22 (starttime) of /proc/<pid>/stat.
[[nodiscard]] absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid);

struct WorkloadHandlerConfig {
  Manager* manager = nullptr;
  Attestor* attestor = nullptr;
  ProcessPinner* pinner = nullptr;
  // Resolves a call's peer() to the kernel-read credentials.
  std::function<absl::StatusOr<PeerCred>(const std::string& peer)> peer_lookup;
  // Closes the caller's connection (after a pid-reuse mismatch).
  std::function<void(const PeerCred&)> close_connection;
  // How often the watcher thread re-checks streams waiting for a mint (and
  // its own shutdown) when nothing changes.
  absl::Duration cancel_poll = absl::Milliseconds(250);
  // How long a stream waits for a matching entry's SVID to be minted.
  absl::Duration mint_wait = absl::Seconds(30);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// StreamSink is one open Workload API stream, woken by the handler's
// watcher thread. Internal to WorkloadHandler.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Notify hands the stream the current snapshot; `changed` is false on the
  // watcher's periodic tick (only streams waiting for a mint care).
  virtual void Notify(const std::shared_ptr<const AgentSnapshot>& snap, bool changed) = 0;
};

// The streaming RPCs run on gRPC's callback API (no thread per open stream;
// a cancelled stream ends at once); the unary RPCs stay synchronous.
using WorkloadService = SpiffeWorkloadAPI::WithCallbackMethod_FetchX509SVID<
    SpiffeWorkloadAPI::WithCallbackMethod_FetchX509Bundles<
        SpiffeWorkloadAPI::WithCallbackMethod_FetchJWTBundles<SpiffeWorkloadAPI::Service>>>;

// WorkloadHandler implements SpiffeWorkloadAPI. Thread-safe. Owns one
// watcher thread that waits for snapshot changes and wakes the open streams.
class WorkloadHandler final : public WorkloadService {
 public:
  explicit WorkloadHandler(WorkloadHandlerConfig config);
  // Stops the watcher; the gRPC server must have been shut down first.
  ~WorkloadHandler() override;
  WorkloadHandler(const WorkloadHandler&) = delete;
  WorkloadHandler& operator=(const WorkloadHandler&) = delete;

  // open_streams returns the number of streams not yet done; for tests.
  size_t open_streams() ABSL_LOCKS_EXCLUDED(streams_mu_);

  grpc::ServerWriteReactor<X509SVIDResponse>* FetchX509SVID(grpc::CallbackServerContext* ctx,
                                                            const X509SVIDRequest* req) override;
  grpc::ServerWriteReactor<X509BundlesResponse>* FetchX509Bundles(
      grpc::CallbackServerContext* ctx, const X509BundlesRequest* req) override;
  grpc::ServerWriteReactor<JWTBundlesResponse>* FetchJWTBundles(
      grpc::CallbackServerContext* ctx, const JWTBundlesRequest* req) override;
  grpc::Status FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                            JWTSVIDResponse* resp) override;
  grpc::Status ValidateJWTSVID(grpc::ServerContext* ctx, const ValidateJWTSVIDRequest* req,
                               ValidateJWTSVIDResponse* resp) override;
  grpc::Status FetchWITSVID(grpc::ServerContext* ctx, const WITSVIDRequest* req,
                            grpc::ServerWriter<WITSVIDResponse>* writer) override;
  grpc::Status FetchWITBundles(grpc::ServerContext* ctx, const WITBundlesRequest* req,
                               grpc::ServerWriter<WITBundlesResponse>* writer) override;

 private:
  // Caller identifies and attests the caller of `ctx`, returning its
  // selectors. InvalidArgument (header), Unauthenticated (no credentials or
  // pid reuse), Unavailable (attestation failed).
  absl::StatusOr<std::vector<attestors::Selector>> Caller(grpc::ServerContextBase* ctx);

  // Stream returns a reactor that streams snapshots: `build` turns a snapshot
  // into a message (nullopt: nothing minted yet) or a status that ends the
  // stream.
  template <typename Msg>
  grpc::ServerWriteReactor<Msg>* Stream(
      grpc::CallbackServerContext* ctx,
      std::function<absl::StatusOr<std::optional<Msg>>(const AgentSnapshot&,
                                                       const std::vector<attestors::Selector>&)>
          build);

  template <typename Msg>
  friend class StreamReactor;
  void Register(StreamSink* s) ABSL_LOCKS_EXCLUDED(streams_mu_);
  void Unregister(StreamSink* s) ABSL_LOCKS_EXCLUDED(streams_mu_);
  void WatchLoop();

  const WorkloadHandlerConfig config_;

  absl::Mutex streams_mu_;
  // Guarded by streams_mu_ (held while streams are notified, so a stream
  // unregistered in OnDone is never notified afterwards).
  std::set<StreamSink*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool stopping_ ABSL_GUARDED_BY(streams_mu_) = false;

  std::thread watcher_;
};

// CheckSecurityHeader returns OK when metadata "workload.spiffe.io" is present
// exactly once with value "true"; InvalidArgument "security header missing
// from request" otherwise.
[[nodiscard]] absl::Status CheckSecurityHeader(const grpc::ServerContextBase& ctx);

// MatchingEntries returns the entries of `snap` whose selectors are a subset
// of `selectors`, in snapshot order.
std::vector<const WorkloadEntry*> MatchingEntries(
    const AgentSnapshot& snap, const std::vector<attestors::Selector>& selectors);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_HANDLER_H_
