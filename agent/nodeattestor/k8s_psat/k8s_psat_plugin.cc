#include "agent/nodeattestor/k8s_psat/k8s_psat_plugin.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace signet::agent {
namespace {

class K8sPsatAttestor final : public NodeAttestor {
 public:
  K8sPsatAttestor(std::string cluster, std::string token_path)
      : cluster_(std::move(cluster)), token_path_(std::move(token_path)) {}

  absl::StatusOr<std::string> Payload() override {
    ASSIGN_OR_RETURN(std::string token, ReadK8sPsatToken(token_path_));
    return K8sPsatPayload(cluster_, token);
  }
  absl::StatusOr<std::string> AnswerChallenge(absl::string_view) override {
    return absl::InternalError("server sent an unexpected challenge");
  }

 private:
  const std::string cluster_;
  const std::string token_path_;
};

void ReadConfig(ConfigSection& d, AgentConfig& c) {
  c.k8s_psat_cluster = d.String("cluster");
  c.k8s_psat_token_path = d.String("token_path", kDefaultK8sPsatTokenPath);
  if (c.k8s_psat_cluster.empty()) {
    d.Error("cluster", "is required");
  } else if (c.k8s_psat_cluster.find('/') != std::string::npos) {
    d.Error("cluster", "must not contain '/'");
  }
  if (c.k8s_psat_token_path.empty()) d.Error("token_path", "must not be empty");
}

bool HasCredentials(const AgentConfig&) { return true; }

absl::StatusOr<std::unique_ptr<NodeAttestor>> Create(const AgentConfig& config) {
  return std::make_unique<K8sPsatAttestor>(config.k8s_psat_cluster, config.k8s_psat_token_path);
}

}  // namespace

NodeAttestorPlugin K8sPsatNodeAttestor() {
  return {"k8s_psat", ReadConfig, HasCredentials, Create};
}

std::string K8sPsatPayload(absl::string_view cluster, absl::string_view token) {
  google::protobuf::Struct s;
  (*s.mutable_fields())["cluster"].set_string_value(std::string(cluster));
  (*s.mutable_fields())["token"].set_string_value(std::string(token));
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(s, &out);
  return out;
}

absl::StatusOr<std::string> ReadK8sPsatToken(const std::string& path) {
  absl::StatusOr<std::string> raw = ReadAttestationFile(path);
  if (!raw.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("k8s_psat: cannot read token \"", path, "\": ", raw.status().message()));
  }
  std::string token(absl::StripAsciiWhitespace(*raw));
  if (token.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("k8s_psat: token \"", path, "\" is empty"));
  }
  return token;
}

}  // namespace signet::agent
