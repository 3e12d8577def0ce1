// Server: the signet-server process -- datastore, key manager, CA, the Node
// API over TLS, the Admin API on the unix socket, health listener and the
// rotation loop.
#ifndef SIGNET_SERVER_SERVER_H_
#define SIGNET_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/peer_server.h"
#include "server/admin_service.h"
#include "server/ca.h"
#include "server/clock.h"
#include "server/config.h"
#include "server/datastore/datastore.h"
#include "server/deps.h"
#include "server/entry_cache.h"
#include "server/entry_expiry.h"
#include "server/health.h"
#include "server/key_manager.h"
#include "server/node_service.h"
#include "server/sync_hub.h"

namespace signet::server {

// Server is created once per process. Start/Shutdown from one thread.
class Server {
 public:
  // Create opens the datastore and key manager and loads or creates the CA.
  // Errors name the failing part (datastore file, keys dir, ...).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Server>> Create(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Start starts serving the Node API, Admin API, health listener and the
  // rotation loop. Unavailable when a port or socket cannot be bound.
  [[nodiscard]] absl::Status Start();
  // Shutdown stops everything (idempotent).
  void Shutdown();
  bool Ready();
  int node_port() const { return node_port_; }

 private:
  explicit Server(ServerConfig config) : config_(std::move(config)) {}
  absl::Status RenewServerSvid();
  void RotationLoop();

  ServerConfig config_;
  std::unique_ptr<Clock> clock_;
  std::unique_ptr<Datastore> ds_;
  std::unique_ptr<KeyManager> km_;
  std::unique_ptr<ServerCa> ca_;
  std::unique_ptr<EntryCache> entries_;
  std::unique_ptr<SyncHub> hub_;
  std::unique_ptr<EntryExpiryTimer> expiry_timer_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<ServerDeps> deps_;
  std::unique_ptr<EntryStore> store_;
  std::unique_ptr<NodeService> node_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<grpc::Server> node_server_;
  std::unique_ptr<grpc::Server> admin_server_;
  std::unique_ptr<UnixSocketServer> admin_socket_;
  std::unique_ptr<HealthListener> health_;
  std::thread rotation_thread_;
  int node_port_ = 0;
  std::string svid_cert_path_;
  std::string svid_key_path_;

  absl::Mutex mu_;
  // Guarded by mu_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::string svid_ca_serial_ ABSL_GUARDED_BY(mu_);
  absl::Time svid_renew_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_SERVER_H_
