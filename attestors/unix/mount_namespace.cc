#include "attestors/unix/mount_namespace.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace signet::attestors {
namespace {

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOENT || err == ESRCH) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

// ReadNamespace opens `path` (a /proc/<pid>/ns/mnt magic link) and returns
// the identity of the namespace it resolves to. The descriptor is checked to
// be an nsfs inode, so a /proc that is not procfs yields an error rather
// than some file's device and inode.
absl::StatusOr<NamespaceId> ReadNamespace(const std::string& path) {
  int fd;
  do {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  struct stat st;
  struct statfs fs;
  absl::Status status;
  if (fstat(fd, &st) != 0) {
    status = ErrnoStatus(errno, absl::StrCat("fstat ", path));
  } else if (fstatfs(fd, &fs) != 0) {
    status = ErrnoStatus(errno, absl::StrCat("fstatfs ", path));
  } else if (fs.f_type != NSFS_MAGIC) {
    status = absl::InternalError(absl::StrCat(path, " is not a namespace file"));
  }
  close(fd);
  if (!status.ok()) return status;
  return NamespaceId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

class LinuxMountNamespaces : public MountNamespaces {
 public:
  explicit LinuxMountNamespaces(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<NamespaceId> Of(pid_t pid) override {
    return ReadNamespace(absl::StrCat(root_, "/", pid, "/ns/mnt"));
  }
  absl::StatusOr<NamespaceId> Own() override {
    return ReadNamespace(absl::StrCat(root_, "/self/ns/mnt"));
  }

 private:
  const std::string root_;
};

}  // namespace

std::unique_ptr<MountNamespaces> NewLinuxMountNamespaces(const std::string& proc_root) {
  return std::make_unique<LinuxMountNamespaces>(proc_root);
}

}  // namespace signet::attestors
