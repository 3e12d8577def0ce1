#include "common/peer_server.h"

#include <errno.h>
#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/socket_path.h"
#include "common/status_macros.h"

namespace signet {
namespace {

constexpr absl::string_view kFdPeerPrefix = "fd:";
// How long the accept loop waits before retrying after running out of file
// descriptors (EMFILE/ENFILE) or memory; the pending connection stays in the
// backlog meanwhile.
constexpr int kBackoffMillis = 10;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", strerror(err)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixSocketServer>> UnixSocketServer::Create(const std::string& path,
                                                                           mode_t dir_mode,
                                                                           mode_t socket_mode) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("socket path \"", path, "\" must be absolute"));
  }
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path \"", path, "\" is too long (",
                                                   path.size(), " bytes; maximum ",
                                                   sizeof(addr.sun_path) - 1, ")"));
  }
  memcpy(addr.sun_path, path.data(), path.size());

  // The directory is checked (and made) one component at a time; from here
  // on the socket file is only reached through its descriptor, which nobody
  // but us (or root) can change the entries of.
  ASSIGN_OR_RETURN(SocketDir dir, OpenSocketDir(path, dir_mode));
  absl::Status st = RemoveStaleSocketAt(dir, path);
  if (!st.ok()) {
    close(dir.fd);
    return st;
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    const int err = errno;
    close(dir.fd);
    return ErrnoStatus("socket for", path, err);
  }
  auto fail = [&](absl::Status s, const struct stat* bound) {
    close(fd);
    if (bound != nullptr) UnlinkSocketIfSame(dir.fd, dir.name.c_str(), bound->st_dev, bound->st_ino);
    close(dir.fd);
    return s;
  };
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return fail(ErrnoStatus("bind", path, errno), nullptr);
  }
  // The socket file briefly has umask-derived permissions between bind and
  // the chmod; the directory's mode protects it meanwhile.
  absl::StatusOr<struct stat> sst = SetSocketModeAt(dir, path, socket_mode);
  if (!sst.ok()) {
    // Not ours to remove unless it is the socket we bound: look it up again.
    struct stat now;
    const bool ours = fstatat(dir.fd, dir.name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISSOCK(now.st_mode) && now.st_uid == geteuid();
    return fail(sst.status(), ours ? &now : nullptr);
  }
  if (listen(fd, 1024) != 0) return fail(ErrnoStatus("listen", path, errno), &*sst);

  std::unique_ptr<UnixSocketServer> server(new UnixSocketServer(path, fd));
  server->sock_dev_ = sst->st_dev;
  server->sock_ino_ = sst->st_ino;
  server->dir_fd_ = dir.fd;
  server->sock_name_ = dir.name;
  server->cleanup_slot_ = RegisterSocketCleanup(dir.fd, dir.name, sst->st_dev, sst->st_ino);
  if (pipe2(server->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    int err = errno;
    server->wake_pipe_[0] = server->wake_pipe_[1] = -1;
    server->Stop();
    return ErrnoStatus("pipe2 for", path, err);
  }
  return server;
}

UnixSocketServer::~UnixSocketServer() { Stop(); }

void UnixSocketServer::Start(grpc::Server* server) {
  if (started_ || stopping_.load()) return;
  started_ = true;
  thread_ = std::thread([this, server] { AcceptLoop(server); });
}

void UnixSocketServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_pipe_[1] >= 0) {
    const char b = 1;
    while (write(wake_pipe_[1], &b, 1) < 0 && errno == EINTR) {
    }
  }
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  UnregisterSocketCleanup(cleanup_slot_);
  cleanup_slot_ = -1;
  if (dir_fd_ >= 0) {
    UnlinkSocketIfSame(dir_fd_, sock_name_.c_str(), sock_dev_, sock_ino_);
    close(dir_fd_);
    dir_fd_ = -1;
  }
  for (int& p : wake_pipe_) {
    if (p >= 0) close(p);
    p = -1;
  }
}

void UnixSocketServer::AcceptLoop(grpc::Server* server) {
  bool backoff = false;
  while (!stopping_.load()) {
    pollfd fds[2] = {{wake_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    // While backing off, only the wake pipe is watched: the listening socket
    // stays readable while the backlog is non-empty and would make us spin.
    const nfds_t nfds = backoff ? 1 : 2;
    const int rc = poll(fds, nfds, backoff ? kBackoffMillis : -1);
    backoff = false;
    if (rc < 0) {
      if (errno != EINTR) {
        LogError("unix socket server: poll failed", {{"path", path_}, {"error", strerror(errno)}});
        backoff = true;
      }
      continue;
    }
    if (fds[0].revents != 0) break;
    if (nfds < 2 || (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) == 0) continue;
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        // EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unexpected: retry
        // after a short pause instead of spinning on a readable socket.
        LogWarn("unix socket server: accept failed; backing off",
                {{"path", path_}, {"error", strerror(err)}});
        backoff = true;
        break;
      }
      ucred cred{};
      socklen_t len = sizeof(cred);
      if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
        LogWarn("unix socket server: SO_PEERCRED failed; dropping connection",
                {{"path", path_}, {"error", strerror(errno)}});
        close(fd);
        continue;
      }
      PeerCred pc;
      pc.pid = cred.pid;
      pc.uid = cred.uid;
      pc.gid = cred.gid;
      pc.fd = fd;
      pc.conn_id = next_conn_id_.fetch_add(1);
      {
        absl::MutexLock lock(&mu_);
        // The fd number may be reused from a closed connection: overwrite.
        peers_[fd] = pc;
      }
      // gRPC takes ownership of fd and closes it when the connection ends.
      grpc::AddInsecureChannelFromFd(server, fd);
    }
  }
}

absl::StatusOr<PeerCred> UnixSocketServer::Lookup(const std::string& peer) const {
  absl::string_view p = peer;
  int fd = -1;
  if (!absl::ConsumePrefix(&p, kFdPeerPrefix) || !absl::SimpleAtoi(p, &fd)) {
    return absl::NotFoundError(absl::StrCat("unknown peer \"", peer, "\""));
  }
  PeerCred pc;
  {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(fd);
    if (it == peers_.end()) {
      return absl::NotFoundError(absl::StrCat("unknown peer \"", peer, "\""));
    }
    pc = it->second;
  }
  // Guard against a stale entry whose fd now belongs to something else: the
  // fd must still be a socket whose peer has the credentials we recorded.
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred) ||
      cred.pid != pc.pid || cred.uid != pc.uid || cred.gid != pc.gid) {
    return absl::NotFoundError(absl::StrCat("unknown peer \"", peer, "\": connection is gone"));
  }
  return pc;
}

}  // namespace signet
