// signet-agent: the node agent and the workload-side CLI.
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "agent/cli.h"

int main(int argc, char** argv) {
  // Debian's Abseil leaves the mutex deadlock detector on; it costs 3-19% of
  // the agent's CPU per Workload API call (bench/NOTES.md). Lock ordering is
  // still checked in the unit tests, which keep the default.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  return signet::agent::RunCli(args);
}
