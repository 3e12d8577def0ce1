// The signet-server command line: `run`, `validate` and the admin commands
// that talk to a running server over its admin socket.
#ifndef SIGNET_SERVER_CLI_H_
#define SIGNET_SERVER_CLI_H_

#include <string>
#include <vector>

namespace signet::server {

// RunCli runs the command in `args` (without the program name) and returns
// the process exit code: 0 success, 1 any error (message on stderr).
int RunCli(const std::vector<std::string>& args);

}  // namespace signet::server

#endif  // SIGNET_SERVER_CLI_H_
