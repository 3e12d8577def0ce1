// Compatibility header: the libcurl HTTP client moved to common/http/ so the
// server can use it too. New code includes "common/http/http_client.h".
#ifndef SIGNET_ATTESTORS_HTTP_HTTP_CLIENT_H_
#define SIGNET_ATTESTORS_HTTP_HTTP_CLIENT_H_

#include "common/http/http_client.h"

namespace signet::attestors {
using ::signet::http::HttpDo;
using ::signet::http::HttpRequest;
using ::signet::http::HttpResponse;
using ::signet::http::kDefaultMaxResponseBytes;
}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_HTTP_HTTP_CLIENT_H_
