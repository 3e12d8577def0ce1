#include "common/endpoint.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/un.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace signet {
namespace {

// UriParts is an RFC 3986 split of a URI reference (no decoding).
struct UriParts {
  std::string scheme;  // lowercased
  bool has_authority = false;
  absl::string_view authority;
  absl::string_view path;
  bool opaque = false;  // hier-part is not "//..." and does not start with "/"
  bool has_query = false;
  bool has_fragment = false;
};

absl::Status Invalid(absl::string_view msg) { return absl::InvalidArgumentError(msg); }

constexpr absl::string_view kSchemeError =
    "workload endpoint socket URI must have a \"tcp\" or \"unix\" scheme";

// SplitUri splits `s` per RFC 3986 §3. Returns InvalidArgument when there is
// no valid scheme.
absl::StatusOr<UriParts> SplitUri(absl::string_view s) {
  UriParts u;
  size_t colon = s.find(':');
  if (colon == absl::string_view::npos || colon == 0) return Invalid(kSchemeError);
  absl::string_view scheme = s.substr(0, colon);
  if (!absl::ascii_isalpha(static_cast<unsigned char>(scheme[0]))) return Invalid(kSchemeError);
  for (char c : scheme) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return Invalid(kSchemeError);
    }
  }
  u.scheme = absl::AsciiStrToLower(scheme);
  absl::string_view rest = s.substr(colon + 1);
  size_t hash = rest.find('#');
  if (hash != absl::string_view::npos) {
    u.has_fragment = true;
    rest = rest.substr(0, hash);
  }
  size_t q = rest.find('?');
  if (q != absl::string_view::npos) {
    u.has_query = true;
    rest = rest.substr(0, q);
  }
  if (rest.substr(0, 2) == "//") {
    u.has_authority = true;
    rest.remove_prefix(2);
    size_t slash = rest.find('/');
    u.authority = rest.substr(0, slash);
    u.path = slash == absl::string_view::npos ? absl::string_view() : rest.substr(slash);
  } else if (!rest.empty() && rest[0] == '/') {
    u.path = rest;
  } else {
    u.opaque = !rest.empty();
    u.path = rest;
  }
  return u;
}

absl::StatusOr<std::string> ParseUnix(const UriParts& u) {
  if (u.opaque) return Invalid("workload endpoint unix socket URI must not be opaque");
  if (u.authority.find('@') != absl::string_view::npos) {
    return Invalid("workload endpoint unix socket URI must not include user info");
  }
  if (!u.authority.empty()) {
    return Invalid("workload endpoint unix socket URI must not include an authority");
  }
  if (u.has_query)
    return Invalid("workload endpoint unix socket URI must not include query values");
  if (u.has_fragment)
    return Invalid("workload endpoint unix socket URI must not include a fragment");
  if (u.path.empty()) return Invalid("workload endpoint unix socket URI must include a path");
  // SplitUri only yields a non-opaque, non-empty path when it starts with "/".
  if (u.path.find('%') != absl::string_view::npos) {
    return Invalid("workload endpoint unix socket URI path must not contain percent-encoding");
  }
  if (u.path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Invalid(absl::StrCat("workload endpoint unix socket path is too long (", u.path.size(),
                                " bytes; maximum ", sizeof(sockaddr_un::sun_path) - 1, ")"));
  }
  return absl::StrCat("unix:", u.path);
}

absl::StatusOr<std::string> ParseTcp(const UriParts& u) {
  if (u.opaque) return Invalid("workload endpoint tcp socket URI must not be opaque");
  if (u.authority.find('@') != absl::string_view::npos) {
    return Invalid("workload endpoint tcp socket URI must not include user info");
  }
  if (u.authority.empty()) return Invalid("workload endpoint tcp socket URI must include a host");
  if (!u.path.empty()) return Invalid("workload endpoint tcp socket URI must not include a path");
  if (u.has_query) return Invalid("workload endpoint tcp socket URI must not include query values");
  if (u.has_fragment)
    return Invalid("workload endpoint tcp socket URI must not include a fragment");

  constexpr absl::string_view kNotIp =
      "workload endpoint tcp socket URI host component must be an IP:port";
  absl::string_view host;
  absl::string_view port;
  bool have_port = false;
  bool bracketed = false;
  if (u.authority[0] == '[') {
    size_t close = u.authority.find(']');
    if (close == absl::string_view::npos) return Invalid(kNotIp);
    host = u.authority.substr(1, close - 1);
    absl::string_view after = u.authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Invalid(kNotIp);
      have_port = true;
      port = after.substr(1);
    }
    bracketed = true;
  } else {
    size_t c = u.authority.rfind(':');
    host = u.authority.substr(0, c);
    if (c != absl::string_view::npos) {
      have_port = true;
      port = u.authority.substr(c + 1);
    }
  }
  const std::string host_str(host);
  char canonical[INET6_ADDRSTRLEN] = {};
  std::string target;
  in_addr a4;
  in6_addr a6;
  if (!bracketed && inet_pton(AF_INET, host_str.c_str(), &a4) == 1) {
    inet_ntop(AF_INET, &a4, canonical, sizeof(canonical));
    target = absl::StrCat("ipv4:", canonical);
  } else if (bracketed && inet_pton(AF_INET6, host_str.c_str(), &a6) == 1) {
    inet_ntop(AF_INET6, &a6, canonical, sizeof(canonical));
    target = absl::StrCat("ipv6:[", canonical, "]");
  } else {
    return Invalid(kNotIp);
  }
  if (!have_port || port.empty()) {
    return Invalid("workload endpoint tcp socket URI host component must include a port");
  }
  int port_num = 0;
  bool digits = true;
  for (char c : port) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (!digits || !absl::SimpleAtoi(port, &port_num) || port_num < 1 || port_num > 65535) {
    return Invalid(absl::StrCat("workload endpoint tcp socket URI port \"", port,
                                "\" is not in the range 1-65535"));
  }
  return absl::StrCat(target, ":", port_num);
}

}  // namespace

absl::StatusOr<std::string> ParseWorkloadEndpoint(absl::string_view addr) {
  absl::StatusOr<UriParts> u = SplitUri(addr);
  if (!u.ok()) return u.status();
  if (u->scheme == "unix") return ParseUnix(*u);
  if (u->scheme == "tcp") return ParseTcp(*u);
  return Invalid(kSchemeError);
}

absl::StatusOr<std::string> WorkloadEndpointFromEnvOrFlag(absl::string_view flag_value) {
  if (!flag_value.empty()) return ParseWorkloadEndpoint(flag_value);
  const char* env = getenv(kSpiffeEndpointSocketEnv);
  if (env != nullptr && env[0] != '\0') return ParseWorkloadEndpoint(env);
  return absl::FailedPreconditionError("workload endpoint socket address is not configured");
}

}  // namespace signet
