// TLS policy of the server's agent-facing port.

#ifndef SIGNET_SERVER_TLS_POLICY_H_
#define SIGNET_SERVER_TLS_POLICY_H_

#include "absl/status/status.h"

namespace signet::server {

// ApplyServerTlsPolicy makes every SSL_CTX the process creates from now on
// (gRPC creates its own, out of our reach) refuse session resumption: no
// TLS 1.3 session tickets, no TLS 1.2 tickets, and TLS 1.2 or newer only.
// Every agent connection therefore runs a full handshake and presents its
// certificate. It does so through OpenSSL's own configuration mechanism (an
// in-memory config whose ssl_conf "system_default" section OpenSSL applies in
// SSL_CTX_new). Idempotent. Internal when OpenSSL rejects the configuration.
[[nodiscard]] absl::Status ApplyServerTlsPolicy();

}  // namespace signet::server

#endif  // SIGNET_SERVER_TLS_POLICY_H_
