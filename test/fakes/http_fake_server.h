// FakeHttpServer: a small real HTTP/1.1 server for tests, on a unix socket
// (as dockerd) or on 127.0.0.1 with optional TLS (as the kubelet or the
// kube-apiserver). One connection at a time, one request per connection
// ("Connection: close"). Header-only so any test binary can use it.
#ifndef SIGNET_TEST_FAKES_HTTP_FAKE_SERVER_H_
#define SIGNET_TEST_FAKES_HTTP_FAKE_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/openssl_util.h"

namespace signet::testfakes {

struct FakeHttpRequest {
  std::string method;
  std::string path;                            // request target, e.g. "/pods"
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct FakeHttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // Send the body with chunked transfer encoding (no Content-Length).
  bool chunked = false;
  // Wait this long before answering (cut short when the server stops).
  absl::Duration delay = absl::ZeroDuration();
  // Send only the first N bytes of the body, then close (Content-Length still
  // announces the whole body); SIZE_MAX = everything.
  size_t send_only = SIZE_MAX;
};

using FakeHttpHandler = std::function<FakeHttpResponse(const FakeHttpRequest&)>;

// FakeHttpServer serves `handler` on a background thread until destroyed.
class FakeHttpServer {
 public:
  // StartUnix listens on the unix socket `path`; nullptr on failure.
  static std::unique_ptr<FakeHttpServer> StartUnix(const std::string& path,
                                                   FakeHttpHandler handler) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) return nullptr;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd, 64) != 0) {
      ::close(fd);
      return nullptr;
    }
    return std::unique_ptr<FakeHttpServer>(new FakeHttpServer(fd, 0, std::move(handler), nullptr));
  }

  // StartTcp listens on 127.0.0.1:<ephemeral>; with `tls` it speaks HTTPS
  // using that context. nullptr on failure.
  static std::unique_ptr<FakeHttpServer> StartTcp(FakeHttpHandler handler,
                                                  SslCtxPtr tls = nullptr) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd, 64) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd);
      return nullptr;
    }
    return std::unique_ptr<FakeHttpServer>(
        new FakeHttpServer(fd, ntohs(addr.sin_port), std::move(handler), std::move(tls)));
  }

  // TlsContext returns a server SSL_CTX presenting `cert_pem_chain` with
  // `key`; nullptr on failure.
  static SslCtxPtr TlsContext(const X509* cert, const EVP_PKEY* key) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) return nullptr;
    if (SSL_CTX_use_certificate(ctx.get(), const_cast<X509*>(cert)) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), const_cast<EVP_PKEY*>(key)) != 1) {
      return nullptr;
    }
    return ctx;
  }

  ~FakeHttpServer() {
    stop_.Notify();
    thread_.join();
    ::close(listen_fd_);
  }
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  int port() const { return port_; }
  // requests returns how many requests the handler has seen.
  int requests() const { return requests_.load(); }
  // received returns a copy of every request seen.
  std::vector<FakeHttpRequest> received() const {
    absl::MutexLock l(&mu_);
    return received_;
  }

 private:
  FakeHttpServer(int fd, int port, FakeHttpHandler handler, SslCtxPtr tls)
      : listen_fd_(fd), port_(port), handler_(std::move(handler)), tls_(std::move(tls)) {
    ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the test
    thread_ = std::thread([this] { Loop(); });
  }

  // Conn abstracts a plain or TLS connection.
  struct Conn {
    int fd = -1;
    SslPtr ssl;
    ssize_t Read(char* buf, size_t n) {
      if (ssl) {
        int r = SSL_read(ssl.get(), buf, static_cast<int>(n));
        return r > 0 ? r : -1;
      }
      return ::recv(fd, buf, n, 0);
    }
    bool WriteAll(absl::string_view data) {
      while (!data.empty()) {
        size_t chunk = std::min<size_t>(data.size(), 1 << 16);
        ssize_t w = ssl ? SSL_write(ssl.get(), data.data(), static_cast<int>(chunk))
                        : ::send(fd, data.data(), chunk, MSG_NOSIGNAL);
        if (w <= 0) return false;
        data.remove_prefix(static_cast<size_t>(w));
      }
      return true;
    }
  };

  void Loop() {
    while (!stop_.HasBeenNotified()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int cfd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (cfd < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      ::setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      Conn c;
      c.fd = cfd;
      bool ok = true;
      if (tls_) {
        c.ssl.reset(SSL_new(tls_.get()));
        ok = c.ssl && SSL_set_fd(c.ssl.get(), cfd) == 1 && SSL_accept(c.ssl.get()) == 1;
      }
      if (ok) Serve(c);
      if (c.ssl) SSL_shutdown(c.ssl.get());
      c.ssl.reset();
      ::close(cfd);
      ClearOpensslErrors();
    }
  }

  void Serve(Conn& c) {
    std::string in;
    char buf[8192];
    size_t header_end;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = c.Read(buf, sizeof(buf));
      if (n <= 0 || in.size() > (1 << 16)) return;
      in.append(buf, static_cast<size_t>(n));
    }
    FakeHttpRequest req;
    std::vector<std::string> lines = absl::StrSplit(in.substr(0, header_end), "\r\n");
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    if (first.size() < 2) return;
    req.method = first[0];
    req.path = first[1];
    size_t content_length = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      if (name == "content-length") (void)absl::SimpleAtoi(value, &content_length);
      req.headers[name] = value;
    }
    req.body = in.substr(header_end + 4);
    while (req.body.size() < content_length) {
      ssize_t n = c.Read(buf, sizeof(buf));
      if (n <= 0) return;
      req.body.append(buf, static_cast<size_t>(n));
    }
    ++requests_;
    {
      absl::MutexLock l(&mu_);
      received_.push_back(req);
    }
    FakeHttpResponse resp = handler_(req);
    if (resp.delay > absl::ZeroDuration() && stop_.WaitForNotificationWithTimeout(resp.delay)) {
      return;
    }
    std::string head =
        absl::StrCat("HTTP/1.1 ", resp.status, " Fake\r\nContent-Type: ", resp.content_type,
                     "\r\nConnection: close\r\n");
    if (resp.chunked) {
      absl::StrAppend(&head, "Transfer-Encoding: chunked\r\n\r\n");
    } else {
      absl::StrAppend(&head, "Content-Length: ", resp.body.size(), "\r\n\r\n");
    }
    if (!c.WriteAll(head)) return;
    absl::string_view body = resp.body;
    if (resp.send_only < body.size()) body = body.substr(0, resp.send_only);
    if (!resp.chunked) {
      c.WriteAll(body);
      return;
    }
    while (!body.empty()) {
      size_t n = std::min<size_t>(body.size(), 1 << 16);
      std::string chunk = absl::StrCat(absl::Hex(n), "\r\n", body.substr(0, n), "\r\n");
      if (!c.WriteAll(chunk)) return;
      body.remove_prefix(n);
    }
    if (resp.send_only == SIZE_MAX) c.WriteAll("0\r\n\r\n");
  }

  const int listen_fd_;
  const int port_;
  const FakeHttpHandler handler_;
  const SslCtxPtr tls_;
  absl::Notification stop_;
  std::atomic<int> requests_{0};
  std::thread thread_;

  mutable absl::Mutex mu_;
  // Guarded by mu_
  std::vector<FakeHttpRequest> received_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::testfakes

#endif  // SIGNET_TEST_FAKES_HTTP_FAKE_SERVER_H_
