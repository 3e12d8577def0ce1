#include "server/health.h"

#include <utility>

#include "common/status_macros.h"

namespace signet::server {

absl::StatusOr<std::unique_ptr<HealthListener>> HealthListener::Start(const std::string& address,
                                                                      int port,
                                                                      std::string live_path,
                                                                      std::string ready_path,
                                                                      std::function<bool()> ready) {
  HttpServerOptions o;
  o.name = "health_checks";
  o.host = address;
  o.port = port;
  // Probes send a bodiless GET and need an answer within seconds.
  o.read_timeout = absl::Seconds(2);
  o.write_timeout = absl::Seconds(2);
  o.connection_deadline = absl::Seconds(5);
  o.max_body_bytes = 0;
  std::map<std::string, HttpHandler> handlers;
  handlers[ready_path] = [ready = std::move(ready)](const HttpRequest&) {
    bool ok = ready && ready();
    return HttpResponse{ok ? 200 : 503, "application/json",
                        ok ? "{\"ready\":true}" : "{\"ready\":false}"};
  };
  // live_path wins when both paths are the same, as it always did.
  handlers[live_path] = [](const HttpRequest&) {
    return HttpResponse{200, "application/json", "{\"live\":true}"};
  };
  ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> http, HttpServer::Start(o, std::move(handlers)));
  return std::unique_ptr<HealthListener>(new HealthListener(std::move(http)));
}

}  // namespace signet::server
