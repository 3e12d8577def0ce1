// A tiny blocking HTTP/1.0 responder for /live and /ready.
#ifndef SIGNET_SERVER_HEALTH_H_
#define SIGNET_SERVER_HEALTH_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace signet::server {

// HealthListener answers GET <live_path> (200 while the process runs) and
// GET <ready_path> (200 when `ready()` is true, else 503) on its own thread.
class HealthListener {
 public:
  // Start binds `address:port` (port 0 picks one). Unavailable when it
  // cannot bind.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HealthListener>> Start(
      const std::string& address, int port, std::string live_path, std::string ready_path,
      std::function<bool()> ready);
  ~HealthListener();
  HealthListener(const HealthListener&) = delete;
  HealthListener& operator=(const HealthListener&) = delete;

  int port() const { return port_; }
  void Stop();

 private:
  HealthListener(int fd, int port, std::string live, std::string ready, std::function<bool()> r)
      : fd_(fd),
        port_(port),
        live_path_(std::move(live)),
        ready_path_(std::move(ready)),
        ready_(std::move(r)) {}
  void Loop();
  void Serve(int conn);

  const int fd_;
  const int port_;
  const std::string live_path_;
  const std::string ready_path_;
  const std::function<bool()> ready_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_HEALTH_H_
