#include "agent/nodeattestor/join_token/join_token_plugin.h"

#include <memory>
#include <string>
#include <utility>

namespace signet::agent {
namespace {

class JoinTokenAttestor final : public NodeAttestor {
 public:
  explicit JoinTokenAttestor(std::string token) : token_(std::move(token)) {}

  absl::StatusOr<std::string> Payload() override { return token_; }
  absl::StatusOr<std::string> AnswerChallenge(absl::string_view) override {
    return absl::InternalError("server sent an unexpected challenge");
  }

 private:
  const std::string token_;
};

// No settings: the token comes from agent.join_token or -joinToken. None is
// fine when data_dir holds a valid agent SVID from an earlier run; Payload()
// is never reached without one (Create reports it).
void ReadConfig(ConfigSection&, AgentConfig&) {}

bool HasCredentials(const AgentConfig& config) { return !config.join_token.empty(); }

absl::StatusOr<std::unique_ptr<NodeAttestor>> Create(const AgentConfig& config) {
  if (config.join_token.empty()) {
    return absl::FailedPreconditionError("no join token configured (use -joinToken)");
  }
  return std::make_unique<JoinTokenAttestor>(config.join_token);
}

}  // namespace

NodeAttestorPlugin JoinTokenNodeAttestor() {
  return {"join_token", ReadConfig, HasCredentials, Create};
}

}  // namespace signet::agent
