// The "k8s" workload attestor (SPIRE's k8s plugin): the pod UID and
// container id from the process's cgroups, then the pod from the kubelet's
// /pods endpoint (secure port with the service-account token, or the
// read-only port).
#ifndef SIGNET_ATTESTORS_K8S_K8S_ATTESTOR_H_
#define SIGNET_ATTESTORS_K8S_K8S_ATTESTOR_H_

#include <google/protobuf/struct.pb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "attestors/cgroup/container_info.h"
#include "attestors/workload_attestor.h"
#include "common/config.h"
#include "common/http/http_client.h"

namespace signet::attestors {

struct K8sAttestorConfig {
  // Plain HTTP port on 127.0.0.1; when 0 the secure port is used.
  int kubelet_read_only_port = 0;
  // HTTPS port; 10250 when neither port is set.
  int kubelet_secure_port = 0;
  bool skip_kubelet_verification = false;
  // Bearer token file for the secure port (re-read on every query, since
  // projected tokens rotate).
  std::string token_path = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  // CA bundle that signs the kubelet's serving certificate.
  std::string kubelet_ca_path = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  // Environment variable holding the node name (downward API), and a fixed
  // node name that takes precedence. The kubelet is reached at
  // https://<node name>:<port> (this host's name without a node name) with
  // the name resolved to 127.0.0.1, as SPIRE does (the agent runs with
  // hostNetwork), so the certificate is checked against the node name.
  std::string node_name_env = "MY_NODE_NAME";
  std::string node_name;
  // Bounded wait for a just-started pod to appear in the kubelet's list.
  int max_poll_attempts = 60;
  absl::Duration poll_retry_interval = absl::Milliseconds(500);
  // Log the pod and container id found for each attested pid.
  bool verbose_container_locator_logs = false;

  // Not YAML settings:
  // How long a fetched pod list answers other calls.
  absl::Duration pod_list_cache_ttl = absl::Seconds(1);
  absl::Duration request_timeout = absl::Seconds(10);
  size_t max_response_bytes = http::kDefaultMaxResponseBytes;
  // IP the kubelet host name is resolved to instead of DNS (tests; and
  // 127.0.0.1 when no node name is known).
  std::string kubelet_connect_address;
};

// ParseK8sAttestorConfig reads a plugin_data section with SPIRE's keys
// (kubelet_read_only_port, kubelet_secure_port, skip_kubelet_verification,
// token_path, kubelet_ca_path, node_name_env, node_name, max_poll_attempts,
// poll_retry_interval). Problems are recorded in the section's ConfigErrors;
// the section is Finish()ed.
K8sAttestorConfig ParseK8sAttestorConfig(ConfigSection& data);

// K8sClock is the time seam: Now for the pod-list cache, SleepFor between
// poll attempts. Thread-safe.
class K8sClock {
 public:
  virtual ~K8sClock() = default;
  virtual absl::Time Now() = 0;
  virtual void SleepFor(absl::Duration d) = 0;
};

// RealK8sClock uses absl::Now and absl::SleepFor.
class RealK8sClock : public K8sClock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
};

// K8sAttestor implements WorkloadAttestor. Thread-safe: the cached pod list is
// guarded by mu_, and fetches are serialised by fetch_mu_ so that a burst of
// calls waiting on one fetch all reuse its result.
class K8sAttestor : public WorkloadAttestor {
 public:
  // Create validates `config` (ports in 0..65535, max_poll_attempts >= 1,
  // poll_retry_interval >= 0); InvalidArgument otherwise. Null `locator` /
  // `clock` mean the real /proc and clock.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<K8sAttestor>> Create(
      K8sAttestorConfig config, std::unique_ptr<ContainerLocator> locator = nullptr,
      std::unique_ptr<K8sClock> clock = nullptr);

  // Attest returns k8s:sa, k8s:ns, k8s:node-name, k8s:pod-uid, k8s:pod-name,
  // k8s:pod-image-count, k8s:pod-init-image-count, k8s:pod-image and
  // k8s:pod-init-image (image and image id of every container),
  // k8s:pod-label:<k>:<v>, k8s:pod-owner:<Kind>:<Name>,
  // k8s:pod-owner-uid:<Kind>:<UID>, k8s:container-name and
  // k8s:container-image (image and image id of the process's container). No
  // selectors (OK) when the process is not in a container. Errors: NotFound
  // (process gone), DeadlineExceeded ("... not found after N attempts") when
  // the pod or container never appears (or `deadline` passes first),
  // FailedPrecondition (token or CA file
  // unreadable, ambiguous container), Unavailable / DeadlineExceeded /
  // ResourceExhausted from the kubelet transport, Internal (HTTP status other
  // than 200), InvalidArgument (malformed pod list).
  absl::StatusOr<std::vector<Selector>> Attest(const WorkloadProcess& process,
                                               absl::Time deadline) override;
  std::string name() const override { return "k8s"; }

  // Number of pod-list requests sent to the kubelet; for tests.
  uint64_t kubelet_queries() const;

 private:
  K8sAttestor(K8sAttestorConfig config, std::unique_ptr<ContainerLocator> locator,
              std::unique_ptr<K8sClock> clock, std::string url, std::string connect_address)
      : config_(std::move(config)),
        locator_(std::move(locator)),
        clock_(std::move(clock)),
        url_(std::move(url)),
        connect_address_(std::move(connect_address)) {}

  // PodList returns a pod list fetched at or after `not_before` and less than
  // pod_list_cache_ttl ago, fetching a new one when needed.
  absl::StatusOr<std::shared_ptr<const google::protobuf::Struct>> PodList(absl::Time not_before,
                                                                          absl::Time deadline);
  absl::StatusOr<std::shared_ptr<const google::protobuf::Struct>> FetchPodList(absl::Time deadline);

  const K8sAttestorConfig config_;
  const std::unique_ptr<ContainerLocator> locator_;
  const std::unique_ptr<K8sClock> clock_;
  const std::string url_;              // https://<host>:<port>/pods or http://...
  const std::string connect_address_;  // "" = DNS

  absl::Mutex fetch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  // Guarded by mu_
  std::shared_ptr<const google::protobuf::Struct> cached_ ABSL_GUARDED_BY(mu_);
  absl::Time cached_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t queries_ ABSL_GUARDED_BY(mu_) = 0;
};

// NewK8sAttestor is Create returning the interface, for the catalog.
[[nodiscard]] absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewK8sAttestor(
    const K8sAttestorConfig& config);

// NewK8sAttestorFromConfig is ParseK8sAttestorConfig then NewK8sAttestor:
// the "k8s" factory of the registry.
[[nodiscard]] absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewK8sAttestorFromConfig(
    ConfigSection& data);

// K8sPodMatch is the result of looking a process up in a pod list.
enum class K8sPodMatch { kFound, kNotYet };

// K8sSelectorsFromPodList looks for the pod `pod_uid` (any pod when empty)
// with a container (regular, init or ephemeral) whose status containerID is
// "<runtime>://<container_id>" and fills `out` with its selectors. Returns
// kNotYet when no such pod/container is listed (yet); InvalidArgument for a
// malformed list; FailedPrecondition when, without a pod UID, the container
// appears in more than one pod.
[[nodiscard]] absl::StatusOr<K8sPodMatch> K8sSelectorsFromPodList(
    const google::protobuf::Struct& pod_list, absl::string_view pod_uid,
    absl::string_view container_id, std::vector<Selector>* out);

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_K8S_K8S_ATTESTOR_H_
