// Safe places for unix sockets below directories other users can write (the
// default socket paths live under /tmp). A socket's directory is opened and
// checked one component at a time without following links, and the socket
// file is afterwards only touched relative to that directory, never by a
// path another user could redirect (SECURITY.md, "Socket directories").
#ifndef SIGNET_COMMON_SOCKET_PATH_H_
#define SIGNET_COMMON_SOCKET_PATH_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace signet {

// SocketDir is the checked directory of a socket path.
struct SocketDir {
  int fd = -1;       // O_PATH descriptor of the directory (the caller closes it)
  std::string dir;   // the directory as given in the path
  std::string name;  // the socket's name inside it
};

// OpenSocketDir walks the directories of the absolute socket `path` from "/"
// and returns its directory. Missing directories are created with `dir_mode`
// (owned by this process's user). Every directory on the way must be owned
// by this process's effective uid or by root and must not be writable by
// others, nor by a group other than this process's effective gid; a
// directory with the sticky bit (like /tmp) may be, except the socket's own
// directory. A symbolic link is followed only when the directory holding it
// is not writable by other users in that sense.
// FailedPrecondition naming the offending directory and the fix otherwise.
[[nodiscard]] absl::StatusOr<SocketDir> OpenSocketDir(const std::string& path, mode_t dir_mode);

// RemoveStaleSocketAt removes `dir.name` if it is a socket owned by this
// process's user on which nobody listens (`path` is the full path, used to
// probe it and in messages). OK when there is nothing there;
// FailedPrecondition when it is another kind of file or someone else's
// socket, AlreadyExists when a server answers on it.
[[nodiscard]] absl::Status RemoveStaleSocketAt(const SocketDir& dir, const std::string& path);

// SetSocketModeAt sets the mode of the socket `dir.name` that this process
// just bound, without following links: the file is opened with O_PATH and
// O_NOFOLLOW, checked to be a socket owned by this process's user, and
// chmod'ed through that descriptor. Returns its stat (for its device and
// inode).
[[nodiscard]] absl::StatusOr<struct stat> SetSocketModeAt(const SocketDir& dir,
                                                          const std::string& path, mode_t mode);

// UnlinkSocketIfSame removes `name` in `dir_fd` if it is still the file
// with `dev`/`ino`. Async-signal-safe.
void UnlinkSocketIfSame(int dir_fd, const char* name, dev_t dev, ino_t ino);

// Fatal-signal cleanup: a registered socket is unlinked (if it is still
// ours) when the process dies of a signal whose default action ends it
// (SIGABRT, SIGSEGV, SIGBUS, SIGXFSZ, SIGHUP, ...), before the signal takes
// its default effect. Handlers are installed on the first registration, and
// only for signals whose disposition is still the default, so a process that
// ignores a signal (or a sanitizer that handles it) keeps its choice.
// RegisterSocketCleanup returns a slot for UnregisterSocketCleanup, or -1 if
// every slot is taken (the socket is then only removed by a normal stop).
int RegisterSocketCleanup(int dir_fd, const std::string& name, dev_t dev, ino_t ino);
void UnregisterSocketCleanup(int slot);

}  // namespace signet

#endif  // SIGNET_COMMON_SOCKET_PATH_H_
