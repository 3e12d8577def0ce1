#include "common/spiffe_id.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace signet {
namespace {

constexpr absl::string_view kSchemePrefix = "spiffe://";

// Error messages follow go-spiffe v2 (spiffeid package) so that operators see
// the same wording from both implementations.
constexpr absl::string_view kErrEmpty = "cannot be empty";
constexpr absl::string_view kErrWrongScheme = "scheme is missing or invalid";
constexpr absl::string_view kErrMissingTrustDomain = "trust domain is missing";
constexpr absl::string_view kErrBadTrustDomainChar =
    "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and "
    "underscores";
constexpr absl::string_view kErrNoLeadingSlash = "path must have a leading slash";
constexpr absl::string_view kErrEmptySegment = "path cannot contain empty segments";
constexpr absl::string_view kErrDotSegment = "path cannot contain dot segments";
constexpr absl::string_view kErrTrailingSlash = "path cannot have a trailing slash";
constexpr absl::string_view kErrBadPathSegmentChar =
    "path segment characters are limited to letters, numbers, dots, dashes, and underscores";

// IsTrustDomainChar reports whether `c` may appear in a trust domain name:
// [a-z0-9.-_] (SPIFFE ID §2.1).
bool IsTrustDomainChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

// IsPathSegmentChar reports whether `c` may appear in a path segment:
// [a-zA-Z0-9.-_] (SPIFFE ID §2.2).
bool IsPathSegmentChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

// ValidateTrustDomainName checks a bare trust domain name. Returns
// InvalidArgument when it is empty, too long or has a forbidden byte.
absl::Status ValidateTrustDomainName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(kErrMissingTrustDomain);
  for (unsigned char c : name) {
    if (!IsTrustDomainChar(c)) return absl::InvalidArgumentError(kErrBadTrustDomainChar);
  }
  if (name.size() > kMaxTrustDomainLength) {
    return absl::InvalidArgumentError(absl::StrCat("trust domain is too long (", name.size(),
                                                   " bytes; maximum ", kMaxTrustDomainLength, ")"));
  }
  return absl::OkStatus();
}

// CheckIdLength returns InvalidArgument when a whole SPIFFE ID of `len` bytes
// exceeds kMaxSpiffeIdLength.
absl::Status CheckIdLength(size_t len) {
  if (len > kMaxSpiffeIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("SPIFFE ID is too long (", len, " bytes; maximum ", kMaxSpiffeIdLength, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePath(absl::string_view path) {
  if (path.empty()) return absl::OkStatus();
  if (path[0] != '/') return absl::InvalidArgumentError(kErrNoLeadingSlash);
  size_t segment_start = 0;
  size_t i = 0;
  for (; i < path.size(); ++i) {
    const unsigned char c = path[i];
    if (c == '/') {
      absl::string_view segment = path.substr(segment_start, i - segment_start);
      if (segment == "/") return absl::InvalidArgumentError(kErrEmptySegment);
      if (segment == "/." || segment == "/..") return absl::InvalidArgumentError(kErrDotSegment);
      segment_start = i;
      continue;
    }
    if (!IsPathSegmentChar(c)) return absl::InvalidArgumentError(kErrBadPathSegmentChar);
  }
  absl::string_view last = path.substr(segment_start);
  if (last == "/") return absl::InvalidArgumentError(kErrTrailingSlash);
  if (last == "/." || last == "/..") return absl::InvalidArgumentError(kErrDotSegment);
  return absl::OkStatus();
}

absl::StatusOr<TrustDomain> TrustDomain::FromString(absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError(kErrMissingTrustDomain);
  if (absl::StrContains(s, ":/")) {
    // Looks like an ID (as go-spiffe decides); "spiffe:/td" then gets the
    // scheme diagnostic rather than a character one.
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString(s);
    if (!id.ok()) return id.status();
    if (!id->path().empty()) {
      return absl::InvalidArgumentError("trust domain ID must not have a path");
    }
    return id->trust_domain();
  }
  absl::Status st = ValidateTrustDomainName(s);
  if (!st.ok()) return st;
  return TrustDomain(std::string(s));
}

absl::StatusOr<SpiffeId> SpiffeId::FromString(absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError(kErrEmpty);
  // Exact, case-sensitive prefix: "SPIFFE://" and "spiffe:/td" are rejected.
  if (!absl::StartsWith(s, kSchemePrefix)) return absl::InvalidArgumentError(kErrWrongScheme);
  absl::Status st = CheckIdLength(s.size());
  if (!st.ok()) return st;
  absl::string_view rest = s.substr(kSchemePrefix.size());
  size_t slash = rest.find('/');
  absl::string_view td = rest.substr(0, slash);
  absl::string_view path = slash == absl::string_view::npos ? "" : rest.substr(slash);
  // Characters are checked before emptiness of the path so that e.g.
  // "spiffe://u@td/a" reports the bad trust domain character.
  st = ValidateTrustDomainName(td);
  if (!st.ok()) return st;
  st = ValidatePath(path);
  if (!st.ok()) return st;
  // td cannot contain ":/" here, so FromString takes the bare-name branch.
  absl::StatusOr<TrustDomain> trust_domain = TrustDomain::FromString(td);
  if (!trust_domain.ok()) return trust_domain.status();
  return SpiffeId(*std::move(trust_domain), std::string(path));
}

absl::StatusOr<SpiffeId> SpiffeId::FromParts(const TrustDomain& td, absl::string_view path) {
  absl::Status st = ValidatePath(path);
  if (!st.ok()) return st;
  st = CheckIdLength(kSchemePrefix.size() + td.name().size() + path.size());
  if (!st.ok()) return st;
  return SpiffeId(td, std::string(path));
}

}  // namespace signet
