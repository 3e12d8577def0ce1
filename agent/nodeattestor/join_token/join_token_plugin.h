// The agent's join_token node attestor kind: sends the configured token.
#ifndef SIGNET_AGENT_NODEATTESTOR_JOIN_TOKEN_JOIN_TOKEN_PLUGIN_H_
#define SIGNET_AGENT_NODEATTESTOR_JOIN_TOKEN_JOIN_TOKEN_PLUGIN_H_

#include "agent/nodeattestor/registry.h"

namespace signet::agent {

// JoinTokenNodeAttestor returns the join_token kind.
NodeAttestorPlugin JoinTokenNodeAttestor();

}  // namespace signet::agent

#endif  // SIGNET_AGENT_NODEATTESTOR_JOIN_TOKEN_JOIN_TOKEN_PLUGIN_H_
