// signet-agent: the node agent and the workload-side CLI.
#include <string>
#include <vector>

#include "agent/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return signet::agent::RunCli(args);
}
