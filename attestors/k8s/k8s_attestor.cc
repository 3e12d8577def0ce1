#include "attestors/k8s/k8s_attestor.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/http/http_client.h"
#include "common/http/json.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace signet::attestors {
namespace {

using ::signet::http::HttpDo;
using ::signet::http::HttpRequest;
using ::signet::http::HttpResponse;
using ::signet::http::ListField;
using ::signet::http::ParseJsonObject;
using ::signet::http::StringField;
using ::signet::http::StructField;

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int kDefaultSecurePort = 10250;

// ReadSmallFile reads `path` (at most 1 MiB); FailedPrecondition naming
// `what` when it cannot be read, is larger or is empty.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, absl::string_view what) {
  absl::StatusOr<std::string> data = ReadFileBounded(path, kMaxSmallFileBytes);
  if (!data.ok()) {
    // The message starts with the path.
    return absl::FailedPreconditionError(
        absl::StrCat("k8s: unable to read ", what, " from ", data.status().message()));
  }
  if (absl::StripAsciiWhitespace(*data).empty()) {
    return absl::FailedPreconditionError(absl::StrCat("k8s: ", what, " file ", path, " is empty"));
  }
  return *std::move(data);
}

// StatusContainerId returns the id part of "<runtime>://<id>".
absl::string_view StatusContainerId(absl::string_view v) {
  size_t p = v.find("://");
  return p == absl::string_view::npos ? v : v.substr(p + 3);
}

// The container status lists a pod can have.
constexpr const char* kStatusLists[] = {"containerStatuses", "initContainerStatuses",
                                        "ephemeralContainerStatuses"};

// StatusList returns pod.status.<key> (nullptr when absent).
absl::StatusOr<const ListValue*> StatusList(const Struct& pod, absl::string_view key) {
  ASSIGN_OR_RETURN(const Struct* status, StructField(pod, "status", "pod"));
  if (status == nullptr) return nullptr;
  return ListField(*status, key, "pod.status");
}

// FindContainer returns the status of container `container_id` in `pod`, or
// nullptr.
absl::StatusOr<const Struct*> FindContainer(const Struct& pod, absl::string_view container_id) {
  for (const char* key : kStatusLists) {
    ASSIGN_OR_RETURN(const ListValue* list, StatusList(pod, key));
    if (list == nullptr) continue;
    for (const Value& v : list->values()) {
      if (!v.has_struct_value()) {
        return absl::InvalidArgumentError(absl::StrCat("pod.status.", key, " has a non-object"));
      }
      ASSIGN_OR_RETURN(std::string id,
                       StringField(v.struct_value(), "containerID", "containerStatus"));
      if (!id.empty() && StatusContainerId(id) == container_id) return &v.struct_value();
    }
  }
  return nullptr;
}

// ImageIdentifiers adds the image and image id of `status` to `out`.
absl::Status ImageIdentifiers(const Struct& status, std::set<std::string>* out) {
  for (const char* key : {"image", "imageID"}) {
    ASSIGN_OR_RETURN(std::string v, StringField(status, key, "containerStatus"));
    if (!v.empty()) out->insert(v);
  }
  return absl::OkStatus();
}

// PodSelectors appends the selectors of `pod` and its `container` to `out`.
absl::Status PodSelectors(const Struct& pod, const Struct& container, std::vector<Selector>* out) {
  auto add = [out](absl::string_view k, absl::string_view v) {
    out->push_back(Selector{"k8s", absl::StrCat(k, ":", v)});
  };
  ASSIGN_OR_RETURN(const Struct* meta, StructField(pod, "metadata", "pod"));
  ASSIGN_OR_RETURN(const Struct* spec, StructField(pod, "spec", "pod"));
  if (meta == nullptr || spec == nullptr) {
    return absl::InvalidArgumentError("pod without metadata or spec");
  }
  ASSIGN_OR_RETURN(std::string sa, StringField(*spec, "serviceAccountName", "pod.spec"));
  ASSIGN_OR_RETURN(std::string node, StringField(*spec, "nodeName", "pod.spec"));
  ASSIGN_OR_RETURN(std::string ns, StringField(*meta, "namespace", "pod.metadata"));
  ASSIGN_OR_RETURN(std::string uid, StringField(*meta, "uid", "pod.metadata"));
  ASSIGN_OR_RETURN(std::string name, StringField(*meta, "name", "pod.metadata"));
  add("sa", sa);
  add("ns", ns);
  add("node-name", node);
  add("pod-uid", uid);
  add("pod-name", name);

  for (const auto& [key, prefix, count] :
       {std::tuple<const char*, const char*, const char*>{"containerStatuses", "pod-image",
                                                          "pod-image-count"},
        {"initContainerStatuses", "pod-init-image", "pod-init-image-count"}}) {
    ASSIGN_OR_RETURN(const ListValue* list, StatusList(pod, key));
    std::set<std::string> images;
    int n = 0;
    if (list != nullptr) {
      for (const Value& v : list->values()) {
        if (!v.has_struct_value()) {
          return absl::InvalidArgumentError(absl::StrCat("pod.status.", key, " has a non-object"));
        }
        RETURN_IF_ERROR(ImageIdentifiers(v.struct_value(), &images));
        ++n;
      }
    }
    add(count, absl::StrCat(n));
    for (const std::string& img : images) add(prefix, img);
  }

  ASSIGN_OR_RETURN(const Struct* labels, StructField(*meta, "labels", "pod.metadata"));
  if (labels != nullptr) {
    for (const auto& [k, v] : labels->fields()) {
      if (!v.has_string_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("pod.metadata.labels.", k, " is not a string"));
      }
      add("pod-label", absl::StrCat(k, ":", v.string_value()));
    }
  }
  ASSIGN_OR_RETURN(const ListValue* owners, ListField(*meta, "ownerReferences", "pod.metadata"));
  if (owners != nullptr) {
    for (const Value& o : owners->values()) {
      if (!o.has_struct_value()) {
        return absl::InvalidArgumentError("pod.metadata.ownerReferences has a non-object");
      }
      ASSIGN_OR_RETURN(std::string kind, StringField(o.struct_value(), "kind", "ownerReference"));
      ASSIGN_OR_RETURN(std::string oname, StringField(o.struct_value(), "name", "ownerReference"));
      ASSIGN_OR_RETURN(std::string ouid, StringField(o.struct_value(), "uid", "ownerReference"));
      add("pod-owner", absl::StrCat(kind, ":", oname));
      add("pod-owner-uid", absl::StrCat(kind, ":", ouid));
    }
  }

  ASSIGN_OR_RETURN(std::string cname, StringField(container, "name", "containerStatus"));
  add("container-name", cname);
  std::set<std::string> images;
  RETURN_IF_ERROR(ImageIdentifiers(container, &images));
  for (const std::string& img : images) add("container-image", img);
  return absl::OkStatus();
}

// PodUid returns pod.metadata.uid ("" when absent).
absl::StatusOr<std::string> PodUid(const Struct& pod) {
  ASSIGN_OR_RETURN(const Struct* meta, StructField(pod, "metadata", "pod"));
  if (meta == nullptr) return std::string();
  return StringField(*meta, "uid", "pod.metadata");
}

}  // namespace

K8sAttestorConfig ParseK8sAttestorConfig(ConfigSection& data) {
  K8sAttestorConfig c;
  c.kubelet_read_only_port = static_cast<int>(data.Int("kubelet_read_only_port", 0, 0, 65535));
  c.kubelet_secure_port = static_cast<int>(data.Int("kubelet_secure_port", 0, 0, 65535));
  c.skip_kubelet_verification = data.Bool("skip_kubelet_verification", false);
  c.token_path = data.String("token_path", c.token_path);
  c.kubelet_ca_path = data.String("kubelet_ca_path", c.kubelet_ca_path);
  c.node_name_env = data.String("node_name_env", c.node_name_env);
  c.node_name = data.String("node_name", "");
  c.max_poll_attempts = static_cast<int>(data.Int("max_poll_attempts", 60, 1, 100000));
  c.poll_retry_interval = data.Duration("poll_retry_interval", c.poll_retry_interval);
  c.verbose_container_locator_logs = ReadSpireLocatorKeys(data, "k8s");
  if (c.kubelet_read_only_port != 0 && c.kubelet_secure_port != 0) {
    data.Error("kubelet_secure_port",
               "only one of kubelet_read_only_port and kubelet_secure_port may be set");
  }
  data.Finish();
  return c;
}

absl::StatusOr<std::unique_ptr<K8sAttestor>> K8sAttestor::Create(
    K8sAttestorConfig config, std::unique_ptr<ContainerLocator> locator,
    std::unique_ptr<K8sClock> clock) {
  if (config.kubelet_read_only_port < 0 || config.kubelet_read_only_port > 65535 ||
      config.kubelet_secure_port < 0 || config.kubelet_secure_port > 65535) {
    return absl::InvalidArgumentError("kubelet port out of range");
  }
  if (config.kubelet_read_only_port != 0 && config.kubelet_secure_port != 0) {
    return absl::InvalidArgumentError(
        "only one of kubelet_read_only_port and kubelet_secure_port may be set");
  }
  if (config.max_poll_attempts < 1) {
    return absl::InvalidArgumentError("max_poll_attempts must be at least 1");
  }
  if (config.poll_retry_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("poll_retry_interval must not be negative");
  }
  std::string node_name = config.node_name;
  if (node_name.empty() && !config.node_name_env.empty()) {
    const char* env = getenv(config.node_name_env.c_str());
    if (env != nullptr) node_name = env;
  }
  std::string url;
  std::string connect_address = config.kubelet_connect_address;
  if (config.kubelet_read_only_port != 0) {
    url = absl::StrCat("http://127.0.0.1:", config.kubelet_read_only_port, "/pods");
  } else {
    int port = config.kubelet_secure_port != 0 ? config.kubelet_secure_port : kDefaultSecurePort;
    std::string host = node_name;
    if (host.empty()) {
      char buf[HOST_NAME_MAX + 1] = {0};
      if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') {
        return absl::FailedPreconditionError("k8s: no node name and gethostname failed");
      }
      host = buf;
    }
    // As SPIRE: dial the kubelet on loopback (the agent runs with
    // hostNetwork) and check its certificate against the node name.
    if (connect_address.empty()) connect_address = "127.0.0.1";
    url = absl::StrCat("https://", host, ":", port, "/pods");
  }
  if (!locator) locator = NewProcContainerLocator();
  if (!clock) clock = std::make_unique<RealK8sClock>();
  return std::unique_ptr<K8sAttestor>(new K8sAttestor(std::move(config), std::move(locator),
                                                      std::move(clock), std::move(url),
                                                      std::move(connect_address)));
}

absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewK8sAttestor(const K8sAttestorConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<K8sAttestor> a, K8sAttestor::Create(config));
  return std::unique_ptr<WorkloadAttestor>(std::move(a));
}

uint64_t K8sAttestor::kubelet_queries() const {
  absl::MutexLock l(&mu_);
  return queries_;
}

absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewK8sAttestorFromConfig(ConfigSection& data) {
  return NewK8sAttestor(ParseK8sAttestorConfig(data));
}

absl::StatusOr<std::shared_ptr<const Struct>> K8sAttestor::FetchPodList(absl::Time deadline) {
  const absl::Duration left = deadline - clock_->Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(
        absl::StrCat("k8s: deadline passed before querying kubelet ", url_));
  }
  HttpRequest req;
  req.url = url_;
  req.connect_address = connect_address_;
  req.timeout = std::min(config_.request_timeout, left);
  req.max_response_bytes = config_.max_response_bytes;
  req.headers.push_back("Accept: application/json");
  if (config_.kubelet_read_only_port == 0) {
    ASSIGN_OR_RETURN(std::string token, ReadSmallFile(config_.token_path, "token"));
    req.headers.push_back(
        absl::StrCat("Authorization: Bearer ", absl::StripAsciiWhitespace(token)));
    if (config_.skip_kubelet_verification) {
      req.insecure_skip_verify = true;
    } else {
      ASSIGN_OR_RETURN(req.ca_pem, ReadSmallFile(config_.kubelet_ca_path, "kubelet CA"));
    }
  }
  {
    absl::MutexLock l(&mu_);
    ++queries_;
  }
  absl::StatusOr<HttpResponse> resp = HttpDo(req);
  if (!resp.ok()) {
    return absl::Status(resp.status().code(), absl::StrCat("k8s: querying kubelet ", url_, ": ",
                                                           resp.status().message()));
  }
  if (resp->status != 200) {
    return absl::InternalError(absl::StrCat("k8s: kubelet answered HTTP ", resp->status, " for ",
                                            url_, ": ", resp->body.substr(0, 200)));
  }
  absl::StatusOr<Struct> list = ParseJsonObject(resp->body);
  if (!list.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("k8s: kubelet pod list: ", list.status().message()));
  }
  return std::make_shared<const Struct>(*std::move(list));
}

absl::StatusOr<std::shared_ptr<const Struct>> K8sAttestor::PodList(absl::Time not_before,
                                                                   absl::Time deadline) {
  auto fresh = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cached_ != nullptr && cached_at_ >= not_before &&
           clock_->Now() - cached_at_ < config_.pod_list_cache_ttl;
  };
  {
    absl::MutexLock l(&mu_);
    if (fresh()) return cached_;
  }
  // One fetch at a time: callers that queued behind a fetch reuse its list.
  absl::MutexLock fetch_lock(&fetch_mu_);
  {
    absl::MutexLock l(&mu_);
    if (fresh()) return cached_;
  }
  const absl::Time started = clock_->Now();
  ASSIGN_OR_RETURN(std::shared_ptr<const Struct> list, FetchPodList(deadline));
  absl::MutexLock l(&mu_);
  cached_ = list;
  cached_at_ = started;
  return list;
}

absl::StatusOr<std::vector<Selector>> K8sAttestor::Attest(const WorkloadProcess& process,
                                                          absl::Time deadline) {
  const pid_t pid = process.pid;
  ASSIGN_OR_RETURN(ContainerInfo info, locator_->Locate(pid));
  if (config_.verbose_container_locator_logs) {
    LogInfo("k8s: located the caller's container", {{"pid", absl::StrCat(pid)},
                                                    {"container_id", info.container_id},
                                                    {"pod_uid", info.pod_uid}});
  }
  if (info.container_id.empty()) return std::vector<Selector>{};  // not in a pod
  for (int attempt = 1;; ++attempt) {
    // The first attempt may use a recent list; a retry needs a list fetched
    // after it began, or a pod that just started could never be seen.
    absl::Time not_before = attempt == 1 ? absl::InfinitePast() : clock_->Now();
    ASSIGN_OR_RETURN(std::shared_ptr<const Struct> list, PodList(not_before, deadline));
    std::vector<Selector> out;
    absl::StatusOr<K8sPodMatch> m =
        K8sSelectorsFromPodList(*list, info.pod_uid, info.container_id, &out);
    if (!m.ok()) {
      return absl::Status(m.status().code(), absl::StrCat("k8s: ", m.status().message()));
    }
    if (*m == K8sPodMatch::kFound) return out;
    if (attempt >= config_.max_poll_attempts) {
      return absl::DeadlineExceededError(absl::StrCat(
          "k8s: pod ", info.pod_uid.empty() ? "(unknown uid)" : info.pod_uid, " with container ",
          info.container_id, " not found after ", attempt, " attempts"));
    }
    if (clock_->Now() + config_.poll_retry_interval >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "k8s: pod ", info.pod_uid.empty() ? "(unknown uid)" : info.pod_uid, " with container ",
          info.container_id, " not found before the deadline after ", attempt, " attempts"));
    }
    clock_->SleepFor(config_.poll_retry_interval);
  }
}

absl::StatusOr<K8sPodMatch> K8sSelectorsFromPodList(const Struct& pod_list,
                                                    absl::string_view pod_uid,
                                                    absl::string_view container_id,
                                                    std::vector<Selector>* out) {
  ASSIGN_OR_RETURN(const ListValue* items, ListField(pod_list, "items", "podList"));
  if (items == nullptr) return K8sPodMatch::kNotYet;
  const Struct* found_pod = nullptr;
  const Struct* found_container = nullptr;
  for (const Value& v : items->values()) {
    if (!v.has_struct_value()) {
      return absl::InvalidArgumentError("podList.items has a non-object");
    }
    const Struct& pod = v.struct_value();
    if (!pod_uid.empty()) {
      ASSIGN_OR_RETURN(std::string uid, PodUid(pod));
      if (uid != pod_uid) continue;
    }
    ASSIGN_OR_RETURN(const Struct* c, FindContainer(pod, container_id));
    if (c == nullptr) continue;
    if (found_pod != nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", container_id, " is listed in more than one pod"));
    }
    found_pod = &pod;
    found_container = c;
  }
  if (found_pod == nullptr) return K8sPodMatch::kNotYet;
  RETURN_IF_ERROR(PodSelectors(*found_pod, *found_container, out));
  return K8sPodMatch::kFound;
}

}  // namespace signet::attestors
