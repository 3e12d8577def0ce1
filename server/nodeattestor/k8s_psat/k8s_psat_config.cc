#include "server/nodeattestor/k8s_psat/k8s_psat_config.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace signet::server {
namespace {

// ValidAllowListEntry accepts "<namespace>:<name>" with both parts non-empty.
bool ValidAllowListEntry(const std::string& sa) {
  std::vector<std::string> parts = absl::StrSplit(sa, ':');
  return parts.size() == 2 && !parts[0].empty() && !parts[1].empty();
}

}  // namespace

K8sPsatConfig ParseK8sPsatConfig(ConfigSection& data) {
  K8sPsatConfig out;
  ConfigSection clusters = data.Section("clusters");
  if (!clusters.present()) {
    data.Error("clusters", "at least one cluster must be configured");
  }
  for (const std::string& name : clusters.Keys()) {
    ConfigSection c = clusters.Section(name);
    if (name.empty() || absl::StrContains(name, "/")) {
      clusters.Error(name, "cluster names must be non-empty and must not contain '/'");
    }
    K8sPsatClusterSettings s;
    s.service_account_allow_list = c.StringList("service_account_allow_list");
    if (s.service_account_allow_list.empty()) {
      c.Error("service_account_allow_list",
              "must list at least one service account (\"<namespace>:<name>\")");
    }
    for (const std::string& sa : s.service_account_allow_list) {
      if (!ValidAllowListEntry(sa)) {
        c.Error("service_account_allow_list",
                absl::StrCat("entry \"", sa, "\" is not \"<namespace>:<name>\""));
      }
    }
    if (c.Has("audience")) {
      s.audience = c.StringList("audience");
      if (s.audience.empty()) c.Error("audience", "must not be empty");
    } else {
      c.MarkKnown("audience");
    }
    s.allowed_node_label_keys = c.StringList("allowed_node_label_keys");
    s.allowed_pod_label_keys = c.StringList("allowed_pod_label_keys");
    s.api.kube_config_file = c.String("kube_config_file");
    s.api.api_server_url = c.String("api_server_url");
    if (!s.api.api_server_url.empty() && !absl::StartsWith(s.api.api_server_url, "https://")) {
      c.Error("api_server_url", "must be an https:// URL");
    }
    s.api.ca_path = c.String("ca_path");
    s.api.token_path = c.String("token_path");
    s.api.request_timeout = c.Duration("request_timeout", s.api.request_timeout);
    if (s.api.request_timeout <= absl::ZeroDuration()) {
      c.Error("request_timeout", "must be positive");
    }
    c.Finish();
    out.clusters.emplace(name, std::move(s));
  }
  if (clusters.present() && out.clusters.empty()) {
    data.Error("clusters", "at least one cluster must be configured");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<K8sPsatVerifier>> NewK8sPsatVerifier(const TrustDomain& td,
                                                                    const K8sPsatConfig& config,
                                                                    const EnvLookup& env) {
  const EnvLookup& lookup = env ? env : EnvLookup(&ProcessEnv);
  std::map<std::string, K8sPsatClusterConfig> clusters;
  for (const auto& [name, s] : config.clusters) {
    absl::StatusOr<KubeApiClientConfig> api = ResolveKubeApiClientConfig(s.api, lookup);
    absl::StatusOr<KubeApiTransport> transport =
        api.ok() ? NewHttpsKubeApiTransport(*api) : absl::StatusOr<KubeApiTransport>(api.status());
    if (!transport.ok()) {
      return absl::Status(
          transport.status().code(),
          absl::StrCat("k8s_psat: cluster \"", name, "\": ", transport.status().message()));
    }
    K8sPsatClusterConfig c;
    c.service_account_allow_list = s.service_account_allow_list;
    c.audience = s.audience;
    c.allowed_node_label_keys = s.allowed_node_label_keys;
    c.allowed_pod_label_keys = s.allowed_pod_label_keys;
    c.transport = *std::move(transport);
    clusters.emplace(name, std::move(c));
  }
  return K8sPsatVerifier::Create(td, std::move(clusters));
}

}  // namespace signet::server
