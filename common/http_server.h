// HttpServer: a bounded HTTP/1.x server for the server's and agent's own
// endpoints (health checks now; metrics, the SPIFFE bundle endpoint and the
// OAuth token endpoint later), built on cpp-httplib. Part of the signet_http
// library, which the client library does not link.
//
// cpp-httplib parses requests and writes responses; this wrapper owns the
// transport so that every connection is bounded before any handler runs:
// one request per connection, a deadline for the whole connection (TLS
// handshake included), a timeout per read and per write, a byte budget for
// the request line, headers and body together, a fixed number of worker
// threads and a bounded queue of accepted connections (a full queue stops
// the accept loop, so further clients wait in the kernel's backlog).
#ifndef SIGNET_COMMON_HTTP_SERVER_H_
#define SIGNET_COMMON_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/openssl_util.h"

namespace signet {

struct HttpRequest {
  std::string method;
  std::string path;  // without the query string
  std::string remote_addr;
  // On a TLS listener that asks for client certificates: the chain the
  // client presented (leaf first), already accepted by `verify_client`.
  // Empty otherwise.
  std::vector<X509Ptr> peer_chain;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

enum class ClientCertMode {
  kNone,      // no CertificateRequest is sent
  kOptional,  // asked for; a client without one is served, one with a chain
              // that `verify_client` rejects fails the handshake
  kRequired,  // a client without an accepted chain fails the handshake
};

struct HttpTlsOptions {
  std::string cert_chain_pem;  // leaf first, then intermediates
  std::string key_pem;         // PKCS#8 (or legacy) PEM
  ClientCertMode client_certs = ClientCertMode::kNone;
  // verify_client decides on a presented client chain (leaf first) during
  // the handshake; it replaces OpenSSL's own chain building, so it must check
  // the chain against the trust anchors it cares about. Required unless
  // `client_certs` is kNone. Runs on a worker thread.
  std::function<absl::Status(const std::vector<X509*>& chain)> verify_client;
};

struct HttpServerOptions {
  // host: an address or name to bind; "" binds every IPv4 address. port 0
  // picks a free port (see HttpServer::port()).
  std::string host = "127.0.0.1";
  int port = 0;
  absl::Duration read_timeout = absl::Seconds(5);   // each wait for input
  absl::Duration write_timeout = absl::Seconds(5);  // each wait to send
  // The whole connection, TLS handshake included, from accept to close.
  absl::Duration connection_deadline = absl::Seconds(10);
  size_t max_header_bytes = 8192;  // request line and headers
  size_t max_body_bytes = 64 * 1024;
  int threads = 2;                 // connections served at once
  int max_queued_connections = 8;  // accepted, waiting for a thread
  std::optional<HttpTlsOptions> tls;
  // Logged with each rejected connection ("health_checks", "metrics", ...).
  std::string name = "http";
};

// HttpServer answers GET requests for registered paths (exact match, query
// string ignored) on its own threads: 404 {"error":"not found"} for other
// paths, 405 {"error":"method not allowed"} for other methods.
class HttpServer {
 public:
  // Start validates the options, binds host:port and starts serving
  // `get_handlers` (path -> handler). InvalidArgument for bad options or TLS
  // material, Unavailable when it cannot bind.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, std::map<std::string, HttpHandler> get_handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // port is the bound port (the chosen one when options.port was 0).
  int port() const { return port_; }

  // SetTlsCredentials replaces the serving certificate and key for new
  // connections (SVID rotation). FailedPrecondition on a plain listener,
  // InvalidArgument for bad material (the old credentials stay).
  [[nodiscard]] absl::Status SetTlsCredentials(const std::string& cert_chain_pem,
                                               const std::string& key_pem)
      ABSL_LOCKS_EXCLUDED(ctx_mu_);

  // Stop closes the listener and waits for the connections in progress
  // (each bounded by connection_deadline). Idempotent.
  void Stop();

  class Impl;  // the cpp-httplib server; defined in http_server.cc

 private:
  explicit HttpServer(HttpServerOptions options);
  [[nodiscard]] absl::StatusOr<SslCtxPtr> NewTlsContext(const std::string& cert_chain_pem,
                                                        const std::string& key_pem) const;
  std::shared_ptr<SSL_CTX> TlsContext() const ABSL_LOCKS_EXCLUDED(ctx_mu_);
  void ServeConnection(int fd);

  const HttpServerOptions options_;
  std::map<std::string, HttpHandler> handlers_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::thread thread_;
  mutable absl::Mutex ctx_mu_;
  std::shared_ptr<SSL_CTX> ctx_ ABSL_GUARDED_BY(ctx_mu_);
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace signet

#endif  // SIGNET_COMMON_HTTP_SERVER_H_
