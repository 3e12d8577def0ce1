// signet-agent's command line: `run`, the workload-side `api` commands,
// `debug info` (admin socket), `healthcheck` and `validate`, with
// spire-agent's names and flags where spire-agent has them.
#ifndef SIGNET_AGENT_CLI_H_
#define SIGNET_AGENT_CLI_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace signet::agent {

// ParsedFlags holds the flags of one agent command, as parsed by the common
// FlagSet (common/flags.h): "-name value", "--name value", "-name=value".
struct ParsedFlags {
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> bools;
  std::vector<std::string> positional;

  std::string Get(const std::string& name, const std::string& def = "") const;
  bool Has(const std::string& name) const { return values.count(name) || bools.count(name); }
};

// ParseFlags parses `args` with a FlagSet accepting `value_flags` (take a
// value; every occurrence is kept) and `bool_flags`. InvalidArgument naming an
// unknown flag, a missing value or a bad boolean; Cancelled for -h/-help.
[[nodiscard]] absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                                     const std::set<std::string>& value_flags,
                                                     const std::set<std::string>& bool_flags);

// RunCli runs signet-agent with `args` (without argv[0]) and returns the
// process exit code.
int RunCli(const std::vector<std::string>& args);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_CLI_H_
