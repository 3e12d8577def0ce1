// Workload attestation: the interface every workload attestor implements, the
// selector type they produce, and the process-information seam they read the
// operating system through.
#ifndef SIGNET_ATTESTORS_WORKLOAD_ATTESTOR_H_
#define SIGNET_ATTESTORS_WORKLOAD_ATTESTOR_H_

#include <sys/types.h>

#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"

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

// WorkloadAttestor discovers the selectors of a process. Implementations are
// thread-safe: the Workload API calls Attest from many threads at once.
class WorkloadAttestor {
 public:
  virtual ~WorkloadAttestor() = default;
  // Attest returns the selectors of process `pid`. Returns an error status
  // (NotFound when the process is gone, Internal otherwise) when the process
  // cannot be inspected.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Selector>> Attest(pid_t pid) = 0;
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
