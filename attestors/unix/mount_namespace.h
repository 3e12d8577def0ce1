// Which mount namespace a process is in: the unix attestor reports
// unix:path only for workloads that share the agent's mount namespace.
#ifndef SIGNET_ATTESTORS_UNIX_MOUNT_NAMESPACE_H_
#define SIGNET_ATTESTORS_UNIX_MOUNT_NAMESPACE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace signet::attestors {

// NamespaceId identifies a namespace by the device and inode number that
// stat(2) reports for /proc/<pid>/ns/<type> (the nsfs inode; two processes
// are in the same namespace exactly when both are equal).
struct NamespaceId {
  uint64_t dev = 0;
  uint64_t ino = 0;

  bool operator==(const NamespaceId& o) const { return dev == o.dev && ino == o.ino; }
  bool operator!=(const NamespaceId& o) const { return !(*this == o); }
};

// MountNamespaces reads the mount namespaces of processes. Implementations
// are thread-safe.
class MountNamespaces {
 public:
  virtual ~MountNamespaces() = default;
  // Of returns the mount namespace of process `pid`. NotFound (process
  // gone), PermissionDenied (not allowed to inspect it), Internal otherwise.
  [[nodiscard]] virtual absl::StatusOr<NamespaceId> Of(pid_t pid) = 0;
  // Own returns the mount namespace of the calling process.
  [[nodiscard]] virtual absl::StatusOr<NamespaceId> Own() = 0;
};

// NewLinuxMountNamespaces returns the implementation that stats
// <proc_root>/<pid>/ns/mnt and <proc_root>/self/ns/mnt. `proc_root` is
// normally "/proc".
std::unique_ptr<MountNamespaces> NewLinuxMountNamespaces(const std::string& proc_root = "/proc");

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_UNIX_MOUNT_NAMESPACE_H_
