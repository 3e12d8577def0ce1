// join_token: the agent presents a single-use token made by
// `signet-server token generate`; the token is consumed from the datastore.
// Agent ID: spiffe://<td>/spire/agent/join_token/<token>.
#include "server/nodeattestor/join_token/join_token_plugin.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/spiffe_id.h"
#include "common/status_macros.h"
#include "server/clock.h"
#include "server/datastore/datastore.h"

namespace signet::server {
namespace {

constexpr char kUnknownToken[] = "join token does not exist or has already been used";

// JoinTokenAttestor is thread-safe (the datastore consumes atomically).
class JoinTokenAttestor final : public NodeAttestor {
 public:
  JoinTokenAttestor(TrustDomain td, Datastore* ds, Clock* clock)
      : td_(std::move(td)), ds_(ds), clock_(clock) {}

  absl::StatusOr<AttestationResult> Attest(absl::string_view payload,
                                           ChallengeResponder&) const override {
    const std::string token(payload);
    if (token.empty()) return absl::InvalidArgumentError("join token is empty");
    if (!ValidatePath("/" + token).ok()) return absl::PermissionDeniedError(kUnknownToken);
    absl::StatusOr<signet::types::JoinToken> t = ds_->ConsumeJoinToken(token, clock_->Now());
    if (!t.ok()) {
      if (t.status().code() != absl::StatusCode::kNotFound) return t.status();
      if (IsJoinTokenExpired(t.status())) {
        return absl::PermissionDeniedError("join token expired");
      }
      return absl::PermissionDeniedError(kUnknownToken);
    }
    ASSIGN_OR_RETURN(SpiffeId id, SpiffeId::FromParts(td_, "/spire/agent/join_token/" + token));
    return AttestationResult{std::move(id), {}, t->spiffe_id()};
  }

 private:
  const TrustDomain td_;
  Datastore* const ds_;
  Clock* const clock_;
};

void ReadConfig(ConfigSection&, ServerConfig& config) { config.join_token_enabled = true; }

absl::StatusOr<std::unique_ptr<NodeAttestor>> Create(const ServerDeps& deps) {
  return std::make_unique<JoinTokenAttestor>(deps.trust_domain, deps.ds, deps.clock);
}

}  // namespace

NodeAttestorPlugin JoinTokenNodeAttestor() { return {"join_token", ReadConfig, Create}; }

}  // namespace signet::server
