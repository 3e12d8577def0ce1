// signet-server: the server process and its admin CLI.
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/cli.h"

int main(int argc, char** argv) {
  // Debian's Abseil leaves the mutex deadlock detector on; it costs several
  // percent of CPU on every lock (graph-cycle bookkeeping) and is a debugging
  // aid only.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  return signet::server::RunCli(args);
}
