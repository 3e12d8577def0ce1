// The SPIFFE Workload API (checklist E and F) served to local workloads.
#ifndef SIGNET_AGENT_WORKLOAD_HANDLER_H_
#define SIGNET_AGENT_WORKLOAD_HANDLER_H_

#include <grpcpp/server_builder.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/snapshot.h"
#include "attestors/workload_attestor.h"
#include "common/peer_server.h"
#include "common/worker_pool.h"
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

// ProcStatusFile is /proc/<pid>/status of one process, opened once. The
// kernel ties the descriptor to that process: reads fail once it has been
// reaped, even if its pid is reused. Re-reading it skips the path lookup,
// open and close of each selector-cache check (bench/NOTES.md, 1).
class ProcStatusFile {
 public:
  // Open returns null when the process is gone.
  static std::shared_ptr<ProcStatusFile> Open(pid_t pid);
  ~ProcStatusFile();
  ProcStatusFile(const ProcStatusFile&) = delete;
  ProcStatusFile& operator=(const ProcStatusFile&) = delete;

  // Creds returns the process's Uid:, Gid: and Groups: lines; nullopt once
  // it is gone (or when the file does not fit 4 KiB).
  [[nodiscard]] std::optional<std::string> Creds() const;

 private:
  explicit ProcStatusFile(int fd) : fd_(fd) {}
  const int fd_;
};

struct WorkloadHandlerConfig {
  Manager* manager = nullptr;
  // Returns the selectors of a caller (the agent passes its catalog).
  attestors::WorkloadAttestor* attestor = nullptr;
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
  // How long a connection's selectors are reused for further calls on the
  // same connection from the same, still pinned process (0: attest every
  // call). Connections without an id (conn_id 0) are never cached.
  absl::Duration selector_cache_ttl = absl::Seconds(1);
  // Threads serving the streaming RPCs' completion queue (one polls best:
  // the thread that reads a call answers it, with no hand-off) and threads
  // attesting callers of the streaming RPCs not found in the selector cache.
  int stream_threads = 1;
  int attest_threads = 4;
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

// The streaming RPCs run on gRPC's asynchronous API, served by the handler's
// own completion-queue threads: no thread per open stream, a cancelled stream
// ends at once, and a call is handled on the thread that polled it (gRPC
// 1.51's callback API hands every event to other threads, which cost more
// than the whole unary call; bench/NOTES.md, 1). The unary RPCs stay
// synchronous.
using WorkloadService = SpiffeWorkloadAPI::WithAsyncMethod_FetchX509SVID<
    SpiffeWorkloadAPI::WithAsyncMethod_FetchX509Bundles<
        SpiffeWorkloadAPI::WithAsyncMethod_FetchJWTBundles<SpiffeWorkloadAPI::Service>>>;

// AsyncTag is an operation awaited on the handler's completion queue.
class AsyncTag {
 public:
  virtual ~AsyncTag() = default;
  virtual void Proceed(bool ok) = 0;
};

// WorkloadHandler implements SpiffeWorkloadAPI. Thread-safe. Owns one
// watcher thread that waits for snapshot changes and wakes the open streams,
// and the threads of the streaming RPCs' completion queue.
//
// Use: Attach(&builder) before BuildAndStart, Start() after it; shut the
// gRPC server down before Shutdown() (or the destructor).
class WorkloadHandler final : public WorkloadService {
 public:
  explicit WorkloadHandler(WorkloadHandlerConfig config);
  // Stops the watcher and the queue threads; the gRPC server must have been
  // shut down first.
  ~WorkloadHandler() override;
  WorkloadHandler(const WorkloadHandler&) = delete;
  WorkloadHandler& operator=(const WorkloadHandler&) = delete;

  // Attach registers the service and its completion queue with `builder`.
  void Attach(grpc::ServerBuilder* builder);
  // Start begins serving the streaming RPCs (after BuildAndStart).
  void Start();
  // Shutdown drains and stops the completion queue; call it after the gRPC
  // server's Shutdown. Idempotent.
  void Shutdown();

  // open_streams returns the number of streams not yet done; for tests.
  size_t open_streams() ABSL_LOCKS_EXCLUDED(streams_mu_);
  // attestations returns how many times a caller was attested (not served
  // from the per-connection selector cache); for tests.
  uint64_t attestations() ABSL_LOCKS_EXCLUDED(cache_mu_);

  grpc::Status FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                            JWTSVIDResponse* resp) override;
  grpc::Status ValidateJWTSVID(grpc::ServerContext* ctx, const ValidateJWTSVIDRequest* req,
                               ValidateJWTSVIDResponse* resp) override;
  grpc::Status FetchWITSVID(grpc::ServerContext* ctx, const WITSVIDRequest* req,
                            grpc::ServerWriter<WITSVIDResponse>* writer) override;
  grpc::Status FetchWITBundles(grpc::ServerContext* ctx, const WITBundlesRequest* req,
                               grpc::ServerWriter<WITBundlesResponse>* writer) override;

 private:
  using Selectors = std::shared_ptr<const std::vector<attestors::Selector>>;

  // Caller identifies and attests the caller of `ctx`, returning its
  // selectors. InvalidArgument (header), Unauthenticated (no credentials or
  // pid reuse), Unavailable (attestation failed).
  absl::StatusOr<Selectors> Caller(grpc::ServerContextBase* ctx);
  // Identify checks the security header and resolves the caller's kernel
  // credentials (the cheap half of Caller).
  absl::StatusOr<PeerCred> Identify(grpc::ServerContextBase* ctx);
  // AttestCaller pins and attests `cred`'s process and caches the result.
  absl::StatusOr<Selectors> AttestCaller(const PeerCred& cred);
  // RunAttestation runs `task` on an attestation thread (after Start).
  void RunAttestation(std::function<void()> task);
  // CachedSelectors returns the selectors cached for `cred`'s connection
  // when they are fresh and the pinned process is still alive; null
  // otherwise.
  Selectors CachedSelectors(const PeerCred& cred) ABSL_LOCKS_EXCLUDED(cache_mu_);
  void CacheSelectors(const PeerCred& cred, std::shared_ptr<PinnedProcess> pin,
                      std::shared_ptr<ProcStatusFile> status, std::string creds,
                      const Selectors& sel) ABSL_LOCKS_EXCLUDED(cache_mu_);
  void PurgeExpiredCallers() ABSL_LOCKS_EXCLUDED(cache_mu_);

  // Post* put one new call of each streaming RPC up for the next client.
  void PostX509Svid();
  void PostX509Bundles();
  void PostJwtBundles();
  void QueueLoop();
  void CallCreated() ABSL_LOCKS_EXCLUDED(calls_mu_);
  void CallDeleted() ABSL_LOCKS_EXCLUDED(calls_mu_);

  template <typename Req, typename Msg>
  friend class StreamCall;
  void Register(StreamSink* s) ABSL_LOCKS_EXCLUDED(streams_mu_);
  void Unregister(StreamSink* s) ABSL_LOCKS_EXCLUDED(streams_mu_);
  void WatchLoop();

  const WorkloadHandlerConfig config_;

  absl::Mutex streams_mu_;
  // Guarded by streams_mu_ (held while streams are notified, so a stream
  // unregistered before deletion is never notified afterwards).
  std::set<StreamSink*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool stopping_ ABSL_GUARDED_BY(streams_mu_) = false;

  struct CachedCaller {
    pid_t pid = 0;
    std::shared_ptr<PinnedProcess> pin;      // keeps the process pinned
    std::shared_ptr<ProcStatusFile> status;  // its /proc/<pid>/status, open
    std::string creds;                       // Uid/Gid/Groups lines read from it
    Selectors selectors;
    absl::Time expires;
  };
  absl::Mutex cache_mu_;
  // Guarded by cache_mu_; keyed by PeerCred::conn_id.
  std::map<uint64_t, CachedCaller> callers_ ABSL_GUARDED_BY(cache_mu_);
  uint64_t attestations_ ABSL_GUARDED_BY(cache_mu_) = 0;

  absl::Mutex calls_mu_;
  // StreamCall objects alive (waiting for a call, or serving one).
  int live_calls_ ABSL_GUARDED_BY(calls_mu_) = 0;

  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::vector<std::thread> queue_threads_;
  // Set by Start, reset (drained and joined) by Shutdown; used between them
  // by the queue threads, which Start creates after it.
  std::unique_ptr<WorkerPool> attest_pool_;
  bool shut_down_ = false;

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
