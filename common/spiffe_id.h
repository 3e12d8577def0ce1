// SPIFFE ID and trust domain parsing per the SPIFFE ID standard (checklist A).
#ifndef SIGNET_COMMON_SPIFFE_ID_H_
#define SIGNET_COMMON_SPIFFE_ID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet {

// Longest SPIFFE ID we accept or generate (whole URI, bytes).
inline constexpr size_t kMaxSpiffeIdLength = 2048;
// Longest trust domain name.
inline constexpr size_t kMaxTrustDomainLength = 255;

// TrustDomain is a validated trust domain name ("example.org"). Immutable and
// thread-compatible.
class TrustDomain {
 public:
  // FromString accepts a bare name ("example.org") or a trust-domain ID
  // ("spiffe://example.org"). Returns InvalidArgument naming the defect.
  [[nodiscard]] static absl::StatusOr<TrustDomain> FromString(absl::string_view s);

  const std::string& name() const { return name_; }
  // IdString returns "spiffe://<name>".
  std::string IdString() const { return "spiffe://" + name_; }

  bool operator==(const TrustDomain& o) const { return name_ == o.name_; }
  bool operator!=(const TrustDomain& o) const { return name_ != o.name_; }
  bool operator<(const TrustDomain& o) const { return name_ < o.name_; }

 private:
  explicit TrustDomain(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// SpiffeId is a validated SPIFFE ID. Immutable and thread-compatible.
class SpiffeId {
 public:
  // FromString parses "spiffe://<td>[/path]" strictly (checklist A1-A15).
  // Returns InvalidArgument with a message naming the defect.
  [[nodiscard]] static absl::StatusOr<SpiffeId> FromString(absl::string_view s);
  // FromParts builds "spiffe://<td><path>"; `path` is empty or starts with "/".
  [[nodiscard]] static absl::StatusOr<SpiffeId> FromParts(const TrustDomain& td,
                                                          absl::string_view path);

  const TrustDomain& trust_domain() const { return td_; }
  // path returns "" for a trust-domain ID, otherwise "/seg[/seg...]".
  const std::string& path() const { return path_; }
  std::string ToString() const { return td_.IdString() + path_; }
  // IsMemberOf reports whether this ID is in trust domain `td`.
  bool IsMemberOf(const TrustDomain& td) const { return td_ == td; }

  bool operator==(const SpiffeId& o) const { return td_ == o.td_ && path_ == o.path_; }
  bool operator!=(const SpiffeId& o) const { return !(*this == o); }
  bool operator<(const SpiffeId& o) const { return ToString() < o.ToString(); }

 private:
  SpiffeId(TrustDomain td, std::string path) : td_(std::move(td)), path_(std::move(path)) {}
  TrustDomain td_;
  std::string path_;
};

// ValidatePath checks a SPIFFE ID path ("" or "/a/b"): no empty, "." or ".."
// segments, no trailing "/", only [a-zA-Z0-9.-_]. Returns InvalidArgument.
[[nodiscard]] absl::Status ValidatePath(absl::string_view path);

}  // namespace signet

#endif  // SIGNET_COMMON_SPIFFE_ID_H_
