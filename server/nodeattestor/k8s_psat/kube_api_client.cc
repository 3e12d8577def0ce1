#include "server/nodeattestor/k8s_psat/kube_api_client.h"

#include <stdlib.h>

#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/config.h"
#include "common/http/http_client.h"
#include "common/status_macros.h"

namespace signet::server {
namespace {

constexpr size_t kMaxSmallFile = size_t{1} << 20;

// ReadSmallFile returns the contents of `path` (at most 1 MiB). NotFound
// naming `what` when it cannot be read, InvalidArgument when it is empty.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, absl::string_view what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", what, " \"", path, "\""));
  std::string data(kMaxSmallFile, '\0');
  f.read(&data[0], static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(f.gcount()));
  if (absl::StripAsciiWhitespace(data).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " \"", path, "\" is empty"));
  }
  return data;
}

// Scalar returns node[key] as a string ("" when absent); InvalidArgument
// when it is not a scalar.
absl::StatusOr<std::string> Scalar(const YAML::Node& node, const char* key,
                                   absl::string_view where) {
  if (!node.IsMap()) return std::string();
  YAML::Node v = node[key];
  if (!v.IsDefined() || v.IsNull()) return std::string();
  if (!v.IsScalar()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: ", where, ".", key, " is not a string"));
  }
  return v.Scalar();
}

// Named returns the `field` mapping of the element of list `list` whose name
// is `name`; InvalidArgument when there is none.
absl::StatusOr<YAML::Node> Named(const YAML::Node& root, const char* list, const char* field,
                                 const std::string& name) {
  YAML::Node items = root[list];
  if (items.IsSequence()) {
    for (const YAML::Node& item : items) {
      if (!item.IsMap()) continue;
      YAML::Node n = item["name"];
      if (n.IsScalar() && n.Scalar() == name) {
        YAML::Node f = item[field];
        if (f.IsMap()) return f;
        break;
      }
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("kubeconfig: no ", field, " named \"", name, "\" in ", list));
}

// Relative resolves a kubeconfig path relative to the kubeconfig's folder.
std::string Relative(const std::string& kubeconfig, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  size_t slash = kubeconfig.rfind('/');
  return slash == std::string::npos ? p : kubeconfig.substr(0, slash + 1) + p;
}

// ApplyKubeconfig fills the empty settings of `c` from its kube_config_file.
absl::Status ApplyKubeconfig(KubeApiClientConfig& c) {
  ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(c.kube_config_file));
  try {
    if (!root.IsMap()) return absl::InvalidArgumentError("kubeconfig: not a YAML mapping");
    ASSIGN_OR_RETURN(std::string ctx_name, Scalar(root, "current-context", "kubeconfig"));
    if (ctx_name.empty()) {
      return absl::InvalidArgumentError("kubeconfig: current-context is not set");
    }
    ASSIGN_OR_RETURN(YAML::Node ctx, Named(root, "contexts", "context", ctx_name));
    ASSIGN_OR_RETURN(std::string cluster_name, Scalar(ctx, "cluster", "context"));
    ASSIGN_OR_RETURN(std::string user_name, Scalar(ctx, "user", "context"));
    ASSIGN_OR_RETURN(YAML::Node cluster, Named(root, "clusters", "cluster", cluster_name));
    if (c.api_server_url.empty()) {
      ASSIGN_OR_RETURN(c.api_server_url, Scalar(cluster, "server", "cluster"));
    }
    if (c.ca_path.empty() && c.ca_pem.empty()) {
      ASSIGN_OR_RETURN(std::string ca_data,
                       Scalar(cluster, "certificate-authority-data", "cluster"));
      ASSIGN_OR_RETURN(std::string ca_file, Scalar(cluster, "certificate-authority", "cluster"));
      if (!ca_data.empty()) {
        if (!absl::Base64Unescape(ca_data, &c.ca_pem)) {
          return absl::InvalidArgumentError(
              "kubeconfig: cluster.certificate-authority-data is not base64");
        }
      } else {
        c.ca_path = Relative(c.kube_config_file, ca_file);
      }
    }
    if (!user_name.empty() && c.token.empty() && c.token_path.empty()) {
      ASSIGN_OR_RETURN(YAML::Node user, Named(root, "users", "user", user_name));
      ASSIGN_OR_RETURN(c.token, Scalar(user, "token", "user"));
      ASSIGN_OR_RETURN(std::string token_file, Scalar(user, "tokenFile", "user"));
      if (c.token.empty()) c.token_path = Relative(c.kube_config_file, token_file);
      if (c.token.empty() && c.token_path.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "kubeconfig: user \"", user_name,
            "\" has no token or tokenFile (client certificates and exec plugins are not "
            "supported)"));
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: ", e.what()));
  }
  return absl::OkStatus();
}

// CheckUrl accepts "https://host[:port]" without a path.
absl::Status CheckUrl(const std::string& url) {
  if (!absl::StartsWith(url, "https://") || url.size() == 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("apiserver URL \"", url, "\" must be https://<host>[:<port>]"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ProcessEnv(const std::string& name) {
  const char* v = ::getenv(name.c_str());
  return v == nullptr ? "" : v;
}

absl::StatusOr<KubeApiClientConfig> ResolveKubeApiClientConfig(KubeApiClientConfig c,
                                                               const EnvLookup& env) {
  if (!c.kube_config_file.empty()) RETURN_IF_ERROR(ApplyKubeconfig(c));
  if (c.api_server_url.empty()) {
    std::string host = env ? env("KUBERNETES_SERVICE_HOST") : "";
    std::string port = env ? env("KUBERNETES_SERVICE_PORT") : "";
    if (host.empty()) {
      return absl::InvalidArgumentError(
          "no apiserver: set api_server_url or kube_config_file, or run in a pod "
          "(KUBERNETES_SERVICE_HOST is not set)");
    }
    if (port.empty()) port = "443";
    if (absl::StrContains(host, ":")) host = absl::StrCat("[", host, "]");  // IPv6
    c.api_server_url = absl::StrCat("https://", host, ":", port);
  }
  while (absl::EndsWith(c.api_server_url, "/")) c.api_server_url.pop_back();
  RETURN_IF_ERROR(CheckUrl(c.api_server_url));
  if (c.ca_path.empty() && c.ca_pem.empty()) c.ca_path = kInClusterCaPath;
  if (c.token_path.empty() && c.token.empty()) c.token_path = kInClusterTokenPath;
  return c;
}

absl::StatusOr<KubeApiTransport> NewHttpsKubeApiTransport(const KubeApiClientConfig& config) {
  RETURN_IF_ERROR(CheckUrl(config.api_server_url));
  if (config.ca_path.empty() && config.ca_pem.empty()) {
    return absl::InvalidArgumentError("apiserver CA: set ca_path");
  }
  if (config.token_path.empty() && config.token.empty()) {
    return absl::InvalidArgumentError("apiserver credentials: set token_path");
  }
  // Fail at startup rather than at the first attestation when the files are
  // missing (they are re-read on every request).
  if (config.ca_pem.empty()) {
    absl::StatusOr<std::string> ca = ReadSmallFile(config.ca_path, "apiserver CA file");
    if (!ca.ok()) return absl::FailedPreconditionError(ca.status().message());
  }
  if (config.token.empty()) {
    absl::StatusOr<std::string> t = ReadSmallFile(config.token_path, "apiserver token file");
    if (!t.ok()) return absl::FailedPreconditionError(t.status().message());
  }
  return KubeApiTransport([config](const std::string& method, const std::string& path,
                                   const std::string& body) -> absl::StatusOr<KubeApiResponse> {
    http::HttpRequest req;
    req.method = method;
    req.url = config.api_server_url + path;
    req.body = body;
    req.timeout = config.request_timeout;
    req.max_response_bytes = config.max_response_bytes;
    req.connect_address = config.connect_address;
    if (!config.ca_pem.empty()) {
      req.ca_pem = config.ca_pem;
    } else {
      absl::StatusOr<std::string> ca = ReadSmallFile(config.ca_path, "apiserver CA file");
      if (!ca.ok()) return absl::UnavailableError(ca.status().message());
      req.ca_pem = *std::move(ca);
    }
    std::string token = config.token;
    if (token.empty()) {
      absl::StatusOr<std::string> t = ReadSmallFile(config.token_path, "apiserver token file");
      if (!t.ok()) return absl::UnavailableError(t.status().message());
      token = std::string(absl::StripAsciiWhitespace(*t));
    }
    if (absl::StrContains(token, "\n") || absl::StrContains(token, "\r")) {
      return absl::UnavailableError("apiserver token contains a line break");
    }
    req.headers.push_back("Accept: application/json");
    req.headers.push_back("Expect:");  // no 100-continue round trip for large bodies
    if (!body.empty()) req.headers.push_back("Content-Type: application/json");
    req.headers.push_back(absl::StrCat("Authorization: Bearer ", token));
    ASSIGN_OR_RETURN(http::HttpResponse resp, http::HttpDo(req));
    return KubeApiResponse{resp.status, std::move(resp.body)};
  });
}

}  // namespace signet::server
