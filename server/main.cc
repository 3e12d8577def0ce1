// signet-server: the server process and its admin CLI.
#include <string>
#include <vector>

#include "server/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return signet::server::RunCli(args);
}
