// Workload attestation: the one interface every workload attestor implements
// (the built-in plugins, the catalog that fans out to them, test fakes) and
// the selector type they produce. A consumer includes only this header.
#ifndef SIGNET_ATTESTORS_WORKLOAD_ATTESTOR_H_
#define SIGNET_ATTESTORS_WORKLOAD_ATTESTOR_H_

#include <sys/types.h>

#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace signet::attestors {

// Selector is one attested property of a workload, e.g. {"unix", "uid:1000"}.
struct Selector {
  std::string type;
  std::string value;

  std::string ToString() const { return type + ":" + value; }
  bool operator==(const Selector& o) const { return type == o.type && value == o.value; }
  bool operator!=(const Selector& o) const { return !(*this == o); }
  bool operator<(const Selector& o) const {
    return std::tie(type, value) < std::tie(o.type, o.value);
  }
};

// WorkloadProcess is the process being attested, as the agent learned it
// from the kernel (SO_PEERCRED on the caller's connection).
struct WorkloadProcess {
  pid_t pid = 0;
  // A pidfd pinning the process, or -1. Owned by the caller and valid for
  // the duration of Attest; the built-in attestors do not read it yet.
  int pidfd = -1;
};

// WorkloadAttestor discovers the selectors of a process. Implementations are
// thread-safe: the Workload API calls Attest from many threads at once.
class WorkloadAttestor {
 public:
  virtual ~WorkloadAttestor() = default;
  // Attest returns the selectors of `process`. Work that waits on I/O (an
  // HTTP request to a container runtime or the kubelet) ends by `deadline`
  // (absl::InfiniteFuture(): bounded only by the attestor's own timeouts),
  // with DeadlineExceeded. Returns an error status (NotFound when the process
  // is gone, Internal otherwise) when the process cannot be inspected.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Selector>> Attest(const WorkloadProcess& process,
                                                                     absl::Time deadline) = 0;
  // name returns the plugin name ("unix"), which is also the selector type.
  virtual std::string name() const = 0;
};

// SelectorsMatch reports whether every selector in `entry` is also in
// `workload` (an entry matches a workload when its selectors are a subset of
// the workload's). An empty `entry` never matches: an entry without selectors
// must not hand its identity to every process.
bool SelectorsMatch(const std::vector<Selector>& entry, const std::vector<Selector>& workload);

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_WORKLOAD_ATTESTOR_H_
