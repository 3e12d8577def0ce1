// The node attestor kinds compiled into signet-agent: one line each.
#include "agent/nodeattestor/join_token/join_token_plugin.h"
#include "agent/nodeattestor/k8s_psat/k8s_psat_plugin.h"
#include "agent/nodeattestor/registry.h"
#include "agent/nodeattestor/x509pop/x509pop_plugin.h"

namespace signet::agent {

std::vector<NodeAttestorPlugin> BuiltinNodeAttestors() {
  return {
      JoinTokenNodeAttestor(),
      X509PopNodeAttestor(),
      K8sPsatNodeAttestor(),
  };
}

}  // namespace signet::agent
