// A small blocking HTTP(S) client over libcurl, shared by the attestors that
// ask a local daemon about a workload (dockerd on its unix socket, the kubelet
// on loopback) and the server's k8s_psat node attestor (the kube-apiserver).
// Every request is bounded in time and in response size.
#ifndef SIGNET_COMMON_HTTP_HTTP_CLIENT_H_
#define SIGNET_COMMON_HTTP_HTTP_CLIENT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace signet::http {

// Largest response body accepted by default (8 MiB).
inline constexpr size_t kDefaultMaxResponseBytes = size_t{8} << 20;

struct HttpRequest {
  std::string method = "GET";
  // Absolute http:// or https:// URL. With unix_socket_path the host part is
  // only used for the Host header ("http://localhost/containers/x/json").
  std::string url;
  // Connect to this unix socket instead of the URL's host (dockerd).
  std::string unix_socket_path;
  // Extra header lines, "Name: value".
  std::vector<std::string> headers;
  // Request body (sent when non-empty or when method is POST).
  std::string body;
  // TLS: PEM file of the CA certificates trusted for the server. Empty means
  // the system store (never used by Signet's callers, which always pin).
  std::string ca_file;
  // TLS: PEM CA certificates given in memory (takes precedence over ca_file).
  std::string ca_pem;
  // TLS: do not verify the server's certificate or name at all.
  bool insecure_skip_verify = false;
  // Connect to this IP address for the URL's host name, so the name in the
  // URL is still the one checked against the certificate ("127.0.0.1").
  std::string connect_address;
  // Whole-request deadline (connect + send + receive).
  absl::Duration timeout = absl::Seconds(10);
  size_t max_response_bytes = kDefaultMaxResponseBytes;
};

struct HttpResponse {
  long status = 0;  // HTTP status code
  std::string body;
};

// HttpDo performs one request. A non-2xx status is not an error here (the
// caller decides); errors are transport failures: DeadlineExceeded when the
// timeout passes, ResourceExhausted when the body exceeds
// max_response_bytes ("response body exceeds N bytes"), Unavailable when the
// server cannot be reached, the TLS handshake or certificate check fails, or
// the connection breaks; InvalidArgument for a malformed request.
[[nodiscard]] absl::StatusOr<HttpResponse> HttpDo(const HttpRequest& req);

}  // namespace signet::http

#endif  // SIGNET_COMMON_HTTP_HTTP_CLIENT_H_
