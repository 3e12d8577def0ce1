// The kube-apiserver client of the k8s_psat node attestor: where the
// apiserver is and how the server authenticates to it (explicit settings, a
// kubeconfig file, or the pod's in-cluster service account), and a
// KubeApiTransport that sends requests there over HTTPS with libcurl.
#ifndef SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_KUBE_API_CLIENT_H_
#define SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_KUBE_API_CLIENT_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/nodeattestor/k8s_psat/k8s_psat.h"

namespace signet::server {

inline constexpr char kInClusterTokenPath[] = "/var/run/secrets/kubernetes.io/serviceaccount/token";
inline constexpr char kInClusterCaPath[] = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
// Largest apiserver answer accepted (a Pod or Node object is a few KiB).
inline constexpr size_t kKubeApiMaxResponseBytes = size_t{4} << 20;

// KubeApiClientConfig says how to reach one cluster's apiserver. Settings
// left empty are taken from `kube_config_file` when given, else from the
// in-cluster environment (KUBERNETES_SERVICE_HOST/PORT and the pod's
// service-account token and CA).
struct KubeApiClientConfig {
  std::string api_server_url;    // "https://10.96.0.1:443"
  std::string ca_path;           // PEM CA bundle of the apiserver's certificate
  std::string ca_pem;            // the same, in memory (from a kubeconfig)
  std::string token_path;        // Bearer token file, re-read on every request
  std::string token;             // a fixed Bearer token (from a kubeconfig)
  std::string kube_config_file;  // optional kubeconfig
  absl::Duration request_timeout = absl::Seconds(10);
  size_t max_response_bytes = kKubeApiMaxResponseBytes;
  // Connect to this IP for the URL's host name, still checking the
  // certificate against the name (tests: "127.0.0.1").
  std::string connect_address;
};

// EnvLookup returns the value of an environment variable, "" when unset.
using EnvLookup = std::function<std::string(const std::string&)>;

// ProcessEnv reads the process environment.
std::string ProcessEnv(const std::string& name);

// ResolveKubeApiClientConfig fills in what `config` leaves empty: first from
// its kube_config_file (current context's cluster server,
// certificate-authority[-data], user token/tokenFile), then from the
// in-cluster environment read through `env`. Returns InvalidArgument when no
// apiserver URL can be found, the URL is not https://, or the kubeconfig is
// malformed or authenticates with client certificates (not supported);
// NotFound when the kubeconfig cannot be read.
[[nodiscard]] absl::StatusOr<KubeApiClientConfig> ResolveKubeApiClientConfig(
    KubeApiClientConfig config, const EnvLookup& env);

// NewHttpsKubeApiTransport returns a transport sending each request to
// `<api_server_url><path>` with "Authorization: Bearer <token>" (the token
// file is re-read on every request, since projected tokens rotate) and
// trusting only the configured CA. `config` must be resolved. The
// transport's errors: Unavailable (apiserver unreachable, TLS failure, token
// or CA file unreadable), DeadlineExceeded, ResourceExhausted (answer larger
// than max_response_bytes). Construction fails with InvalidArgument when the
// URL is missing or not https://, or neither a CA nor a token is configured,
// and FailedPrecondition when the CA or token file cannot be read now.
[[nodiscard]] absl::StatusOr<KubeApiTransport> NewHttpsKubeApiTransport(
    const KubeApiClientConfig& config);

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_K8S_PSAT_KUBE_API_CLIENT_H_
