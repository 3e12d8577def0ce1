// mtls_echo_client: connects to mtls_echo_server with the workload's
// X.509-SVID, requires the server to be -server SPIFFE_ID, sends -message and
// prints the echo.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "client/tls.h"
#include "client/x509_source.h"
#include "examples/example_flags.h"

int main(int argc, char** argv) {
  std::map<std::string, std::string> f;
  if (!signet::examples::ParseFlags(argc, argv, &f) || !f.count("port") || !f.count("server")) {
    std::fprintf(stderr,
                 "usage: mtls_echo_client [-addr unix:///path] -port N -server SPIFFE_ID "
                 "[-message TEXT]\n");
    return 2;
  }
  auto server_id = signet::SpiffeId::FromString(f["server"]);
  if (!server_id.ok()) return std::fprintf(stderr, "bad -server\n"), 2;
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
  std::string msg = f.count("message") ? f["message"] : "hello";
  char buf[4096];
  int n = -1;
  if (SSL_connect(ssl.get()) == 1 &&
      SSL_write(ssl.get(), msg.data(), static_cast<int>(msg.size())) > 0) {
    n = SSL_read(ssl.get(), buf, sizeof(buf));
  }
  if (n <= 0) {
    absl::Status why = signet::client::PeerVerificationStatus(ssl.get());
    std::fprintf(stderr, "mTLS failed%s%s\n", why.ok() ? " (refused by the server)" : ": ",
                 why.ok() ? "" : why.ToString().c_str());
    close(fd);
    return 1;
  }
  std::printf("%.*s\n", n, buf);
  close(fd);
  return 0;
}
