#include "common/http_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet {
namespace {

// BoundedQueue: `threads` workers and at most `max_queued` accepted
// connections waiting; Enqueue blocks the accept loop while the queue is full.
class BoundedQueue final : public httplib::TaskQueue {
 public:
  BoundedQueue(int threads, int max_queued) : max_queued_(static_cast<size_t>(max_queued)) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~BoundedQueue() override { shutdown(); }

  void enqueue(std::function<void()> fn) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(this, &BoundedQueue::HasRoom));
    jobs_.push_back(std::move(fn));
  }

  void shutdown() override ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock l(&mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    for (std::thread& t : workers_) t.join();
  }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return jobs_.size() < max_queued_; }
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !jobs_.empty() || shutdown_; }

  void Work() ABSL_LOCKS_EXCLUDED(mu_) {
    for (;;) {
      std::function<void()> fn;
      {
        absl::MutexLock l(&mu_);
        mu_.Await(absl::Condition(this, &BoundedQueue::HasWork));
        if (jobs_.empty()) return;  // shut down and drained
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  const size_t max_queued_;
  std::vector<std::thread> workers_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

// RemainingMs: milliseconds until the earlier of now+timeout and deadline,
// 0 when past.
int RemainingMs(absl::Duration timeout, absl::Time deadline) {
  absl::Time until = std::min(absl::Now() + timeout, deadline);
  int64_t ms = absl::ToInt64Milliseconds(until - absl::Now());
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30));
}

// WaitFd polls `fd` for `events` for at most `ms`; true when ready.
bool WaitFd(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

void AddressOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return;
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return;
  }
  ip = host;
  port = atoi(serv);
}

// BoundedStream: a non-blocking socket (optionally TLS) that gives up when a
// wait exceeds its timeout, the connection its deadline, or the input its
// byte budget.
class BoundedStream final : public httplib::Stream {
 public:
  BoundedStream(int fd, SSL* ssl, absl::Time deadline, const HttpServerOptions& o)
      : fd_(fd),
        ssl_(ssl),
        deadline_(deadline),
        read_timeout_(o.read_timeout),
        write_timeout_(o.write_timeout),
        budget_(o.max_header_bytes + o.max_body_bytes) {}

  bool is_readable() const override {
    return off_ < len_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0) ||
           WaitFd(fd_, POLLIN, RemainingMs(read_timeout_, deadline_));
  }
  bool is_writable() const override {
    return WaitFd(fd_, POLLOUT, RemainingMs(write_timeout_, deadline_));
  }

  ssize_t read(char* ptr, size_t size) override {
    if (off_ == len_ && !Fill()) return -1;
    size_t n = std::min(size, len_ - off_);
    memcpy(ptr, buf_ + off_, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size) {
      ssize_t n;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int r =
            SSL_write(ssl_, ptr + done, static_cast<int>(std::min<size_t>(size - done, 1 << 20)));
        if (r > 0) {
          n = r;
        } else {
          int e = SSL_get_error(ssl_, r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return -1;
          if (!WaitFd(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                      RemainingMs(write_timeout_, deadline_))) {
            return -1;
          }
          continue;
        }
      } else {
        n = send(fd_, ptr + done, size - done, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
          if (!is_writable()) return -1;
          continue;
        }
      }
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(done);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    AddressOf(fd_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    AddressOf(fd_, false, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  // Fill reads the next chunk into buf_; false on EOF, error, timeout or an
  // exhausted budget.
  bool Fill() {
    size_t want = std::min(sizeof buf_, budget_);
    if (want == 0) return false;
    for (;;) {
      ssize_t n;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int r = SSL_read(ssl_, buf_, static_cast<int>(want));
        if (r > 0) {
          n = r;
        } else {
          int e = SSL_get_error(ssl_, r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return false;
          if (!WaitFd(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                      RemainingMs(read_timeout_, deadline_))) {
            return false;
          }
          continue;
        }
      } else {
        n = recv(fd_, buf_, want, 0);
        if (n == 0) return false;
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
          if (!WaitFd(fd_, POLLIN, RemainingMs(read_timeout_, deadline_))) return false;
          continue;
        }
      }
      off_ = 0;
      len_ = static_cast<size_t>(n);
      budget_ -= len_;
      return true;
    }
  }

  const int fd_;
  SSL* const ssl_;
  const absl::Time deadline_;
  const absl::Duration read_timeout_;
  const absl::Duration write_timeout_;
  size_t budget_;
  char buf_[4096];
  size_t off_ = 0;
  size_t len_ = 0;
};

int VerifyClientChain(X509_STORE_CTX* store_ctx, void* arg) {
  const auto* tls = static_cast<const HttpTlsOptions*>(arg);
  std::vector<X509*> chain;
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  if (leaf != nullptr) chain.push_back(leaf);
  STACK_OF(X509)* rest = X509_STORE_CTX_get0_untrusted(store_ctx);
  for (int i = 0; rest != nullptr && i < sk_X509_num(rest); ++i) {
    X509* c = sk_X509_value(rest, i);
    if (c != leaf) chain.push_back(c);
  }
  absl::Status s = chain.empty() || !tls->verify_client
                       ? absl::UnauthenticatedError("no client certificate")
                       : tls->verify_client(chain);
  if (!s.ok()) {
    LogWarn("client certificate rejected", {{"error", s.ToString()}});
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return 1;
}

std::string JsonError(absl::string_view what) { return absl::StrCat("{\"error\":\"", what, "\"}"); }

}  // namespace

// HttpServer::Impl: cpp-httplib's server with the connection handling
// replaced by HttpServer::ServeConnection (process_and_close_socket is the
// library's per-connection hook).
class HttpServer::Impl final : public httplib::Server {
 public:
  explicit Impl(HttpServer* owner) : owner_(owner) {}
  using httplib::Server::process_request;

 private:
  bool process_and_close_socket(socket_t sock) override {
    owner_->ServeConnection(sock);
    return true;
  }
  HttpServer* const owner_;
};

absl::StatusOr<SslCtxPtr> HttpServer::NewTlsContext(const std::string& cert_chain_pem,
                                                    const std::string& key_pem) const {
  absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertsPem(cert_chain_pem);
  if (!certs.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options_.name, ": bad TLS certificate: ", certs.status().message()));
  }
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKeyPem(key_pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options_.name, ": bad TLS private key: ", key.status().message()));
  }
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return OpensslError("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Every handshake is a full one, so a client chain is always verified
  // against the current trust anchors.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate(ctx.get(), (*certs)[0].get()) != 1) {
    return OpensslError(absl::StrCat(options_.name, ": TLS certificate"),
                        absl::StatusCode::kInvalidArgument);
  }
  for (size_t i = 1; i < certs->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), (*certs)[i].get()) != 1) {
      return OpensslError(absl::StrCat(options_.name, ": TLS chain"),
                          absl::StatusCode::kInvalidArgument);
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key->get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return OpensslError(absl::StrCat(options_.name, ": TLS private key does not match"),
                        absl::StatusCode::kInvalidArgument);
  }
  const HttpTlsOptions& tls = *options_.tls;
  if (tls.client_certs != ClientCertMode::kNone) {
    int mode = SSL_VERIFY_PEER;
    if (tls.client_certs == ClientCertMode::kRequired) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx.get(), VerifyClientChain,
                                     const_cast<HttpTlsOptions*>(&tls));
  }
  return ctx;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, std::map<std::string, HttpHandler> get_handlers) {
  const std::string name = options.name;
  if (options.threads < 1 || options.max_queued_connections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": threads and max_queued_connections must be at least 1"));
  }
  if (options.read_timeout <= absl::ZeroDuration() ||
      options.write_timeout <= absl::ZeroDuration() ||
      options.connection_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": timeouts must be positive"));
  }
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": bad port ", options.port));
  }
  if (options.tls.has_value() && options.tls->client_certs != ClientCertMode::kNone &&
      !options.tls->verify_client) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": client certificates requested without verify_client"));
  }
  std::unique_ptr<HttpServer> s(new HttpServer(std::move(options)));
  s->handlers_ = std::move(get_handlers);
  const HttpServerOptions& o = s->options_;
  if (o.tls.has_value()) {
    ASSIGN_OR_RETURN(SslCtxPtr ctx, s->NewTlsContext(o.tls->cert_chain_pem, o.tls->key_pem));
    absl::MutexLock l(&s->ctx_mu_);
    s->ctx_ = std::shared_ptr<SSL_CTX>(ctx.release(), SSL_CTX_free);
  }

  s->impl_ = std::make_unique<Impl>(s.get());
  Impl& impl = *s->impl_;
  const int threads = o.threads;
  const int queued = o.max_queued_connections;
  impl.new_task_queue = [threads, queued] { return new BoundedQueue(threads, queued); };
  impl.set_payload_max_length(o.max_body_bytes);
  impl.set_socket_options([](socket_t fd) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  });
  HttpServer* raw = s.get();
  impl.set_pre_routing_handler([raw](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "GET") {
      res.status = 405;
      res.set_content(JsonError("method not allowed"), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    auto it = raw->handlers_.find(req.path);
    if (it == raw->handlers_.end()) {
      res.status = 404;
      res.set_content(JsonError("not found"), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    HttpRequest r{req.method, req.path, req.remote_addr, {}};
    if (req.ssl != nullptr && raw->options_.tls->client_certs != ClientCertMode::kNone) {
      SSL* ssl = const_cast<SSL*>(req.ssl);
      if (X509* leaf = SSL_get0_peer_certificate(ssl); leaf != nullptr) {
        r.peer_chain.push_back(CopyCert(leaf));
        STACK_OF(X509)* rest = SSL_get_peer_cert_chain(ssl);  // server side: no leaf
        for (int i = 0; rest != nullptr && i < sk_X509_num(rest); ++i) {
          r.peer_chain.push_back(CopyCert(sk_X509_value(rest, i)));
        }
      }
    }
    HttpResponse out = it->second(r);
    res.status = out.status;
    res.set_content(out.body, out.content_type);
    return httplib::Server::HandlerResponse::Handled;
  });

  std::string host = o.host.empty() ? "0.0.0.0" : o.host;
  if (o.port == 0) {
    s->port_ = impl.bind_to_any_port(host);
    if (s->port_ <= 0) {
      return absl::UnavailableError(absl::StrCat(name, ": cannot listen on ", host, ":0"));
    }
  } else {
    if (!impl.bind_to_port(host, o.port)) {
      return absl::UnavailableError(absl::StrCat(name, ": cannot listen on ", host, ":", o.port));
    }
    s->port_ = o.port;
  }
  auto returned = std::make_shared<std::atomic<bool>>(false);
  s->thread_ = std::thread([raw, returned] {
    raw->impl_->listen_after_bind();
    *returned = true;
  });
  // cpp-httplib's stop() does nothing until the accept loop has started:
  // wait for it so that Stop() right after Start() cannot hang.
  while (!impl.is_running() && !*returned) absl::SleepFor(absl::Milliseconds(1));
  return s;
}

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  {
    absl::MutexLock l(&stop_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (impl_ != nullptr) impl_->stop();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<SSL_CTX> HttpServer::TlsContext() const {
  absl::MutexLock l(&ctx_mu_);
  return ctx_;
}

absl::Status HttpServer::SetTlsCredentials(const std::string& cert_chain_pem,
                                           const std::string& key_pem) {
  if (!options_.tls.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(options_.name, ": not a TLS listener"));
  }
  ASSIGN_OR_RETURN(SslCtxPtr ctx, NewTlsContext(cert_chain_pem, key_pem));
  absl::MutexLock l(&ctx_mu_);
  ctx_ = std::shared_ptr<SSL_CTX>(ctx.release(), SSL_CTX_free);
  return absl::OkStatus();
}

void HttpServer::ServeConnection(int fd) {
  const absl::Time deadline = absl::Now() + options_.connection_deadline;
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  SslPtr ssl;
  std::shared_ptr<SSL_CTX> ctx = TlsContext();
  bool ok = true;
  if (ctx != nullptr) {
    ssl.reset(SSL_new(ctx.get()));
    ok = ssl != nullptr && SSL_set_fd(ssl.get(), fd) == 1;
    while (ok) {
      ERR_clear_error();
      int r = SSL_accept(ssl.get());
      if (r == 1) break;
      int e = SSL_get_error(ssl.get(), r);
      ok = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
           WaitFd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                  RemainingMs(options_.read_timeout, deadline));
    }
    if (!ok) {
      std::string remote;
      int port = 0;
      AddressOf(fd, true, remote, port);
      LogDebug("TLS handshake failed",
               {{"listener", options_.name}, {"remote", absl::StrCat(remote, ":", port)}});
      ClearOpensslErrors();
    }
  }
  if (ok) {
    BoundedStream strm(fd, ssl.get(), deadline, options_);
    bool closed = false;
    SSL* raw_ssl = ssl.get();
    impl_->process_request(strm, /*close_connection=*/true, closed,
                           [raw_ssl](httplib::Request& req) { req.ssl = raw_ssl; });
    if (ssl != nullptr) {
      ERR_clear_error();
      SSL_shutdown(ssl.get());  // best effort close_notify; never waits
    }
  }
  ssl.reset();
  shutdown(fd, SHUT_RDWR);
  close(fd);
}

}  // namespace signet
