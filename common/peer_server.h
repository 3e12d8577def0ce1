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
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace signet {

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  int fd = -1;
  uint64_t conn_id = 0;  // unique per accepted connection
};

// ConnectionLimits bound what local callers can hold open on a
// UnixSocketServer. The defaults bound nothing (the behaviour of a server
// that never calls SetLimits).
struct ConnectionLimits {
  // Live connections in total and of one uid (kernel-attested); a connection
  // beyond either is closed at once. 0: no limit.
  int max_connections = 0;
  int max_connections_per_uid = 0;
  // A new connection stays with the acceptor until its first bytes arrive;
  // they must start the HTTP/2 client preface, or it is closed. One that has
  // sent nothing within this time is closed. InfiniteDuration: every
  // connection goes to gRPC at once.
  absl::Duration preface_timeout = absl::InfiniteDuration();
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
  // bound, looked up in its directory's descriptor). Idempotent; also run by the destructor. Call
  // it before server->Shutdown() so that no connection is handed over afterwards.
  void Stop();

  // SetLimits sets the connection limits; call it before Start.
  void SetLimits(const ConnectionLimits& limits) { limits_ = limits; }

  // Number of live connections (handed to gRPC or waiting for their first
  // bytes) as last counted by the accept thread, and the number refused so
  // far (over a limit, no preface in time, or not HTTP/2).
  int live_connections() const { return live_count_.load(); }
  uint64_t refused_connections() const { return refused_count_.load(); }

  // Lookup resolves a call's peer() ("fd:N") to the credentials read at
  // accept time. NotFound when unknown.
  [[nodiscard]] absl::StatusOr<PeerCred> Lookup(const std::string& peer) const;

  const std::string& path() const { return path_; }

 private:
  UnixSocketServer(std::string path, int listen_fd)
      : path_(std::move(path)), listen_fd_(listen_fd) {}
  void AcceptLoop(grpc::Server* server);

  // The accept thread's view of one accepted connection.
  struct Tracked {
    uid_t uid = 0;
    ino_t ino = 0;         // the socket's inode: tells a reused fd number apart
    bool pending = false;  // still ours, waiting for its first bytes
    absl::Time deadline = absl::InfiniteFuture();  // for the first bytes
    PeerCred cred;
  };
  enum class Refusal { kTotal, kPerUid, kPreface, kNotHttp2 };
  // Accept-thread helpers (no locking: only that thread calls them, except
  // where they take mu_ for peers_).
  void OnAccepted(grpc::Server* server, int fd, const PeerCred& cred);
  void CheckFirstBytes(grpc::Server* server, int fd);
  void HandOver(grpc::Server* server, int fd);
  void Forget(int fd);
  void Sweep(absl::Time now);
  bool OverLimit(uid_t uid) const;
  void LogRefusal(Refusal why, const PeerCred& cred, absl::Time now);
  absl::Duration NextTimeout(absl::Time now) const;

  ConnectionLimits limits_;
  std::atomic<int> live_count_{0};
  std::atomic<uint64_t> refused_count_{0};
  // Owned by the accept thread.
  std::map<int, Tracked> tracked_;
  std::map<uid_t, int> live_per_uid_;
  int live_peak_ = 0;
  int trims_left_ = 0;  // further malloc_trim calls due at the next sweeps
  absl::Time last_sweep_ = absl::InfinitePast();
  absl::Time last_refusal_log_[4] = {absl::InfinitePast(), absl::InfinitePast(),
                                     absl::InfinitePast(), absl::InfinitePast()};
  uint64_t suppressed_refusals_[4] = {0, 0, 0, 0};

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
