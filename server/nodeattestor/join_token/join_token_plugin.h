// The join_token node attestor kind, for the registry (builtins.cc).
#ifndef SIGNET_SERVER_NODEATTESTOR_JOIN_TOKEN_JOIN_TOKEN_PLUGIN_H_
#define SIGNET_SERVER_NODEATTESTOR_JOIN_TOKEN_JOIN_TOKEN_PLUGIN_H_

#include "server/nodeattestor/registry.h"

namespace signet::server {

// JoinTokenNodeAttestor returns the join_token kind.
NodeAttestorPlugin JoinTokenNodeAttestor();

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_JOIN_TOKEN_JOIN_TOKEN_PLUGIN_H_
