#include "common/peer_server.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
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
// How often the accept thread looks for connections gRPC has closed, and how
// soon again when a new connection would be over a limit.
constexpr absl::Duration kSweepInterval = absl::Seconds(1);
constexpr absl::Duration kRecountInterval = absl::Milliseconds(50);
// At most one log line per kind of refusal in this interval; the line counts
// the refusals left unlogged since the previous one.
constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);
// Memory is returned to the system (malloc_trim) only after a peak of at
// least this many live connections.
constexpr int kTrimMinPeak = 256;
constexpr int kExtraTrims = 5;
// RFC 9113, 3.4.
constexpr absl::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

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
    if (bound != nullptr)
      UnlinkSocketIfSame(dir.fd, dir.name.c_str(), bound->st_dev, bound->st_ino);
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
  // A deep backlog: a flood of connections waiting for accept (each is then
  // counted against its uid's cap) must not make other callers' connects fail.
  // The kernel clamps it to net.core.somaxconn (4096 by default).
  if (listen(fd, 4096) != 0) return fail(ErrnoStatus("listen", path, errno), &*sst);

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
  std::vector<pollfd> fds;
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wake_pipe_[0], POLLIN, 0});
    // While backing off, the listening socket is not watched: it stays
    // readable while the backlog is non-empty and would make us spin.
    if (!backoff) fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& [fd, t] : tracked_) {
      if (t.pending) fds.push_back({fd, POLLIN, 0});
    }
    int timeout_ms = backoff ? kBackoffMillis : -1;
    const absl::Duration next = NextTimeout(absl::Now());
    if (next != absl::InfiniteDuration()) {
      const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(next, absl::Milliseconds(1)));
      const int capped = static_cast<int>(std::min<int64_t>(ms, 60 * 1000));
      timeout_ms = timeout_ms < 0 ? capped : std::min(timeout_ms, capped);
    }
    const bool listen_watched = !backoff;
    const int rc = poll(fds.data(), fds.size(), timeout_ms);
    backoff = false;
    if (rc < 0) {
      if (errno != EINTR) {
        LogError("unix socket server: poll failed", {{"path", path_}, {"error", strerror(errno)}});
        backoff = true;
      }
      continue;
    }
    if (fds[0].revents != 0) break;
    const absl::Time now = absl::Now();
    // Connections waiting for their first bytes: readable ones are checked,
    // those past their deadline closed.
    for (size_t i = listen_watched ? 2 : 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) CheckFirstBytes(server, fds[i].fd);
    }
    std::vector<int> expired;
    for (const auto& [fd, t] : tracked_) {
      if (t.pending && t.deadline <= now) expired.push_back(fd);
    }
    for (int fd : expired) {
      LogRefusal(Refusal::kPreface, tracked_[fd].cred, now);
      Forget(fd);
      close(fd);
    }
    if (now - last_sweep_ >= kSweepInterval && (live_count_.load() > 0 || trims_left_ > 0)) {
      Sweep(now);
    }
    if (!listen_watched || (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) == 0) continue;
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
      OnAccepted(server, fd, pc);
    }
  }
  // Connections still waiting for their first bytes were never handed over:
  // they are ours to close.
  for (const auto& [fd, t] : tracked_) {
    if (t.pending) close(fd);
  }
  tracked_.clear();
  live_per_uid_.clear();
  live_count_.store(0);
}

void UnixSocketServer::OnAccepted(grpc::Server* server, int fd, const PeerCred& cred) {
  // The kernel handed out this fd number again, so whatever connection had
  // it before is closed.
  if (tracked_.count(fd) != 0) Forget(fd);
  const absl::Time now = absl::Now();
  if (OverLimit(cred.uid) && now - last_sweep_ >= kRecountInterval) {
    // The counts may include connections gRPC closed since the last sweep.
    Sweep(now);
  }
  if (OverLimit(cred.uid)) {
    const bool total = limits_.max_connections > 0 && live_count_.load() >= limits_.max_connections;
    LogRefusal(total ? Refusal::kTotal : Refusal::kPerUid, cred, now);
    close(fd);
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return;
  }
  Tracked t;
  t.uid = cred.uid;
  t.ino = st.st_ino;
  t.cred = cred;
  tracked_[fd] = t;
  live_count_.store(live_count_.load() + 1);
  ++live_per_uid_[cred.uid];
  live_peak_ = std::max(live_peak_, live_count_.load());
  if (limits_.preface_timeout == absl::InfiniteDuration()) {
    HandOver(server, fd);
    return;
  }
  tracked_[fd].pending = true;
  tracked_[fd].deadline = now + limits_.preface_timeout;
  // Clients send the preface right after connecting: it is usually here.
  CheckFirstBytes(server, fd);
}

void UnixSocketServer::CheckFirstBytes(grpc::Server* server, int fd) {
  auto it = tracked_.find(fd);
  if (it == tracked_.end() || !it->second.pending) return;
  char buf[kHttp2Preface.size()];
  const ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n > 0 && absl::string_view(buf, static_cast<size_t>(n)) ==
                   kHttp2Preface.substr(0, static_cast<size_t>(n))) {
    // The bytes start the preface: gRPC reads the rest (a client that stops
    // half-way is left to gRPC's idle timeout).
    it->second.pending = false;
    HandOver(server, fd);
    return;
  }
  // Closed before sending anything, a socket error, or not HTTP/2.
  if (n > 0) LogRefusal(Refusal::kNotHttp2, it->second.cred, absl::Now());
  Forget(fd);
  close(fd);
}

void UnixSocketServer::HandOver(grpc::Server* server, int fd) {
  {
    absl::MutexLock lock(&mu_);
    // The fd number may be reused from a closed connection: overwrite.
    peers_[fd] = tracked_[fd].cred;
  }
  // gRPC takes ownership of fd and closes it when the connection ends.
  grpc::AddInsecureChannelFromFd(server, fd);
}

void UnixSocketServer::Forget(int fd) {
  auto it = tracked_.find(fd);
  if (it == tracked_.end()) return;
  auto u = live_per_uid_.find(it->second.uid);
  if (u != live_per_uid_.end() && --u->second <= 0) live_per_uid_.erase(u);
  if (!it->second.pending) {
    absl::MutexLock lock(&mu_);
    auto p = peers_.find(fd);
    if (p != peers_.end() && p->second.conn_id == it->second.cred.conn_id) peers_.erase(p);
  }
  tracked_.erase(it);
  live_count_.store(live_count_.load() - 1);
}

void UnixSocketServer::Sweep(absl::Time now) {
  last_sweep_ = now;
  // gRPC closes a connection's fd without telling us: a handed-over fd that
  // is closed, or is now another file, ends that connection.
  std::vector<int> gone;
  for (const auto& [fd, t] : tracked_) {
    if (t.pending) continue;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_ino != t.ino || !S_ISSOCK(st.st_mode)) gone.push_back(fd);
  }
  for (int fd : gone) Forget(fd);
  // After a flood, give the memory of the closed connections back to the
  // system: when the count falls to half its peak, and again at the next few
  // sweeps for what gRPC frees after closing the fds.
  const int live = live_count_.load();
  if (live_peak_ >= kTrimMinPeak && live <= live_peak_ / 2) {
    malloc_trim(0);
    live_peak_ = live;
    trims_left_ = kExtraTrims;
  } else if (trims_left_ > 0) {
    malloc_trim(0);
    --trims_left_;
  }
}

bool UnixSocketServer::OverLimit(uid_t uid) const {
  if (limits_.max_connections > 0 && live_count_.load() >= limits_.max_connections) return true;
  if (limits_.max_connections_per_uid > 0) {
    auto it = live_per_uid_.find(uid);
    if (it != live_per_uid_.end() && it->second >= limits_.max_connections_per_uid) return true;
  }
  return false;
}

void UnixSocketServer::LogRefusal(Refusal why, const PeerCred& cred, absl::Time now) {
  refused_count_.fetch_add(1);
  const int i = static_cast<int>(why);
  if (now - last_refusal_log_[i] < kRefusalLogInterval) {
    ++suppressed_refusals_[i];
    return;
  }
  std::string reason;
  switch (why) {
    case Refusal::kTotal:
      reason = absl::StrCat("max_connections (", limits_.max_connections, ") reached");
      break;
    case Refusal::kPerUid:
      reason = absl::StrCat("max_connections_per_uid (", limits_.max_connections_per_uid,
                            ") reached for this uid");
      break;
    case Refusal::kPreface:
      reason =
          absl::StrCat("no HTTP/2 preface within ", absl::FormatDuration(limits_.preface_timeout));
      break;
    case Refusal::kNotHttp2:
      reason = "first bytes are not an HTTP/2 client preface";
      break;
  }
  LogWarn("unix socket server: connection closed",
          {{"path", path_},
           {"reason", reason},
           {"uid", absl::StrCat(cred.uid)},
           {"pid", absl::StrCat(cred.pid)},
           {"live", absl::StrCat(live_count_.load())},
           {"suppressed_since_last", absl::StrCat(suppressed_refusals_[i])}});
  last_refusal_log_[i] = now;
  suppressed_refusals_[i] = 0;
}

absl::Duration UnixSocketServer::NextTimeout(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [fd, t] : tracked_) {
    if (t.pending) next = std::min(next, t.deadline);
  }
  if (live_count_.load() > 0 || trims_left_ > 0)
    next = std::min(next, last_sweep_ + kSweepInterval);
  if (next == absl::InfiniteFuture()) return absl::InfiniteDuration();
  return std::max(next - now, absl::ZeroDuration());
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
