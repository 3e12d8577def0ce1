// /live and /ready for the server's health_checks listener, on HttpServer.
#ifndef SIGNET_SERVER_HEALTH_H_
#define SIGNET_SERVER_HEALTH_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/http_server.h"

namespace signet::server {

// HealthListener answers GET <live_path> (200 {"live":true} while the
// process runs) and GET <ready_path> (200 {"ready":true} when `ready()` is
// true, else 503 {"ready":false}) on its own threads.
class HealthListener {
 public:
  // Start binds `address:port` (port 0 picks one). Unavailable when it
  // cannot bind.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HealthListener>> Start(
      const std::string& address, int port, std::string live_path, std::string ready_path,
      std::function<bool()> ready);
  HealthListener(const HealthListener&) = delete;
  HealthListener& operator=(const HealthListener&) = delete;

  int port() const { return http_->port(); }
  void Stop() { http_->Stop(); }

 private:
  explicit HealthListener(std::unique_ptr<HttpServer> http) : http_(std::move(http)) {}

  std::unique_ptr<HttpServer> http_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_HEALTH_H_
