// The agent's life: bootstrap trust, node attestation, the entry stream from
// the server, the X.509-SVID cache with rotation, and the JWT-SVID cache.
#ifndef SIGNET_AGENT_AGENT_H_
#define SIGNET_AGENT_AGENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/config.h"
#include "agent/entry_store.h"
#include "agent/node_client.h"
#include "agent/snapshot.h"
#include "agent/workload_handler.h"
#include "signet/agent.grpc.pb.h"

namespace signet::agent {

// SyncReconnectDelay is how long the agent waits before reopening its entry
// stream after `failures` consecutive failures: 250 ms per failure, at most
// 5 s.
absl::Duration SyncReconnectDelay(int failures);

// AgentDebugInfo is what the admin Debug API reports about a running agent.
struct AgentDebugInfo {
  // The agent's own X.509-SVID chain, leaf first (certificates shared with
  // the agent's identity: read-only); empty before attestation.
  std::vector<std::shared_ptr<const X509>> svid_chain;
  absl::Time started;
  // When the last entry sync message arrived; InfinitePast if none has.
  absl::Time last_sync = absl::InfinitePast();
  int cached_x509_svids = 0;
  int cached_jwt_svids = 0;
};

// Agent implements the Workload API's Manager on top of the server protocol.
// Thread-safe. Call Attest() once, then StartSync(); Stop() (or the
// destructor) ends the background threads.
class Agent : public Manager {
 public:
  // Largest number of CSRs sent in one BatchNewX509Svid call.
  static constexpr int kMintBatchSize = 500;
  // Entries in one sync message, or SVIDs minted in one pass, from which the
  // worker returns freed heap to the system (malloc_trim) afterwards.
  static constexpr size_t kTrimThreshold = 256;
  // Largest trust bundle file kept in data_dir that is read at start.
  static constexpr off_t kMaxKeptBundleBytes = 1 << 20;

  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Agent>> Create(AgentConfig config);
  ~Agent() override;
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Attest bootstraps trust and obtains the agent SVID: reuses the one kept
  // in data_dir while it is valid, otherwise attests to the server (retrying
  // while the server is unavailable). Returns the server's refusal
  // (PermissionDenied ...) or FailedPrecondition for local problems.
  [[nodiscard]] absl::Status Attest();
  // StartSync starts the entry stream and the SVID cache threads.
  void StartSync();
  void Stop();

  // agent_id returns the agent's SPIFFE ID once attested.
  std::string agent_id();

  // ServerClockOffset is how far the server's clock is ahead of this node's
  // (negative: behind), as measured on the last entry sync message, clamped
  // to +-kServerClockSkewLeeway; zero before the first one. Adding it to
  // absl::Now() gives the trust domain's time, which token validation uses.
  absl::Duration ServerClockOffset() const;

  // DebugInfo reports the agent's identity and cache sizes for the admin
  // Debug API.
  AgentDebugInfo DebugInfo() ABSL_LOCKS_EXCLUDED(mu_, snap_mu_, jwt_mu_);

  // Manager.
  std::shared_ptr<const AgentSnapshot> Snapshot() override;
  std::shared_ptr<const AgentSnapshot> WaitForChange(uint64_t seen, absl::Time deadline) override;
  absl::StatusOr<std::string> FetchJwtSvid(const WorkloadEntry& entry,
                                           const std::vector<std::string>& audience) override;

 private:
  struct CachedJwt {
    std::string token;
    absl::Time refresh_at;
    absl::Time expires_at;
    uint64_t last_use = 0;  // key of this entry in jwt_lru_
  };
  // Bytes one cached JWT-SVID is counted as: key, token and bookkeeping.
  static size_t JwtCacheCost(const std::string& key, const CachedJwt& c) {
    return 2 * key.size() + c.token.size() + 128;
  }
  // Drops expired tokens, then the least recently used, until `incoming`
  // more bytes fit in config_.jwt_cache_max_bytes.
  void EvictJwts(size_t incoming, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(jwt_mu_);

  explicit Agent(AgentConfig config);
  void NoteServerTime(int64_t server_unix_ms);

  std::string Target() const;
  std::string DataFile(const std::string& name) const;
  // Persistence of agent SVID, key and bundle in data_dir (0600).
  absl::Status PersistIdentity(const AgentIdentity& id);
  absl::Status PersistBundle(const Bundle& b);
  // LoadKeptBundle returns the bundle kept in data_dir, nullopt when there is
  // none, or FailedPrecondition when the file is unusable (unreadable, a
  // symlink, not owned by us or writable by others, too large, no
  // certificate).
  absl::StatusOr<std::optional<Bundle>> LoadKeptBundle() const;
  absl::StatusOr<std::shared_ptr<const AgentIdentity>> LoadPersistedIdentity(const Bundle* bundle);
  // AttestOnce performs one node attestation and installs the result.
  absl::Status AttestOnce();
  // Channel returns the channel to the server with the current identity.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel();
  void InstallIdentity(std::shared_ptr<const AgentIdentity> id) ABSL_LOCKS_EXCLUDED(mu_);

  void SyncLoop();
  void WorkerLoop();
  bool WorkReady() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WakeSync() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Worker steps (worker thread only).
  bool ApplySync(const signet::agent::SyncResponse& resp);
  // MintDue mints the due SVIDs; returns whether any changed and adds the
  // number minted to `*minted`.
  bool MintDue(absl::Time now, size_t* minted);
  void MaybeRenewAgent(absl::Time now);
  void Publish();

  const AgentConfig config_;
  const TrustDomain td_;
  // ServerClockOffset in milliseconds (unclamped); written by the sync thread.
  std::atomic<int64_t> server_offset_ms_{0};
  const absl::Time started_ = absl::Now();
  // Unix milliseconds of the last entry sync message (0: none yet); written
  // by the sync thread.
  std::atomic<int64_t> last_sync_unix_ms_{0};

  // Worker-thread state (no lock: only WorkerLoop touches it).
  // The entries and their SVIDs, rotation and retry times.
  EntryStore store_;
  std::map<std::string, Bundle> federated_;
  absl::Time renew_retry_at_ = absl::InfinitePast();
  absl::Time next_wake_ = absl::InfiniteFuture();
  bool synced_ = false;

  absl::Mutex mu_;
  // Guarded by mu_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool kick_ ABSL_GUARDED_BY(mu_) = false;
  bool resync_now_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<signet::agent::SyncResponse> pending_sync_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const AgentIdentity> identity_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Bundle> bundle_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* sync_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);

  absl::Mutex snap_mu_;
  // Guarded by snap_mu_
  std::shared_ptr<const AgentSnapshot> snapshot_ ABSL_GUARDED_BY(snap_mu_);
  bool snap_stopping_ ABSL_GUARDED_BY(snap_mu_) = false;

  absl::Mutex jwt_mu_;
  // Guarded by jwt_mu_
  std::map<std::string, CachedJwt> jwt_cache_ ABSL_GUARDED_BY(jwt_mu_);
  // Use order of jwt_cache_ (use counter -> key), oldest first, and the bytes
  // the cache holds (JwtCacheCost summed).
  std::map<uint64_t, std::string> jwt_lru_ ABSL_GUARDED_BY(jwt_mu_);
  uint64_t jwt_use_counter_ ABSL_GUARDED_BY(jwt_mu_) = 0;
  size_t jwt_cache_bytes_ ABSL_GUARDED_BY(jwt_mu_) = 0;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_AGENT_H_
