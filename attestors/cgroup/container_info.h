// Container id and pod UID of a process, from the cgroup paths the kernel
// reports in /proc/<pid>/cgroup (and, as a fallback, the roots of the cgroup
// mounts in /proc/<pid>/mountinfo). Covers cgroup v1 and v2 and the path
// shapes of Docker, containerd (CRI), CRI-O and Podman under the cgroupfs and
// systemd drivers, e.g.
//   /docker/<64hex>
//   /system.slice/docker-<64hex>.scope
//   /kubepods/besteffort/pod<uid>/<64hex>
//   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/
//       cri-containerd-<64hex>.scope
//   .../crio-<64hex>.scope, .../libpod-<64hex>.scope
//   /../../kubepods-...-pod<uid>.slice/cri-containerd-<64hex>.scope (agent in
//       its own cgroup namespace)
#ifndef SIGNET_ATTESTORS_CGROUP_CONTAINER_INFO_H_
#define SIGNET_ATTESTORS_CGROUP_CONTAINER_INFO_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config.h"

namespace signet::attestors {

// ContainerInfo says which container (and pod) a process runs in.
struct ContainerInfo {
  // The runtime's container id (64 hex digits); empty when the process is
  // not in a container.
  std::string container_id;
  // The Kubernetes pod UID with dashes ("0c7b3c2a-..."), or the 32-hex
  // config hash of a static pod; empty when not in a pod.
  std::string pod_uid;

  bool operator==(const ContainerInfo& o) const {
    return container_id == o.container_id && pod_uid == o.pod_uid;
  }
};

// CgroupEntry is one line of /proc/<pid>/cgroup:
// "hierarchy-ID:controller-list:cgroup-path".
struct CgroupEntry {
  std::string hierarchy_id;
  std::string controllers;
  std::string path;
};

// ParseProcCgroup parses a /proc/<pid>/cgroup text. InvalidArgument naming the
// line when a non-empty line lacks the two ':' separators.
[[nodiscard]] absl::StatusOr<std::vector<CgroupEntry>> ParseProcCgroup(absl::string_view text);

// ParseMountInfoCgroupRoots returns the root (field 4, octal escapes decoded)
// of every "cgroup"/"cgroup2" mount in a /proc/<pid>/mountinfo text.
// InvalidArgument naming the line when a line has no " - " separator or too
// few fields.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ParseMountInfoCgroupRoots(
    absl::string_view text);

// ContainerInfoFromCgroupPath extracts the ids from one cgroup path: walking
// back from the last segment, the first 64-hex run bounded by non-word
// characters is the container id; walking further back, "pod" followed by a
// UUID whose groups are separated by '-' or '_' (or 32 hex digits) is the pod
// UID, returned with dashes. Both empty when there is no container id.
ContainerInfo ContainerInfoFromCgroupPath(absl::string_view path);

// MergeContainerInfo combines the ids of several paths (one per v1 hierarchy,
// plus the v2 one): an entry with a pod UID wins over entries without (kind
// nests a node container around the pods); any other disagreement is
// FailedPrecondition ("multiple container IDs found ...", "multiple pod UIDs
// found ...") since choosing one would be a guess.
[[nodiscard]] absl::StatusOr<ContainerInfo> MergeContainerInfo(
    const std::vector<std::string>& paths);

// ContainerInfoFromProcFiles applies the above to the text of
// /proc/<pid>/cgroup and, only when that names no container, to the cgroup
// mount roots of /proc/<pid>/mountinfo (which the workload could influence,
// so it never overrides what the kernel's cgroup file says). Errors as the
// parse and merge functions.
[[nodiscard]] absl::StatusOr<ContainerInfo> ContainerInfoFromProcFiles(
    absl::string_view cgroup_text, absl::string_view mountinfo_text);

// ReadSpireLocatorKeys reads the container-locator settings SPIRE's docker
// and k8s plugins share, from their plugin_data: use_new_container_locator
// (true is what Signet's locator is; false is refused, there is no legacy
// one), verbose_container_locator_logs (returned) and an `experimental` block,
// accepted only empty (every key in it is refused as unsupported, naming
// `plugin`). Problems are recorded in the section's ConfigErrors.
bool ReadSpireLocatorKeys(ConfigSection& data, absl::string_view plugin);

// ContainerLocator finds the container of a process. Thread-safe.
class ContainerLocator {
 public:
  virtual ~ContainerLocator() = default;
  // Locate returns the container of `pid` (empty ids when it is not in one).
  // NotFound when the process does not exist, FailedPrecondition on
  // conflicting ids, Internal/InvalidArgument when the files cannot be read
  // or parsed.
  [[nodiscard]] virtual absl::StatusOr<ContainerInfo> Locate(pid_t pid) = 0;
};

// NewProcContainerLocator reads <proc_root>/<pid>/cgroup and mountinfo.
std::unique_ptr<ContainerLocator> NewProcContainerLocator(std::string proc_root = "/proc");

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_CGROUP_CONTAINER_INFO_H_
