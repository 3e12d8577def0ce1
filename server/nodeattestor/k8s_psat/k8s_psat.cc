#include "server/nodeattestor/k8s_psat/k8s_psat.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace signet::server {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr absl::string_view kSaPrefix = "system:serviceaccount:";
constexpr char kPodNameExtra[] = "authentication.kubernetes.io/pod-name";
constexpr char kPodUidExtra[] = "authentication.kubernetes.io/pod-uid";

absl::StatusOr<Struct> ParseObject(absl::string_view json, absl::string_view what) {
  Struct out;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out);
  if (!st.ok()) {
    return absl::InternalError(
        absl::StrCat("k8s_psat: malformed ", what, ": ", st.message().ToString()));
  }
  return out;
}

// Get walks `path` ("status.user.username") and returns the value, or
// nullptr when any step is missing or not an object.
const Value* Get(const Struct& obj, absl::string_view path) {
  const Struct* cur = &obj;
  const Value* v = nullptr;
  for (absl::string_view key : absl::StrSplit(path, '.')) {
    if (cur == nullptr) return nullptr;
    auto it = cur->fields().find(std::string(key));
    if (it == cur->fields().end()) return nullptr;
    v = &it->second;
    cur = v->has_struct_value() ? &v->struct_value() : nullptr;
  }
  return v;
}

std::string GetString(const Struct& obj, absl::string_view path) {
  const Value* v = Get(obj, path);
  return v != nullptr && v->has_string_value() ? v->string_value() : "";
}

// FirstExtra returns status.user.extra[key][0] ("" when absent).
std::string FirstExtra(const Struct& review, const std::string& key) {
  const Value* extra = Get(review, "status.user.extra");
  if (extra == nullptr || !extra->has_struct_value()) return "";
  auto it = extra->struct_value().fields().find(key);
  if (it == extra->struct_value().fields().end() || !it->second.has_list_value() ||
      it->second.list_value().values_size() == 0 ||
      !it->second.list_value().values(0).has_string_value()) {
    return "";
  }
  return it->second.list_value().values(0).string_value();
}

// IsDnsName accepts Kubernetes object names (RFC 1123 subdomains), so they
// can be put into a URL path as they are.
bool IsDnsName(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// Call sends a request and parses a 2xx JSON answer.
absl::StatusOr<Struct> Call(const K8sPsatClusterConfig& c, const std::string& method,
                            const std::string& path, const std::string& body,
                            absl::string_view what) {
  absl::StatusOr<KubeApiResponse> resp = c.transport(method, path, body);
  if (!resp.ok()) {
    return absl::UnavailableError(
        absl::StrCat("k8s_psat: ", what, " request failed: ", resp.status().message()));
  }
  if (resp->status != 200 && resp->status != 201) {
    return absl::InternalError(absl::StrCat("k8s_psat: ", what, ": apiserver answered HTTP ",
                                            resp->status, ": ", resp->body.substr(0, 200)));
  }
  return ParseObject(resp->body, what);
}

void AddLabels(const Struct& obj, const std::vector<std::string>& allowed,
               absl::string_view selector, std::vector<signet::types::Selector>* out) {
  const Value* labels = Get(obj, "metadata.labels");
  if (labels == nullptr || !labels->has_struct_value()) return;
  for (const std::string& key : allowed) {
    auto it = labels->struct_value().fields().find(key);
    if (it == labels->struct_value().fields().end() || !it->second.has_string_value()) continue;
    signet::types::Selector s;
    s.set_type("k8s_psat");
    s.set_value(absl::StrCat(selector, ":", key, ":", it->second.string_value()));
    out->push_back(std::move(s));
  }
}

}  // namespace

std::string K8sPsatPayload(absl::string_view cluster, absl::string_view token) {
  Struct s;
  (*s.mutable_fields())["cluster"].set_string_value(std::string(cluster));
  (*s.mutable_fields())["token"].set_string_value(std::string(token));
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(s, &out);
  return out;
}

absl::StatusOr<std::unique_ptr<K8sPsatVerifier>> K8sPsatVerifier::Create(
    TrustDomain td, std::map<std::string, K8sPsatClusterConfig> clusters) {
  if (clusters.empty()) return absl::InvalidArgumentError("k8s_psat: no clusters configured");
  for (const auto& [name, c] : clusters) {
    if (name.empty() || absl::StrContains(name, "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("k8s_psat: invalid cluster name \"", name, "\""));
    }
    if (!c.transport) {
      return absl::InvalidArgumentError(
          absl::StrCat("k8s_psat: cluster \"", name, "\" has no apiserver transport"));
    }
    if (c.service_account_allow_list.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "k8s_psat: cluster \"", name, "\": service_account_allow_list must not be empty"));
    }
    for (const std::string& sa : c.service_account_allow_list) {
      std::vector<std::string> parts = absl::StrSplit(sa, ':');
      if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
        return absl::InvalidArgumentError(absl::StrCat("k8s_psat: cluster \"", name,
                                                       "\": allow list entry \"", sa,
                                                       "\" is not \"<namespace>:<name>\""));
      }
    }
    if (c.audience.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("k8s_psat: cluster \"", name, "\": audience must not be empty"));
    }
  }
  return std::unique_ptr<K8sPsatVerifier>(new K8sPsatVerifier(std::move(td), std::move(clusters)));
}

absl::StatusOr<K8sPsatResult> K8sPsatVerifier::Attest(absl::string_view payload) const {
  Struct p;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(payload.data(), payload.size()), &p)
           .ok()) {
    return absl::InvalidArgumentError("k8s_psat: malformed attestation payload");
  }
  const std::string cluster = GetString(p, "cluster");
  const std::string token = GetString(p, "token");
  if (cluster.empty() || token.empty()) {
    return absl::InvalidArgumentError("k8s_psat: payload lacks cluster or token");
  }
  auto cit = clusters_.find(cluster);
  if (cit == clusters_.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("k8s_psat: not configured for cluster \"", cluster, "\""));
  }
  const K8sPsatClusterConfig& c = cit->second;

  // TokenReview.
  Struct review_req;
  auto& f = *review_req.mutable_fields();
  f["apiVersion"].set_string_value("authentication.k8s.io/v1");
  f["kind"].set_string_value("TokenReview");
  auto& spec = *f["spec"].mutable_struct_value()->mutable_fields();
  spec["token"].set_string_value(token);
  ListValue* auds = spec["audiences"].mutable_list_value();
  for (const std::string& a : c.audience) auds->add_values()->set_string_value(a);
  std::string body;
  if (!google::protobuf::util::MessageToJsonString(review_req, &body).ok()) {
    return absl::InternalError("k8s_psat: cannot encode TokenReview");
  }
  ASSIGN_OR_RETURN(Struct review, Call(c, "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                       body, "TokenReview"));
  const Value* authenticated = Get(review, "status.authenticated");
  if (authenticated == nullptr || !authenticated->has_bool_value() ||
      !authenticated->bool_value()) {
    return absl::PermissionDeniedError(
        absl::StrCat("k8s_psat: token not authenticated: ", GetString(review, "status.error")));
  }
  const Value* got_auds = Get(review, "status.audiences");
  bool audience_ok = false;
  if (got_auds != nullptr && got_auds->has_list_value()) {
    for (const Value& a : got_auds->list_value().values()) {
      if (a.has_string_value() &&
          std::find(c.audience.begin(), c.audience.end(), a.string_value()) != c.audience.end()) {
        audience_ok = true;
      }
    }
  }
  if (!audience_ok) {
    return absl::PermissionDeniedError("k8s_psat: token is not valid for the server's audience");
  }
  const std::string username = GetString(review, "status.user.username");
  if (!absl::StartsWith(username, kSaPrefix)) {
    return absl::PermissionDeniedError(
        absl::StrCat("k8s_psat: token user \"", username, "\" is not a service account"));
  }
  std::vector<std::string> ns_sa = absl::StrSplit(username.substr(kSaPrefix.size()), ':');
  if (ns_sa.size() != 2) {
    return absl::PermissionDeniedError(
        absl::StrCat("k8s_psat: malformed service account user \"", username, "\""));
  }
  const std::string allow_key = absl::StrCat(ns_sa[0], ":", ns_sa[1]);
  if (std::find(c.service_account_allow_list.begin(), c.service_account_allow_list.end(),
                allow_key) == c.service_account_allow_list.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("k8s_psat: service account \"", allow_key, "\" is not allowed"));
  }
  const std::string pod_name = FirstExtra(review, kPodNameExtra);
  const std::string pod_uid = FirstExtra(review, kPodUidExtra);
  if (pod_name.empty() || pod_uid.empty()) {
    return absl::PermissionDeniedError(
        "k8s_psat: token is not bound to a pod (not a projected service account token)");
  }
  if (!IsDnsName(ns_sa[0]) || !IsDnsName(pod_name)) {
    return absl::PermissionDeniedError("k8s_psat: invalid namespace or pod name in token");
  }

  // The pod, then its node.
  ASSIGN_OR_RETURN(Struct pod,
                   Call(c, "GET", absl::StrCat("/api/v1/namespaces/", ns_sa[0], "/pods/", pod_name),
                        "", "pod lookup"));
  if (GetString(pod, "metadata.uid") != pod_uid) {
    return absl::PermissionDeniedError(
        "k8s_psat: the token's pod no longer exists (pod UID mismatch)");
  }
  const std::string node_name = GetString(pod, "spec.nodeName");
  if (!IsDnsName(node_name)) {
    return absl::PermissionDeniedError("k8s_psat: the agent pod is not scheduled on a node");
  }
  ASSIGN_OR_RETURN(Struct node,
                   Call(c, "GET", absl::StrCat("/api/v1/nodes/", node_name), "", "node lookup"));
  const std::string node_uid = GetString(node, "metadata.uid");
  if (node_uid.empty() || absl::StrContains(node_uid, "/")) {
    return absl::InternalError("k8s_psat: node has no valid UID");
  }

  ASSIGN_OR_RETURN(SpiffeId id, SpiffeId::FromParts(td_, absl::StrCat("/spire/agent/k8s_psat/",
                                                                      cluster, "/", node_uid)));
  K8sPsatResult r{std::move(id), {}};
  auto add = [&r](absl::string_view k, absl::string_view v) {
    signet::types::Selector s;
    s.set_type("k8s_psat");
    s.set_value(absl::StrCat(k, ":", v));
    r.selectors.push_back(std::move(s));
  };
  add("cluster", cluster);
  add("agent_ns", ns_sa[0]);
  add("agent_sa", ns_sa[1]);
  add("agent_pod_name", pod_name);
  add("agent_pod_uid", pod_uid);
  add("agent_node_ip", GetString(pod, "status.hostIP"));
  add("agent_node_name", node_name);
  add("agent_node_uid", node_uid);
  AddLabels(node, c.allowed_node_label_keys, "agent_node_label", &r.selectors);
  AddLabels(pod, c.allowed_pod_label_keys, "agent_pod_label", &r.selectors);
  return r;
}

}  // namespace signet::server
