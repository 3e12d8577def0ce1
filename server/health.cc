#include "server/health.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace signet::server {

absl::StatusOr<std::unique_ptr<HealthListener>> HealthListener::Start(const std::string& address,
                                                                      int port,
                                                                      std::string live_path,
                                                                      std::string ready_path,
                                                                      std::function<bool()> ready) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port_s = absl::StrCat(port);
  int rc = getaddrinfo(address.empty() ? nullptr : address.c_str(), port_s.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("health_checks: cannot resolve ", address, ": ", gai_strerror(rc)));
  }
  int fd = -1;
  std::string err = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0) break;
    err = strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("health_checks: cannot listen on ", address, ":", port, ": ", err));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  int bound = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  std::unique_ptr<HealthListener> h(
      new HealthListener(fd, bound, std::move(live_path), std::move(ready_path), std::move(ready)));
  h->thread_ = std::thread([p = h.get()] { p->Loop(); });
  return h;
}

HealthListener::~HealthListener() { Stop(); }

void HealthListener::Stop() {
  if (stopping_.exchange(true)) return;
  shutdown(fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  close(fd_);
}

void HealthListener::Loop() {
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, 500);
    if (r <= 0) continue;
    int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    Serve(conn);
    close(conn);
  }
}

void HealthListener::Serve(int conn) {
  timeval tv{2, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req;
  char buf[1024];
  while (req.find("\r\n\r\n") == std::string::npos && req.find("\n\n") == std::string::npos &&
         req.size() < 8192) {
    ssize_t n = read(conn, buf, sizeof buf);
    if (n <= 0) break;
    req.append(buf, static_cast<size_t>(n));
  }
  std::vector<std::string> first = absl::StrSplit(req.substr(0, req.find('\n')), ' ');
  int code = 404;
  std::string body = "{\"error\":\"not found\"}";
  if (first.size() >= 2 && first[0] == "GET") {
    std::string path = first[1].substr(0, first[1].find('?'));
    if (path == live_path_) {
      code = 200;
      body = "{\"live\":true}";
    } else if (path == ready_path_) {
      bool ok = ready_ && ready_();
      code = ok ? 200 : 503;
      body = ok ? "{\"ready\":true}" : "{\"ready\":false}";
    }
  } else if (!first.empty()) {
    code = 405;
    body = "{\"error\":\"method not allowed\"}";
  }
  const char* reason = code == 200   ? "OK"
                       : code == 503 ? "Service Unavailable"
                       : code == 405 ? "Method Not Allowed"
                                     : "Not Found";
  std::string resp =
      absl::StrCat("HTTP/1.0 ", code, " ", reason,
                   "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                   "\r\nConnection: close\r\n\r\n", body);
  size_t off = 0;
  while (off < resp.size()) {
    ssize_t n = write(conn, resp.data() + off, resp.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace signet::server
