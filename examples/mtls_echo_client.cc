// mtls_echo_client: connects to mtls_echo_server with the workload's
// X.509-SVID, requires the server to be -server SPIFFE_ID, prints the
// server's ID and certificate serial, sends -message (-count times over the
// same connection, -interval apart) and prints each echo.
//
//   mtls_echo_client -port 8443 -server spiffe://example.org/server -message ping
//       -count 20 -interval 500ms
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/tls.h"
#include "client/x509_source.h"
#include "common/x509.h"
#include "examples/example_flags.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: mtls_echo_client [-addr unix:///path] -port N -server SPIFFE_ID "
               "[-message TEXT] [-count N] [-interval DURATION]\n");
  return 2;
}

// Failure prints why the exchange on `ssl` failed (`rc` is the failed call's
// return value) and returns 1: our own verification status when we refused
// the server, else the TLS error (e.g. the alert the server sent when it
// refused us) or the connection error.
int Failure(SSL* ssl, int rc, const char* step) {
  absl::Status why = signet::client::PeerVerificationStatus(ssl);
  if (!why.ok() && why.code() != absl::StatusCode::kFailedPrecondition) {
    std::fprintf(stderr, "mTLS failed: server refused by us: %s\n", why.ToString().c_str());
    return 1;
  }
  int saved_errno = errno;
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_SSL:
      std::fprintf(stderr, "mTLS failed: %s\n",
                   std::string(signet::OpensslError(step).message()).c_str());
      break;
    case SSL_ERROR_ZERO_RETURN:
      std::fprintf(stderr, "mTLS failed: %s: connection closed by the server\n", step);
      break;
    default:
      std::fprintf(
          stderr, "mTLS failed: %s: %s\n", step,
          saved_errno != 0 ? std::strerror(saved_errno) : "connection closed by the server");
  }
  return 1;
}

// ReadFull reads exactly `n` bytes into `buf`; returns 1, or the failed
// SSL_read's return value.
int ReadFull(SSL* ssl, char* buf, int n) {
  int got = 0;
  while (got < n) {
    int r = SSL_read(ssl, buf + got, n - got);
    if (r <= 0) return r;
    got += r;
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> f;
  if (!signet::examples::ParseFlags(argc, argv, &f) || !f.count("port") || !f.count("server")) {
    return Usage();
  }
  auto server_id = signet::SpiffeId::FromString(f["server"]);
  if (!server_id.ok()) return std::fprintf(stderr, "bad -server\n"), 2;
  int count = 1;
  if (f.count("count") && (!absl::SimpleAtoi(f["count"], &count) || count < 1)) return Usage();
  absl::Duration interval = absl::ZeroDuration();
  if (f.count("interval") && !absl::ParseDuration(f["interval"], &interval)) return Usage();
  std::string msg = f.count("message") ? f["message"] : "hello";
  if (msg.empty() || msg.size() > 4096) return Usage();

  signet::client::WorkloadApiOptions opts;
  opts.address = f["addr"];
  auto source = signet::client::X509Source::Create(opts);
  if (!source.ok()) {
    std::fprintf(stderr, "cannot get an X.509-SVID: %s\n", source.status().ToString().c_str());
    return 1;
  }
  auto ctx = signet::client::MakeTlsClientContext(**source, **source,
                                                  signet::client::AuthorizeId(*server_id));
  if (!ctx.ok()) return std::fprintf(stderr, "%s\n", ctx.status().ToString().c_str()), 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(f["port"])));
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    std::perror("connect");
    return 1;
  }
  signet::SslPtr ssl(SSL_new(ctx->get()));
  SSL_set_fd(ssl.get(), fd);
  errno = 0;
  if (int r = SSL_connect(ssl.get()); r != 1) {
    int rc = Failure(ssl.get(), r, "handshake");
    close(fd);
    return rc;
  }
  auto peer = signet::client::PeerSpiffeId(ssl.get());
  const X509* peer_cert = SSL_get0_peer_certificate(ssl.get());
  std::printf("server %s serial %s\n", peer.ok() ? peer->ToString().c_str() : "?",
              peer_cert != nullptr ? signet::CertSerialHex(peer_cert).c_str() : "?");
  std::fflush(stdout);
  char buf[4096];
  for (int i = 0; i < count; ++i) {
    if (i > 0) absl::SleepFor(interval);
    // With TLS 1.3 the server checks our certificate after our handshake has
    // completed: a refusal shows up as an alert on the first read.
    errno = 0;
    int r = SSL_write(ssl.get(), msg.data(), static_cast<int>(msg.size()));
    if (r > 0) r = ReadFull(ssl.get(), buf, static_cast<int>(msg.size()));
    if (r <= 0) {
      int rc = Failure(ssl.get(), r, "echo");
      close(fd);
      return rc;
    }
    std::printf("%.*s\n", static_cast<int>(msg.size()), buf);
    std::fflush(stdout);
  }
  SSL_shutdown(ssl.get());
  close(fd);
  return 0;
}
