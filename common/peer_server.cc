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

// MakeParentDirs creates every missing directory of `path`'s parent with
// `mode` (chmod'ed so the umask does not weaken or strengthen it).
// Directories that already exist are left untouched: we do not take over
// permissions of directories we did not create. Returns Internal on failure.
absl::Status MakeParentDirs(const std::string& path, mode_t mode) {
  size_t last = path.rfind('/');
  if (last == std::string::npos || last == 0) return absl::OkStatus();
  const std::string dir = path.substr(0, last);
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), mode) == 0) {
      if (chmod(prefix.c_str(), mode) != 0) return ErrnoStatus("chmod", prefix, errno);
      continue;
    }
    if (errno != EEXIST) return ErrnoStatus("mkdir", prefix, errno);
    struct stat st;
    if (stat(prefix.c_str(), &st) != 0) return ErrnoStatus("stat", prefix, errno);
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(prefix, " exists and is not a directory"));
    }
  }
  return absl::OkStatus();
}

// RemoveStaleSocket unlinks `path` if it is a socket nobody listens on.
// FailedPrecondition if it is another kind of file, AlreadyExists if a live
// server answers on it.
absl::Status RemoveStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus("lstat", path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; refusing to replace it"));
  }
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return ErrnoStatus("socket for", path, errno);
  int rc = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(probe);
  if (rc == 0 || err == EAGAIN) {
    return absl::AlreadyExistsError(absl::StrCat("another server is listening on ", path));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
  return absl::OkStatus();
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

  absl::Status st = MakeParentDirs(path, dir_mode);
  if (!st.ok()) return st;
  st = RemoveStaleSocket(path, addr);
  if (!st.ok()) return st;

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ErrnoStatus("socket for", path, errno);
  auto fail = [&](absl::string_view what, bool unlink_path) {
    int err = errno;
    close(fd);
    if (unlink_path) unlink(path.c_str());
    return ErrnoStatus(what, path, err);
  };
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return fail("bind", false);
  }
  // The socket file briefly has umask-derived permissions between bind and
  // chmod; the parent directory's mode is what protects it meanwhile.
  if (chmod(path.c_str(), socket_mode) != 0) return fail("chmod", true);
  struct stat sst;
  if (lstat(path.c_str(), &sst) != 0) return fail("lstat", true);
  if (listen(fd, 1024) != 0) return fail("listen", true);

  std::unique_ptr<UnixSocketServer> server(new UnixSocketServer(path, fd));
  server->sock_dev_ = sst.st_dev;
  server->sock_ino_ = sst.st_ino;
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
  struct stat st;
  if (lstat(path_.c_str(), &st) == 0 && st.st_dev == sock_dev_ && st.st_ino == sock_ino_) {
    unlink(path_.c_str());
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
