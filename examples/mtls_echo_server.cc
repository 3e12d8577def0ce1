// mtls_echo_server: an OpenSSL TLS echo server that authenticates with the
// workload's X.509-SVID (kept current from the Workload API) and accepts only
// the SPIFFE ID given with -allow (or any member of -allow-td). It prints the
// accepted peer's ID and certificate serial, or why a peer was refused.
//
//   export SPIFFE_ENDPOINT_SOCKET=unix:///tmp/signet-agent/public/api.sock
//   mtls_echo_server -port 8443 -allow spiffe://example.org/client
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "client/tls.h"
#include "client/x509_source.h"
#include "common/x509.h"
#include "examples/example_flags.h"

using signet::client::Authorizer;

int main(int argc, char** argv) {
  std::map<std::string, std::string> f;
  if (!signet::examples::ParseFlags(argc, argv, &f) ||
      (!f.count("allow") && !f.count("allow-td"))) {
    std::fprintf(stderr,
                 "usage: mtls_echo_server [-addr unix:///path] [-port N] "
                 "(-allow SPIFFE_ID | -allow-td TD) [-once true]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  Authorizer authz;
  if (f.count("allow")) {
    auto id = signet::SpiffeId::FromString(f["allow"]);
    if (!id.ok())
      return std::fprintf(stderr, "bad -allow: %s\n", id.status().ToString().c_str()), 2;
    authz = signet::client::AuthorizeId(*id);
  } else {
    auto td = signet::TrustDomain::FromString(f["allow-td"]);
    if (!td.ok()) return std::fprintf(stderr, "bad -allow-td\n"), 2;
    authz = signet::client::AuthorizeMemberOf(*td);
  }
  signet::client::WorkloadApiOptions opts;
  opts.address = f["addr"];
  auto source = signet::client::X509Source::Create(opts);
  if (!source.ok()) {
    std::fprintf(stderr, "cannot get an X.509-SVID: %s\n", source.status().ToString().c_str());
    return 1;
  }
  auto ctx = signet::client::MakeTlsServerContext(**source, **source, authz);
  if (!ctx.ok()) return std::fprintf(stderr, "%s\n", ctx.status().ToString().c_str()), 1;

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(f.count("port") ? f["port"] : "0")));
  if (bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(lfd, 16) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof(sa);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  std::printf("listening on 127.0.0.1:%d as %s\n", ntohs(sa.sin_port),
              (*source)->GetX509Svid()->id.ToString().c_str());
  std::fflush(stdout);
  bool once = f["once"] == "true";
  for (;;) {
    int fd = accept(lfd, nullptr, nullptr);
    if (fd < 0) continue;
    SSL_CTX* raw_ctx = ctx->get();
    std::thread t([fd, raw_ctx] {
      signet::SslPtr ssl(SSL_new(raw_ctx));
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) == 1) {
        auto peer = signet::client::PeerSpiffeId(ssl.get());
        const X509* cert = SSL_get0_peer_certificate(ssl.get());
        std::printf("accepted %s serial %s\n", peer.ok() ? peer->ToString().c_str() : "?",
                    cert != nullptr ? signet::CertSerialHex(cert).c_str() : "?");
        std::fflush(stdout);
        char buf[4096];
        int n;
        while ((n = SSL_read(ssl.get(), buf, sizeof(buf))) > 0) SSL_write(ssl.get(), buf, n);
      } else {
        std::printf("refused: %s\n",
                    signet::client::PeerVerificationStatus(ssl.get()).ToString().c_str());
        std::fflush(stdout);
        // Lingering close: with TLS 1.3 the client may already have sent
        // data; closing with it unread would reset the connection and lose
        // the alert that tells the client why it was refused.
        shutdown(fd, SHUT_WR);
        timeval tv{2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char drain[4096];
        while (read(fd, drain, sizeof(drain)) > 0) {
        }
      }
      signet::ClearOpensslErrors();
      close(fd);
    });
    if (once) {
      t.join();
      break;
    }
    t.detach();
  }
  return 0;
}
