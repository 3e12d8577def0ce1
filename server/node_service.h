// signet.agent.Node: the agent-facing API (attestation, agent SVID renewal,
// the Sync push stream, SVID signing, bundle).
#ifndef SIGNET_SERVER_NODE_SERVICE_H_
#define SIGNET_SERVER_NODE_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/openssl_util.h"
#include "server/deps.h"
#include "signet/agent.grpc.pb.h"

namespace signet::server {

inline constexpr int kMaxBatchSvidParams = 1000;

// NodeService is thread-safe; `deps` and `store` are borrowed.
class NodeService final : public signet::agent::Node::Service {
 public:
  NodeService(ServerDeps* deps, EntryStore* store, std::vector<X509Ptr> x509pop_roots)
      : d_(deps), store_(store), x509pop_roots_(std::move(x509pop_roots)) {}

  grpc::Status Attest(grpc::ServerContext* ctx,
                      grpc::ServerReaderWriter<signet::agent::AttestResponse,
                                               signet::agent::AttestRequest>* stream) override;
  grpc::Status RenewAgent(grpc::ServerContext* ctx, const signet::agent::RenewAgentRequest* req,
                          signet::agent::RenewAgentResponse* resp) override;
  grpc::Status Sync(grpc::ServerContext* ctx, const signet::agent::SyncRequest* req,
                    grpc::ServerWriter<signet::agent::SyncResponse>* writer) override;
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
  absl::StatusOr<signet::types::AttestedAgent> Authenticate(grpc::ServerContext* ctx,
                                                            std::string* caller_id);
  absl::Status DoAttest(
      grpc::ServerReaderWriter<signet::agent::AttestResponse, signet::agent::AttestRequest>* stream,
      signet::agent::AttestRequest* first, std::string* agent_id);
  void Audit(const std::string& method, const std::string& caller, grpc::ServerContext* ctx,
             const google::protobuf::Message* req, const absl::Status& st);

  ServerDeps* const d_;
  EntryStore* const store_;
  const std::vector<X509Ptr> x509pop_roots_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODE_SERVICE_H_
