// The x509pop node attestor kind, for the registry (builtins.cc).
#ifndef SIGNET_SERVER_NODEATTESTOR_X509POP_X509POP_PLUGIN_H_
#define SIGNET_SERVER_NODEATTESTOR_X509POP_X509POP_PLUGIN_H_

#include "server/nodeattestor/registry.h"

namespace signet::server {

// X509PopNodeAttestor returns the x509pop kind.
NodeAttestorPlugin X509PopNodeAttestor();

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_X509POP_X509POP_PLUGIN_H_
