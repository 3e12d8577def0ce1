// The k8s_psat node attestor kind, for the registry (builtins.cc).
#ifndef SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_PLUGIN_H_
#define SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_PLUGIN_H_

#include "server/nodeattestor/registry.h"

namespace signet::server {

// K8sPsatNodeAttestor returns the k8s_psat kind.
NodeAttestorPlugin K8sPsatNodeAttestor();

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_K8S_PSAT_PLUGIN_H_
