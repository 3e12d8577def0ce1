// `signet-agent run`: the agent process.
#ifndef SIGNET_AGENT_RUN_H_
#define SIGNET_AGENT_RUN_H_

#include "absl/status/status.h"
#include "agent/config.h"

namespace signet::agent {

// RunAgent serves the Workload API on config.socket_path, attests and syncs
// until SIGINT/SIGTERM. Returns the reason it could not start or keep running
// (FailedPrecondition, PermissionDenied from the server, ...).
[[nodiscard]] absl::Status RunAgent(AgentConfig config);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_RUN_H_
