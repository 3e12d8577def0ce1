// x509pop: the agent presents a certificate chain that verifies against the
// configured CA bundle and proves possession of the leaf's key by signing a
// fresh challenge. Agent ID: spiffe://<td>/spire/agent/x509pop/<sha1 of leaf>.
#include "server/nodeattestor/x509pop/x509pop_plugin.h"

#include <stdio.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/keys.h"
#include "common/spiffe_id.h"
#include "common/status_macros.h"
#include "common/x509.h"
#include "server/clock.h"
#include "server/nodeattestor/x509pop/x509pop.h"

namespace signet::server {
namespace {

// ReadWholeFile reads `path`; NotFound "cannot read <path>" when it cannot.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  fclose(f);
  return out;
}

// X509PopAttestor is thread-safe (immutable; the clock is).
class X509PopAttestor final : public NodeAttestor {
 public:
  X509PopAttestor(TrustDomain td, std::vector<X509Ptr> roots, Clock* clock)
      : td_(std::move(td)), roots_(std::move(roots)), clock_(clock) {}

  absl::StatusOr<AttestationResult> Attest(absl::string_view payload,
                                           ChallengeResponder& responder) const override {
    ASSIGN_OR_RETURN(X509PopIdentity ident, VerifyX509PopChain(payload, roots_, clock_->Now()));
    ASSIGN_OR_RETURN(std::string challenge, RandomBytes(32));
    absl::StatusOr<std::string> answer = responder.Challenge(challenge);
    if (absl::IsInvalidArgument(answer.status())) {
      return absl::InvalidArgumentError(absl::StrCat("x509pop: ", answer.status().message()));
    }
    if (!answer.ok()) return answer.status();
    RETURN_IF_ERROR(VerifyChallengeSignature(ident.leaf_key.get(), challenge, *answer));
    ASSIGN_OR_RETURN(SpiffeId id,
                     SpiffeId::FromParts(td_, "/spire/agent/x509pop/" + ident.fingerprint));
    return AttestationResult{std::move(id), std::move(ident.selectors), ""};
  }

 private:
  const TrustDomain td_;
  const std::vector<X509Ptr> roots_;
  Clock* const clock_;
};

void ReadConfig(ConfigSection& settings, ServerConfig& config) {
  config.x509pop_enabled = true;
  config.x509pop_ca_bundle_path = settings.String("ca_bundle_path");
  if (config.x509pop_ca_bundle_path.empty()) {
    settings.Error("ca_bundle_path", "is required");
  } else if (access(config.x509pop_ca_bundle_path.c_str(), R_OK) != 0) {
    settings.Error("ca_bundle_path", "cannot read \"" + config.x509pop_ca_bundle_path + "\"");
  }
}

absl::StatusOr<std::unique_ptr<NodeAttestor>> Create(const ServerDeps& deps) {
  const std::string& path = deps.config->x509pop_ca_bundle_path;
  ASSIGN_OR_RETURN(std::string pem, ReadWholeFile(path));
  absl::StatusOr<std::vector<X509Ptr>> roots = ParseCertsPem(pem);
  if (!roots.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("x509pop ca_bundle_path ", path, ": ", roots.status().message()));
  }
  return std::make_unique<X509PopAttestor>(deps.trust_domain, *std::move(roots), deps.clock);
}

}  // namespace

NodeAttestorPlugin X509PopNodeAttestor() {
  return {"x509pop", ReadConfig, Create, /*can_reattest=*/true};
}

}  // namespace signet::server
