#include "common/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gtest/gtest.h"
#include "test/fakes/test_pki.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Exchange sends `request` raw and returns everything read until the server
// closes ("" when it closed without answering).
std::string Exchange(int port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return "<connect failed>";
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may hang up on an oversized request
    off += static_cast<size_t>(n);
  }
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

struct Counting {
  std::atomic<int> calls{0};
  HttpHandler Handler(std::string body) {
    return [this, body](const HttpRequest&) {
      ++calls;
      return HttpResponse{200, "text/plain", body};
    };
  }
};

TEST(HttpServerTest, ServesRegisteredPathsOnTheBoundPort) {
  Counting c;
  auto s = HttpServer::Start({}, {{"/a", c.Handler("alpha")}});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_GT((*s)->port(), 0);
  std::string r = Exchange((*s)->port(), "GET /a?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Content-Type: text/plain\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\nalpha")) << r;
  r = Exchange((*s)->port(), "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 404 Not Found\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "{\"error\":\"not found\"}")) << r;
  r = Exchange((*s)->port(), "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 405 Method Not Allowed\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "{\"error\":\"method not allowed\"}")) << r;
  EXPECT_EQ(c.calls.load(), 1);
}

TEST(HttpServerTest, BusyPortIsUnavailable) {
  auto a = HttpServer::Start({}, {});
  ASSERT_TRUE(a.ok()) << a.status();
  HttpServerOptions o;
  o.name = "metrics";
  o.port = (*a)->port();
  auto b = HttpServer::Start(o, {});
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b.status().message(), absl::StrCat("metrics: cannot listen on 127.0.0.1:", o.port));
}

TEST(HttpServerTest, OversizedHeadersAreCutBeforeAnyHandler) {
  Counting c;
  HttpServerOptions o;
  o.max_header_bytes = 4096;
  o.max_body_bytes = 0;
  auto s = HttpServer::Start(o, {{"/a", c.Handler("alpha")}});
  ASSERT_TRUE(s.ok()) << s.status();
  // One endless header line: the server stops reading at its budget.
  std::string big =
      absl::StrCat("GET /a HTTP/1.1\r\nX-Big: ", std::string(1 << 20, 'x'), "\r\n\r\n");
  std::string r = Exchange((*s)->port(), big);
  EXPECT_FALSE(absl::StrContains(r, "200 OK")) << r.substr(0, 200);
  // Many small headers: same budget.
  std::string many = "GET /a HTTP/1.1\r\n";
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&many, "X-H", i, ": v\r\n");
  many += "\r\n";
  r = Exchange((*s)->port(), many);
  EXPECT_FALSE(absl::StrContains(r, "200 OK")) << r.substr(0, 200);
  EXPECT_EQ(c.calls.load(), 0);
  // A request within the budget still works.
  r = Exchange((*s)->port(), "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
}

TEST(HttpServerTest, IdleClientIsDisconnectedAndOthersAreServed) {
  Counting c;
  HttpServerOptions o;
  o.threads = 1;
  o.read_timeout = absl::Milliseconds(200);
  o.connection_deadline = absl::Seconds(1);
  auto s = HttpServer::Start(o, {{"/a", c.Handler("alpha")}});
  ASSERT_TRUE(s.ok()) << s.status();
  // The only worker is taken by a client that sends nothing; the server must
  // hang up on it (read returns 0) rather than wait forever.
  int idle = Connect((*s)->port());
  ASSERT_GE(idle, 0);
  char b;
  EXPECT_EQ(read(idle, &b, 1), 0);
  close(idle);
  std::string r = Exchange((*s)->port(), "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
}

TEST(HttpServerTest, HandlersRunOnAtMostThreadsConnectionsAtOnce) {
  HttpServerOptions o;
  o.threads = 2;
  o.max_queued_connections = 1;
  o.connection_deadline = absl::Seconds(60);
  o.read_timeout = absl::Seconds(30);
  absl::Mutex mu;
  int inside = 0;
  int most = 0;
  bool release = false;
  auto s = HttpServer::Start(o, {{"/slow", [&](const HttpRequest&) {
                                    absl::MutexLock l(&mu);
                                    most = std::max(most, ++inside);
                                    mu.Await(absl::Condition(&release));
                                    --inside;
                                    return HttpResponse{200, "text/plain", "done"};
                                  }}});
  ASSERT_TRUE(s.ok()) << s.status();
  constexpr int kClients = 5;
  std::vector<std::string> out(kClients);
  std::vector<std::thread> clients;
  std::atomic<int> sent{0};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      int fd = Connect((*s)->port());
      const std::string req = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
      if (fd < 0 || send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
        ++sent;
        return;
      }
      ++sent;
      char buf[256];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) out[i].append(buf, static_cast<size_t>(n));
      close(fd);
    });
  }
  {
    absl::MutexLock l(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == 2; }, &inside),
                                    absl::Seconds(60)));
  }
  // Every client has sent its request; the three beyond the two workers sit
  // in the queue or the kernel's backlog. Give a (wrongly) free worker the
  // chance to take one: with the bound in place, none can.
  ASSERT_TRUE(testutil::WaitFor([&] { return sent.load() == kClients; }));
  {
    absl::MutexLock l(&mu);
    EXPECT_FALSE(mu.AwaitWithTimeout(absl::Condition(
                                         +[](int* n) { return *n > 2; }, &inside),
                                     absl::Milliseconds(500)));
    release = true;
  }
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(absl::EndsWith(out[i], "\r\n\r\ndone")) << i << ": " << out[i];
  }
  absl::MutexLock l(&mu);
  EXPECT_EQ(most, 2);
}

TEST(HttpServerTest, BadOptionsAreRejected) {
  HttpServerOptions o;
  o.threads = 0;
  EXPECT_EQ(HttpServer::Start(o, {}).status().code(), absl::StatusCode::kInvalidArgument);
  o = HttpServerOptions();
  o.tls = HttpTlsOptions{"not pem", "not pem", ClientCertMode::kNone, nullptr};
  auto s = HttpServer::Start(o, {});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.status().message(), "http: bad TLS certificate: ")) << s.status();
  o.tls->client_certs = ClientCertMode::kRequired;
  s = HttpServer::Start(o, {});
  EXPECT_EQ(s.status().message(), "http: client certificates requested without verify_client");
}

// Credentials: a key and a leaf for `id` issued by `pki`, as PEM.
struct Credentials {
  EvpPkeyPtr key;
  X509Ptr cert;
  std::string cert_pem;
  std::string key_pem;
};

Credentials Mint(const testfakes::TestPki& pki, const std::string& id) {
  Credentials c;
  c.key = GenerateKey(KeyType::kEcP256).value();
  LeafParams lp{SpiffeId::FromString(id).value(), {"localhost"}, absl::Now(), absl::Hours(1)};
  c.cert = IssueLeaf(pki.ca.get(), pki.ca_key.get(), c.key.get(), lp).value();
  c.cert_pem = CertToPem(c.cert.get()).value();
  c.key_pem = PrivateKeyToPkcs8Pem(c.key.get()).value();
  return c;
}

struct TlsResult {
  bool handshake = false;
  std::string response;
  X509Ptr server_cert;
};

// TlsGet connects with TLS trusting `ca`, optionally presenting `client`,
// and sends GET `path`.
TlsResult TlsGet(int port, const X509* ca, const Credentials* client, const std::string& path) {
  TlsResult out;
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), const_cast<X509*>(ca));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (client != nullptr) {
    SSL_CTX_use_certificate(ctx.get(), client->cert.get());
    SSL_CTX_use_PrivateKey(ctx.get(), client->key.get());
  }
  int fd = Connect(port);
  if (fd < 0) return out;
  SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  SSL_set1_host(ssl.get(), "localhost");
  if (SSL_connect(ssl.get()) == 1) {
    out.handshake = true;
    out.server_cert.reset(SSL_get1_peer_certificate(ssl.get()));
    std::string req = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    SSL_write(ssl.get(), req.data(), static_cast<int>(req.size()));
    char buf[1024];
    int n;
    while ((n = SSL_read(ssl.get(), buf, sizeof buf)) > 0) {
      out.response.append(buf, static_cast<size_t>(n));
    }
  }
  ssl.reset();
  close(fd);
  ClearOpensslErrors();
  return out;
}

TEST(HttpServerTlsTest, ServesOverTlsWithItsCertificateAndRotates) {
  testfakes::TestPki pki = testfakes::TestPki::Make();
  Credentials server = Mint(pki, "spiffe://cluster.local/server");
  HttpServerOptions o;
  o.tls = HttpTlsOptions{server.cert_pem, server.key_pem, ClientCertMode::kNone, nullptr};
  auto s = HttpServer::Start(
      o, {{"/bundle", [](const HttpRequest& r) {
             return HttpResponse{200, "application/json", absl::StrCat(r.peer_chain.size())};
           }}});
  ASSERT_TRUE(s.ok()) << s.status();
  TlsResult r = TlsGet((*s)->port(), pki.ca.get(), nullptr, "/bundle");
  ASSERT_TRUE(r.handshake);
  EXPECT_TRUE(absl::StartsWith(r.response, "HTTP/1.1 200 OK\r\n")) << r.response;
  EXPECT_TRUE(absl::EndsWith(r.response, "\r\n\r\n0")) << r.response;
  EXPECT_EQ(X509_cmp(r.server_cert.get(), server.cert.get()), 0);
  // A plain-text client gets no answer from a TLS listener.
  EXPECT_FALSE(absl::StrContains(Exchange((*s)->port(), "GET /bundle HTTP/1.1\r\nHost: x\r\n\r\n"),
                                 "200 OK"));

  Credentials next = Mint(pki, "spiffe://cluster.local/server");
  ASSERT_TRUE((*s)->SetTlsCredentials(next.cert_pem, next.key_pem).ok());
  r = TlsGet((*s)->port(), pki.ca.get(), nullptr, "/bundle");
  ASSERT_TRUE(r.handshake);
  EXPECT_EQ(X509_cmp(r.server_cert.get(), next.cert.get()), 0);
  absl::Status bad = (*s)->SetTlsCredentials(next.cert_pem, server.key_pem);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.message(), "http: TLS private key does not match")) << bad;
}

TEST(HttpServerTlsTest, ClientCertificatesAreVerifiedAndHandedToTheHandler) {
  testfakes::TestPki pki = testfakes::TestPki::Make();
  testfakes::TestPki other = testfakes::TestPki::Make("other-ca");
  Credentials server = Mint(pki, "spiffe://cluster.local/server");
  Credentials good = Mint(pki, "spiffe://cluster.local/workload");
  Credentials stranger = Mint(other, "spiffe://cluster.local/workload");
  std::atomic<int> verified{0};
  HttpTlsOptions tls{server.cert_pem, server.key_pem, ClientCertMode::kRequired,
                     [&](const std::vector<X509*>& chain) -> absl::Status {
                       ++verified;
                       EVP_PKEY* ca_key = X509_get0_pubkey(pki.ca.get());
                       if (X509_verify(chain[0], ca_key) != 1) {
                         ClearOpensslErrors();
                         return absl::PermissionDeniedError("not issued by our CA");
                       }
                       return absl::OkStatus();
                     }};
  HttpServerOptions o;
  o.tls = tls;
  std::atomic<int> served{0};
  auto s = HttpServer::Start(o, {{"/token", [&](const HttpRequest& r) {
                                    ++served;
                                    std::string id;
                                    if (!r.peer_chain.empty()) {
                                      id = SpiffeIdFromCert(r.peer_chain[0].get())->ToString();
                                    }
                                    return HttpResponse{200, "text/plain", id};
                                  }}});
  ASSERT_TRUE(s.ok()) << s.status();

  TlsResult r = TlsGet((*s)->port(), pki.ca.get(), &good, "/token");
  ASSERT_TRUE(r.handshake);
  EXPECT_TRUE(absl::EndsWith(r.response, "\r\n\r\nspiffe://cluster.local/workload")) << r.response;
  EXPECT_EQ(verified.load(), 1);
  EXPECT_EQ(served.load(), 1);

  // TLS 1.3 reports a rejected client certificate after the client's side of
  // the handshake is done: either way nothing is served.
  r = TlsGet((*s)->port(), pki.ca.get(), &stranger, "/token");
  EXPECT_EQ(r.response, "");
  EXPECT_EQ(verified.load(), 2);
  r = TlsGet((*s)->port(), pki.ca.get(), nullptr, "/token");
  EXPECT_EQ(r.response, "");
  EXPECT_EQ(verified.load(), 2);  // no chain, nothing to verify
  EXPECT_EQ(served.load(), 1);
}

}  // namespace
}  // namespace signet
