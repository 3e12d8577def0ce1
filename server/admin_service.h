// signet.admin.Admin: the admin API on the unix socket.
#ifndef SIGNET_SERVER_ADMIN_SERVICE_H_
#define SIGNET_SERVER_ADMIN_SERVICE_H_

#include <atomic>
#include <functional>

#include "common/peer_server.h"
#include "common/spiffe_id.h"
#include "server/deps.h"
#include "signet/admin.grpc.pb.h"

namespace signet::server {

// AdminService is thread-safe; everything it points to is borrowed.
class AdminService final : public signet::admin::Admin::Service {
 public:
  AdminService(ServerDeps* deps, EntryStore* store, std::function<bool()> ready)
      : d_(deps), store_(store), ready_(std::move(ready)) {}
  // SetPeerServer lets the audit log resolve callers (uid/gid/pid).
  void SetPeerServer(const UnixSocketServer* s) { peers_ = s; }

  grpc::Status CreateEntry(grpc::ServerContext* ctx, const signet::admin::CreateEntryRequest* req,
                           signet::admin::EntryResponse* resp) override;
  grpc::Status UpdateEntry(grpc::ServerContext* ctx, const signet::admin::UpdateEntryRequest* req,
                           signet::admin::EntryResponse* resp) override;
  grpc::Status DeleteEntry(grpc::ServerContext* ctx, const signet::admin::DeleteEntryRequest* req,
                           signet::admin::DeleteEntryResponse* resp) override;
  grpc::Status ShowEntries(grpc::ServerContext* ctx, const signet::admin::ShowEntriesRequest* req,
                           signet::admin::ShowEntriesResponse* resp) override;
  grpc::Status CountEntries(grpc::ServerContext* ctx, const signet::admin::CountEntriesRequest* req,
                            signet::admin::CountResponse* resp) override;
  grpc::Status GenerateToken(grpc::ServerContext* ctx,
                             const signet::admin::GenerateTokenRequest* req,
                             signet::admin::GenerateTokenResponse* resp) override;
  grpc::Status ShowBundle(grpc::ServerContext* ctx, const signet::admin::ShowBundleRequest* req,
                          signet::admin::ShowBundleResponse* resp) override;
  grpc::Status ListAgents(grpc::ServerContext* ctx, const signet::admin::ListAgentsRequest* req,
                          signet::admin::ListAgentsResponse* resp) override;
  grpc::Status ShowAgent(grpc::ServerContext* ctx, const signet::admin::AgentRequest* req,
                         signet::admin::AgentResponse* resp) override;
  grpc::Status EvictAgent(grpc::ServerContext* ctx, const signet::admin::AgentRequest* req,
                          signet::admin::AgentResponse* resp) override;
  grpc::Status BanAgent(grpc::ServerContext* ctx, const signet::admin::AgentRequest* req,
                        signet::admin::AgentResponse* resp) override;
  grpc::Status CountAgents(grpc::ServerContext* ctx, const signet::admin::CountAgentsRequest* req,
                           signet::admin::CountResponse* resp) override;
  grpc::Status MintX509Svid(grpc::ServerContext* ctx, const signet::admin::MintX509SvidRequest* req,
                            signet::admin::MintX509SvidResponse* resp) override;
  grpc::Status MintJwtSvid(grpc::ServerContext* ctx, const signet::admin::MintJwtSvidRequest* req,
                           signet::admin::MintJwtSvidResponse* resp) override;
  grpc::Status Health(grpc::ServerContext* ctx, const signet::admin::HealthRequest* req,
                      signet::admin::HealthResponse* resp) override;

 private:
  grpc::Status Done(const char* method, grpc::ServerContext* ctx,
                    const google::protobuf::Message* req, const absl::Status& st);
  // DoneCount answers a count call with the datastore's count `n`, or its error.
  grpc::Status DoneCount(const char* method, grpc::ServerContext* ctx,
                         const google::protobuf::Message* req, const absl::StatusOr<int64_t>& n,
                         signet::admin::CountResponse* resp);
  absl::StatusOr<signet::types::AttestedAgent> GetAgent(const std::string& id);
  // MintSpiffeId and ValidateMintTtl are the request checks that both mint
  // calls share, with the same messages: a SPIFFE ID in the server's trust
  // domain with a path, and a TTL from 0 (the default) up to the CA's TTL.
  absl::StatusOr<SpiffeId> MintSpiffeId(const std::string& spiffe_id) const;
  absl::Status ValidateMintTtl(int64_t ttl) const;

  ServerDeps* const d_;
  EntryStore* const store_;
  const std::function<bool()> ready_;
  const UnixSocketServer* peers_ = nullptr;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_ADMIN_SERVICE_H_
