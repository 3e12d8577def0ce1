#include "common/socket_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace signet {
namespace {

// The kernel's own limit on symbolic links followed in one lookup.
constexpr int kMaxSymlinks = 40;
// How often a directory that vanishes or appears under us is looked at again
// before giving up (another user racing us in a sticky directory).
constexpr int kMaxRetries = 16;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", strerror(err)));
}

std::string Mode(mode_t m) { return absl::StrFormat("%04o", m & 07777); }

std::string Join(const std::string& dir, absl::string_view name) {
  return dir == "/" ? absl::StrCat("/", name) : absl::StrCat(dir, "/", name);
}

std::string Parent(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

// FdCloser closes a descriptor when it goes out of scope unless released.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// OthersCanWrite reports whether users other than this process's could
// create, rename or remove entries of the directory `st`: it is writable by
// everyone, or by a group other than this process's effective group (whose
// members are trusted like its user: for the server they are administrators
// through its 0770 socket anyway; a Kubernetes fsGroup volume is such a
// directory).
bool OthersCanWrite(const struct stat& st) {
  if ((st.st_mode & S_IWOTH) != 0) return true;
  return (st.st_mode & S_IWGRP) != 0 && st.st_gid != getegid();
}

// CheckDir applies the rules of OpenSocketDir to the open directory `st`
// shown as `shown`. `socket_dir`: it is the socket's own directory, for which
// the sticky bit is no excuse.
absl::Status CheckDir(const struct stat& st, const std::string& shown, const std::string& path,
                      bool socket_dir) {
  const uid_t euid = geteuid();
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(shown, " exists and is not a directory"));
  }
  if (st.st_uid != 0 && st.st_uid != euid) {
    return absl::FailedPreconditionError(absl::StrCat(
        "directory ", shown, " on socket path ", path, " is owned by uid ", st.st_uid,
        ", not by this process's uid ", euid, " or root, so its owner could replace the socket: ",
        "remove ", shown, " (or chown it to uid ", euid, ") and restart"));
  }
  if (OthersCanWrite(st) && (socket_dir || (st.st_mode & S_ISVTX) == 0)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "directory ", shown, " on socket path ", path, " is writable by its group or others (mode ",
        Mode(st.st_mode), "), so they could replace the socket: run chmod go-w ", shown,
        " (or remove it) and restart"));
  }
  return absl::OkStatus();
}

// Components splits a path into its non-empty components.
std::vector<std::string> Components(absl::string_view p) {
  return absl::StrSplit(p, '/', absl::SkipEmpty());
}

}  // namespace

absl::StatusOr<SocketDir> OpenSocketDir(const std::string& path, mode_t dir_mode) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("socket path \"", path, "\" must be absolute"));
  }
  if ((dir_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("directory mode ", Mode(dir_mode),
                                                   " for socket path ", path,
                                                   " would let other users replace the socket"));
  }
  SocketDir out;
  const size_t slash = path.rfind('/');
  out.dir = slash == 0 ? "/" : path.substr(0, slash);
  out.name = path.substr(slash + 1);
  if (out.name.empty() || out.name == "." || out.name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path \"", path, "\" does not end in a file name"));
  }
  std::deque<std::string> todo;
  for (std::string& c : Components(out.dir)) todo.push_back(std::move(c));

  FdCloser fd(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("open", "/", errno);
  std::string shown = "/";
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", shown, errno);
  RETURN_IF_ERROR(CheckDir(st, shown, path, /*socket_dir=*/false));
  int links = 0;
  int retries = 0;
  while (!todo.empty()) {
    const std::string comp = std::move(todo.front());
    todo.pop_front();
    if (comp == ".") continue;
    const std::string next = comp == ".." ? Parent(shown) : Join(shown, comp);
    // A directory others can write (only a sticky one gets this far): a
    // symbolic link in it may be theirs.
    const bool here_shared = OthersCanWrite(st);
    struct stat lst;
    bool created = false;
    if (fstatat(fd.get(), comp.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return ErrnoStatus("stat", next, errno);
      if (mkdirat(fd.get(), comp.c_str(), dir_mode & 07777) != 0) {
        if (errno != EEXIST) return ErrnoStatus("mkdir", next, errno);
        if (++retries > kMaxRetries) {
          return absl::FailedPreconditionError(
              absl::StrCat("directory ", next, " keeps changing; refusing to use it"));
        }
        todo.push_front(comp);  // someone made it meanwhile: look again
        continue;
      }
      created = true;
    } else if (S_ISLNK(lst.st_mode)) {
      if (here_shared) {
        return absl::FailedPreconditionError(
            absl::StrCat(next, " on socket path ", path, " is a symbolic link in ", shown,
                         ", a directory other users can write; refusing to follow it: remove ",
                         next, " and restart"));
      }
      if (++links > kMaxSymlinks) {
        return absl::FailedPreconditionError(
            absl::StrCat("too many symbolic links on socket path ", path));
      }
      std::string target(PATH_MAX, '\0');
      const ssize_t n = readlinkat(fd.get(), comp.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoStatus("readlink", next, errno);
      if (static_cast<size_t>(n) >= target.size()) {
        return absl::FailedPreconditionError(absl::StrCat("symbolic link ", next, " is too long"));
      }
      target.resize(static_cast<size_t>(n));
      std::vector<std::string> parts = Components(target);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_front(std::move(*it));
      if (!target.empty() && target[0] == '/') {
        fd.reset(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (fd.get() < 0) return ErrnoStatus("open", "/", errno);
        shown = "/";
        if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", shown, errno);
        RETURN_IF_ERROR(CheckDir(st, shown, path, /*socket_dir=*/false));
      }
      continue;
    }
    // A directory we created is opened for reading so that we can fchmod it;
    // any other only as a path. Never through a link.
    const int flags = (created ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    FdCloser nfd(openat(fd.get(), comp.c_str(), flags));
    if (nfd.get() < 0) {
      if (errno == ENOTDIR || errno == ELOOP) {
        return absl::FailedPreconditionError(absl::StrCat(next, " exists and is not a directory"));
      }
      if (errno == ENOENT && ++retries <= kMaxRetries) {
        todo.push_front(comp);  // removed meanwhile: look again
        continue;
      }
      return ErrnoStatus("open", next, errno);
    }
    if (fstat(nfd.get(), &st) != 0) return ErrnoStatus("stat", next, errno);
    if (created) {
      // Nobody else can replace an entry of this directory (it is ours, or
      // sticky), so this is the directory mkdirat made.
      if (st.st_uid != geteuid()) {
        return absl::FailedPreconditionError(
            absl::StrCat("directory ", next, " was replaced while it was being created"));
      }
      // Exactly dir_mode, whatever the umask.
      if (fchmod(nfd.get(), dir_mode & 07777) != 0) return ErrnoStatus("chmod", next, errno);
      if (fstat(nfd.get(), &st) != 0) return ErrnoStatus("stat", next, errno);
    }
    fd.reset(nfd.release());
    shown = next;
    RETURN_IF_ERROR(CheckDir(st, shown, path, /*socket_dir=*/false));
  }
  RETURN_IF_ERROR(CheckDir(st, shown, path, /*socket_dir=*/true));
  // The kernel resolves the path as we did; the socket is bound by that path
  // (sun_path), so make sure it leads to the directory we checked.
  struct stat by_path;
  if (stat(out.dir.c_str(), &by_path) != 0) return ErrnoStatus("stat", out.dir, errno);
  if (by_path.st_dev != st.st_dev || by_path.st_ino != st.st_ino) {
    return absl::FailedPreconditionError(
        absl::StrCat("directory ", out.dir, " changed while it was being checked"));
  }
  out.fd = fd.release();
  return out;
}

absl::Status RemoveStaleSocketAt(const SocketDir& dir, const std::string& path) {
  struct stat st;
  if (fstatat(dir.fd, dir.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus("lstat", path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; refusing to replace it"));
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is a socket owned by uid ", st.st_uid,
                                                      ", not by this process's uid ", geteuid(),
                                                      "; refusing to replace it"));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path \"", path, "\" is too long"));
  }
  memcpy(addr.sun_path, path.data(), path.size());
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return ErrnoStatus("socket for", path, errno);
  const int rc = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(probe);
  if (rc == 0 || err == EAGAIN) {
    return absl::AlreadyExistsError(absl::StrCat("another server is listening on ", path));
  }
  if (unlinkat(dir.fd, dir.name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus("unlink", path, errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<struct stat> SetSocketModeAt(const SocketDir& dir, const std::string& path,
                                            mode_t mode) {
  FdCloser fd(openat(dir.fd, dir.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("open", path, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " was replaced after it was bound; refusing to change its mode"));
  }
  // chmod through the descriptor's /proc link changes the inode the
  // descriptor refers to, whatever happens to the name meanwhile (what
  // glibc's fchmodat(AT_SYMLINK_NOFOLLOW) does without fchmodat2).
  const std::string via = absl::StrCat("/proc/self/fd/", fd.get());
  if (chmod(via.c_str(), mode & 07777) != 0) return ErrnoStatus("chmod", path, errno);
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  return st;
}

void UnlinkSocketIfSame(int dir_fd, const char* name, dev_t dev, ino_t ino) {
  struct stat st;
  if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == dev &&
      st.st_ino == ino) {
    unlinkat(dir_fd, name, 0);
  }
}

namespace {

// Registered sockets, read by the fatal-signal handler: plain data behind an
// atomic state (0 free, 1 being written, 2 ready).
struct CleanupSlot {
  std::atomic<int> state{0};
  int dir_fd = -1;
  char name[sizeof(sockaddr_un::sun_path)] = {};
  dev_t dev = 0;
  ino_t ino = 0;
};
constexpr int kCleanupSlots = 16;
CleanupSlot g_cleanup[kCleanupSlots];
static_assert(std::atomic<int>::is_always_lock_free, "signal handler needs lock-free atomics");

// Signals whose default action ends the process, other than SIGKILL and
// SIGSTOP (which cannot be caught) and SIGINT/SIGTERM (the daemons wait for
// those and stop normally).
constexpr int kFatalSignals[] = {SIGHUP, SIGQUIT, SIGILL,  SIGTRAP, SIGABRT, SIGBUS,
                                 SIGFPE, SIGSEGV, SIGALRM, SIGXCPU, SIGXFSZ, SIGSYS};

void FatalSignalHandler(int sig) {
  const int saved = errno;
  for (CleanupSlot& s : g_cleanup) {
    if (s.state.load(std::memory_order_acquire) == 2) {
      UnlinkSocketIfSame(s.dir_fd, s.name, s.dev, s.ino);
    }
  }
  errno = saved;
  // SA_RESETHAND restored the default action. The signal is blocked while
  // this runs: raised again, it takes effect as soon as we return (a fault
  // would also simply recur).
  raise(sig);
}

void InstallFatalSignalHandlers() {
  for (int sig : kFatalSignals) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa {};
    sa.sa_handler = FatalSignalHandler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(sig, &sa, nullptr);
  }
}

}  // namespace

int RegisterSocketCleanup(int dir_fd, const std::string& name, dev_t dev, ino_t ino) {
  static std::once_flag once;
  std::call_once(once, InstallFatalSignalHandlers);
  if (name.size() >= sizeof(CleanupSlot::name)) return -1;
  for (int i = 0; i < kCleanupSlots; ++i) {
    CleanupSlot& s = g_cleanup[i];
    int expected = 0;
    if (!s.state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) continue;
    s.dir_fd = dir_fd;
    memcpy(s.name, name.c_str(), name.size() + 1);
    s.dev = dev;
    s.ino = ino;
    s.state.store(2, std::memory_order_release);
    return i;
  }
  return -1;
}

void UnregisterSocketCleanup(int slot) {
  if (slot < 0 || slot >= kCleanupSlots) return;
  g_cleanup[slot].state.store(0, std::memory_order_release);
}

}  // namespace signet
