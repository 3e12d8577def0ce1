#include "server/tls_policy.h"

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/ssl.h>

#include <memory>

#include "common/openssl_util.h"

namespace signet::server {
namespace {

// The ssl_conf module names the section applied to every new SSL_CTX
// ("system_default"). Options=-SessionTicket sets SSL_OP_NO_TICKET (no TLS 1.2
// tickets); NumTickets=0 sends no TLS 1.3 tickets. TLS 1.2 session-ID
// resumption needs a session id context that gRPC does not set, so it is not
// offered either (test: HostileNodeTest.TlsSessionResumptionIsNotOffered).
constexpr char kConfig[] =
    "signet_openssl_init = signet_init\n"
    "[signet_init]\n"
    "ssl_conf = signet_ssl\n"
    "[signet_ssl]\n"
    "system_default = signet_tls\n"
    "[signet_tls]\n"
    "MinProtocol = TLSv1.2\n"
    "Options = -SessionTicket\n"
    "NumTickets = 0\n";

}  // namespace

absl::Status ApplyServerTlsPolicy() {
  static const absl::Status* const applied = [] {
    // Make sure OpenSSL has loaded its own default config first, so that a
    // later implicit load cannot replace ours.
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(kConfig, sizeof(kConfig) - 1),
                                                  &BIO_free);
    std::unique_ptr<CONF, decltype(&NCONF_free)> conf(NCONF_new(nullptr), &NCONF_free);
    long line = 0;
    if (!bio || !conf || NCONF_load_bio(conf.get(), bio.get(), &line) <= 0) {
      return new absl::Status(OpensslError("ApplyServerTlsPolicy: parse"));
    }
    if (CONF_modules_load(conf.get(), "signet_openssl_init", 0) <= 0) {
      return new absl::Status(OpensslError("ApplyServerTlsPolicy: load"));
    }
    return new absl::Status();
  }();
  return *applied;
}

}  // namespace signet::server
