// Serving gRPC on a unix socket with kernel-attested caller identity: we
// accept connections ourselves, read SO_PEERCRED, and hand each fd to the gRPC
// server. A call's peer() is then "fd:N", which PeerRegistry resolves.
#ifndef SIGNET_COMMON_PEER_SERVER_H_
#define SIGNET_COMMON_PEER_SERVER_H_

#include <grpcpp/server.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace signet {

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  int fd = -1;
  uint64_t conn_id = 0;  // unique per accepted connection
};

// UnixSocketServer binds a unix socket, accepts connections on its own
// thread, and passes each to a grpc::Server. Thread-safe.
class UnixSocketServer {
 public:
  // Create binds `path` (removing a stale socket file of ours), creating
  // missing directories with `dir_mode` and setting the socket to
  // `socket_mode`. Every directory on the path must be safe from other users
  // (OpenSocketDir in common/socket_path.h): FailedPrecondition naming the
  // directory and the fix otherwise. The socket is also removed if the
  // process dies of a fatal signal while it is registered.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<UnixSocketServer>> Create(
      const std::string& path, mode_t dir_mode, mode_t socket_mode);
  ~UnixSocketServer();
  UnixSocketServer(const UnixSocketServer&) = delete;
  UnixSocketServer& operator=(const UnixSocketServer&) = delete;

  // Start begins accepting for `server` (which must outlive Stop()). The
  // server must have been built without listening ports. Calling Start twice
  // has no effect.
  void Start(grpc::Server* server);
  // Stop stops accepting, joins the accept thread, closes the listening
  // socket and unlinks the socket file (only if it is still the one we
  // bound, looked up in its directory's descriptor). Idempotent; also run by the destructor. Call it before
  // server->Shutdown() so that no connection is handed over afterwards.
  void Stop();

  // Lookup resolves a call's peer() ("fd:N") to the credentials read at
  // accept time. NotFound when unknown.
  [[nodiscard]] absl::StatusOr<PeerCred> Lookup(const std::string& peer) const;

  const std::string& path() const { return path_; }

 private:
  UnixSocketServer(std::string path, int listen_fd)
      : path_(std::move(path)), listen_fd_(listen_fd) {}
  void AcceptLoop(grpc::Server* server);

  const std::string path_;
  const int listen_fd_;
  int wake_pipe_[2] = {-1, -1};
  // Identity of the socket file we bound, so Stop() never unlinks a file
  // another server put there later.
  dev_t sock_dev_ = 0;
  ino_t sock_ino_ = 0;
  // The checked directory holding it (O_PATH), the socket's name in it, and
  // its fatal-signal cleanup slot (RegisterSocketCleanup).
  int dir_fd_ = -1;
  std::string sock_name_;
  int cleanup_slot_ = -1;
  bool started_ = false;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_conn_id_{1};

  mutable absl::Mutex mu_;
  // Guarded by mu_
  std::map<int, PeerCred> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet

#endif  // SIGNET_COMMON_PEER_SERVER_H_
