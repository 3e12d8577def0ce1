// signet.agent.Node: the agent-facing API (attestation, agent SVID renewal,
// the Sync push stream, SVID signing, bundle).
#ifndef SIGNET_SERVER_NODE_SERVICE_H_
#define SIGNET_SERVER_NODE_SERVICE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/openssl_util.h"
#include "common/worker_pool.h"
#include "server/deps.h"
#include "server/nodeattestor/node_attestor.h"
#include "server/nodeattestor/registry.h"
#include "server/sync_hub.h"
#include "signet/agent.grpc.pb.h"

namespace signet::server {

inline constexpr int kMaxBatchSvidParams = 1000;
// Largest message the Node API receives (the server's gRPC limit): room for
// kMaxBatchSvidParams CSRs of up to 4 KiB each.
inline constexpr int kNodeApiMaxMessageBytes = 4 << 20;
// Largest Attest message, checked before its payload or CSR is used (gRPC has
// already decoded it): legitimate ones (a
// join token, an x509pop chain of a few certificates, a k8s_psat token, plus
// the CSR) are a few KiB.
inline constexpr size_t kMaxAttestMessageBytes = 64 << 10;

// NodeService is thread-safe; `deps` and `store` are borrowed. Sync uses
// gRPC's callback API (a connected agent holds no thread; its state is
// computed on a small shared work queue when the SyncHub wakes it, and
// cancellation is seen at once); the other methods are synchronous.
class NodeService final
    : public signet::agent::Node::WithCallbackMethod_Sync<signet::agent::Node::Service> {
 public:
  // `node_attestors` verifies the attestation data of Attest calls.
  NodeService(ServerDeps* deps, EntryStore* store,
              std::unique_ptr<NodeAttestorCatalog> node_attestors)
      : d_(deps), store_(store), node_attestors_(std::move(node_attestors)), sync_work_(2) {}

  grpc::Status Attest(grpc::ServerContext* ctx,
                      grpc::ServerReaderWriter<signet::agent::AttestResponse,
                                               signet::agent::AttestRequest>* stream) override;
  grpc::Status RenewAgent(grpc::ServerContext* ctx, const signet::agent::RenewAgentRequest* req,
                          signet::agent::RenewAgentResponse* resp) override;
  grpc::ServerWriteReactor<signet::agent::SyncResponse>* Sync(
      grpc::CallbackServerContext* ctx, const signet::agent::SyncRequest* req) override;
  grpc::Status BatchNewX509Svid(grpc::ServerContext* ctx,
                                const signet::agent::BatchNewX509SvidRequest* req,
                                signet::agent::BatchNewX509SvidResponse* resp) override;
  grpc::Status NewJwtSvid(grpc::ServerContext* ctx, const signet::agent::NewJwtSvidRequest* req,
                          signet::agent::NewJwtSvidResponse* resp) override;
  grpc::Status FetchBundle(grpc::ServerContext* ctx, const signet::agent::FetchBundleRequest* req,
                           signet::agent::FetchBundleResponse* resp) override;

  // Shutdown ends every Sync stream.
  void Shutdown();

 private:
  // Authenticate returns the calling agent's record: Unauthenticated without
  // a valid agent SVID, PermissionDenied when the agent is unknown, banned,
  // evicted or the SVID superseded.
  absl::StatusOr<signet::types::AttestedAgent> Authenticate(grpc::ServerContextBase* ctx,
                                                            std::string* caller_id);
  // NextSyncState polls `sub` without blocking: nullopt when nothing changed,
  // the full state for agent `caller` when something did (updating
  // `selectors` from the datastore), or the status that ends the stream
  // (closed subscription, agent no longer attested).
  absl::StatusOr<std::optional<signet::agent::SyncResponse>> NextSyncState(
      const std::shared_ptr<SyncSubscription>& sub, const std::string& caller,
      std::vector<signet::types::Selector>* selectors);
  // DoAttest runs one attestation after its first message was read: the
  // configured NodeAttestor verifies the data, then the agent SVID is issued
  // and recorded and the result sent. Sets `agent_id` once it is known.
  absl::Status DoAttest(
      grpc::ServerReaderWriter<signet::agent::AttestResponse, signet::agent::AttestRequest>* stream,
      signet::agent::AttestRequest* first, std::string* agent_id);
  // RecordAttestedAgent writes the attested agent (created, or replacing
  // `existing` and waking its Sync streams) and the join_token alias entry.
  // Returns the datastore's error.
  absl::Status RecordAttestedAgent(const std::string& type, const AttestationResult& result,
                                   const SignedX509& svid,
                                   const absl::StatusOr<signet::types::AttestedAgent>& existing);
  void Audit(const std::string& method, const std::string& caller, grpc::ServerContextBase* ctx,
             const google::protobuf::Message* req, const absl::Status& st);
  // AuthenticatedCall is the frame of every unary call but Attest: it
  // authenticates the caller, runs `body` with the caller's SPIFFE ID and
  // agent record only if that succeeds, and audits the outcome, so that no
  // call can skip either step.
  grpc::Status AuthenticatedCall(
      const std::string& method, grpc::ServerContext* ctx, const google::protobuf::Message* req,
      absl::FunctionRef<absl::Status(const std::string&, signet::types::AttestedAgent&)> body);

  // TryAdmitAttest takes one of the config's attestation_max_concurrent
  // slots for an Attest stream; false when all are taken. ReleaseAttest
  // gives it back.
  bool TryAdmitAttest();
  void ReleaseAttest();

  friend class SyncStream;

  ServerDeps* const d_;
  EntryStore* const store_;
  const std::unique_ptr<NodeAttestorCatalog> node_attestors_;
  absl::Mutex attest_mu_;
  int attests_running_ ABSL_GUARDED_BY(attest_mu_) = 0;
  WorkerPool sync_work_;  // last: destroyed (drained) first
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODE_SERVICE_H_
