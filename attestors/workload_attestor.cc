#include "attestors/workload_attestor.h"

#include <set>

namespace signet::attestors {

bool SelectorsMatch(const std::vector<Selector>& entry, const std::vector<Selector>& workload) {
  if (entry.empty()) return false;
  std::set<Selector> have(workload.begin(), workload.end());
  for (const Selector& s : entry) {
    if (have.count(s) == 0) return false;
  }
  return true;
}

}  // namespace signet::attestors
