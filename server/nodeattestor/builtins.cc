// The node attestor kinds compiled into signet-server: one line each.
#include "server/nodeattestor/join_token/join_token_plugin.h"
#include "server/nodeattestor/k8s_psat/k8s_psat_plugin.h"
#include "server/nodeattestor/registry.h"
#include "server/nodeattestor/x509pop/x509pop_plugin.h"

namespace signet::server {

std::vector<NodeAttestorPlugin> BuiltinNodeAttestors() {
  return {
      JoinTokenNodeAttestor(),
      X509PopNodeAttestor(),
      K8sPsatNodeAttestor(),
  };
}

}  // namespace signet::server
