// k8s_psat: the agent presents its projected service-account token, which
// K8sPsatVerifier checks with the cluster's apiserver (k8s_psat.h).
#include "server/nodeattestor/k8s_psat/k8s_psat_plugin.h"

#include <memory>
#include <utility>

#include "common/status_macros.h"
#include "server/nodeattestor/k8s_psat/k8s_psat.h"
#include "server/nodeattestor/k8s_psat/k8s_psat_config.h"

namespace signet::server {
namespace {

// K8sPsatAttestor is thread-safe (K8sPsatVerifier is).
class K8sPsatAttestor final : public NodeAttestor {
 public:
  explicit K8sPsatAttestor(std::unique_ptr<K8sPsatVerifier> verifier)
      : verifier_(std::move(verifier)) {}

  absl::StatusOr<AttestationResult> Attest(absl::string_view payload,
                                           ChallengeResponder&) const override {
    ASSIGN_OR_RETURN(K8sPsatResult r, verifier_->Attest(payload));
    return AttestationResult{std::move(r.agent_id), std::move(r.selectors), ""};
  }

 private:
  const std::unique_ptr<K8sPsatVerifier> verifier_;
};

void ReadConfig(ConfigSection& settings, ServerConfig& config) {
  config.k8s_psat_enabled = true;
  config.k8s_psat = ParseK8sPsatConfig(settings);
}

absl::StatusOr<std::unique_ptr<NodeAttestor>> Create(const ServerDeps& deps) {
  ASSIGN_OR_RETURN(std::unique_ptr<K8sPsatVerifier> verifier,
                   NewK8sPsatVerifier(deps.trust_domain, deps.config->k8s_psat));
  return std::make_unique<K8sPsatAttestor>(std::move(verifier));
}

}  // namespace

NodeAttestorPlugin K8sPsatNodeAttestor() {
  return {"k8s_psat", ReadConfig, Create, /*can_reattest=*/true};
}

}  // namespace signet::server
