#include "server/entry_validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/text.h"

namespace signet::server {

namespace {

// The unix workload attestor's selectors whose values are decimal uid_t or
// gid_t numbers (see attestors/unix). An entry selector matches by exact
// string, so anything else there could never match a workload.
constexpr const char* kUnixNumericSelectors[] = {"uid", "gid", "supplementary_gid"};

// IsCanonicalUint32 reports whether `s` is a decimal number in [0, 2^32-1]
// without sign or leading zeros, as the attestor prints one.
bool IsCanonicalUint32(absl::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  uint64_t v = 0;
  return absl::SimpleAtoi(s, &v) && v <= UINT32_MAX;
}

}  // namespace

std::string ServerSpiffeId(const TrustDomain& td) { return td.IdString() + "/spire/server"; }

std::string QuoteForMessage(absl::string_view s) {
  constexpr size_t kMax = 256;
  if (s.size() <= kMax) return absl::StrCat("\"", EscapeForDisplay(s), "\"");
  return absl::StrCat("\"", EscapeForDisplay(s.substr(0, kMax)), "\"... (", s.size(), " bytes)");
}

absl::Status ValidateSelector(const signet::types::Selector& s) {
  if (s.type().empty()) return absl::InvalidArgumentError("selector type must not be empty");
  RETURN_IF_ERROR(CheckDisplaySafe("selector type", s.type()));
  if (s.value().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector value must not be empty (selector type \"", s.type(), "\")"));
  }
  if (absl::StrContains(s.type(), ":")) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector type \"", s.type(), "\" must not contain \":\""));
  }
  RETURN_IF_ERROR(CheckDisplaySafe(
      absl::StrCat("selector value (selector type \"", s.type(), "\")"), s.value()));
  if (s.type() == "unix") {
    for (const char* name : kUnixNumericSelectors) {
      absl::string_view v = s.value();
      if (!absl::ConsumePrefix(&v, name) || !absl::ConsumePrefix(&v, ":")) continue;
      if (!IsCanonicalUint32(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("selector unix:", name, " value ", QuoteForMessage(v),
                         " is not a decimal number from 0 to ", UINT32_MAX));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<signet::types::Selector> ParseSelector(absl::string_view s) {
  size_t colon = s.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector ", QuoteForMessage(s), " must be of the form type:value"));
  }
  signet::types::Selector out;
  out.set_type(std::string(s.substr(0, colon)));
  out.set_value(std::string(s.substr(colon + 1)));
  absl::Status st = ValidateSelector(out);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector ", QuoteForMessage(s), ": ", st.message()));
  }
  return out;
}

absl::Status ValidateDnsName(absl::string_view name) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid DNS name \"", name, "\": ", why));
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 253) return bad("longer than 253 characters");
  absl::string_view rest = name;
  if (absl::StartsWith(rest, "*.")) rest.remove_prefix(2);
  if (rest.empty()) return bad("empty after wildcard");
  for (absl::string_view label : absl::StrSplit(rest, '.')) {
    if (label.empty()) return bad("empty label");
    if (label.size() > 63) return bad("label longer than 63 characters");
    if (label.front() == '-' || label.back() == '-') {
      return bad("label starts or ends with '-'");
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return bad("invalid character");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePageSize(int32_t page_size) {
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be between 0 and ", kMaxPageSize));
  }
  return absl::OkStatus();
}

absl::Status ValidateWorkloadSpiffeId(absl::string_view field, absl::string_view id,
                                      const TrustDomain& td) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  absl::StatusOr<SpiffeId> sid = SpiffeId::FromString(id);
  if (!sid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", field, " ", QuoteForMessage(id), ": ", sid.status().message()));
  }
  if (!sid->IsMemberOf(td)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " \"", id, "\" is not a member of trust domain \"", td.name(), "\""));
  }
  if (sid->path().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " \"", id, "\" must have a path"));
  }
  if (sid->path() == "/spire" || absl::StartsWith(sid->path(), "/spire/")) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " \"", id, "\" is in the reserved /spire/ namespace"));
  }
  return absl::OkStatus();
}

absl::Status ValidateEntry(signet::types::RegistrationEntry& e, const TrustDomain& td,
                           absl::Duration ca_ttl) {
  RETURN_IF_ERROR(ValidateWorkloadSpiffeId("spiffe_id", e.spiffe_id(), td));
  if (e.node()) {
    if (!e.parent_id().empty() && e.parent_id() != ServerSpiffeId(td)) {
      return absl::InvalidArgumentError(
          "parent_id must be empty for a node entry (it is the server's ID)");
    }
    e.set_parent_id(ServerSpiffeId(td));
  } else {
    if (e.parent_id().empty()) return absl::InvalidArgumentError("parent_id is required");
    absl::StatusOr<SpiffeId> pid = SpiffeId::FromString(e.parent_id());
    if (!pid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid parent_id ", QuoteForMessage(e.parent_id()), ": ", pid.status().message()));
    }
    if (!pid->IsMemberOf(td)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parent_id \"", e.parent_id(), "\" is not a member of trust domain \"", td.name(), "\""));
    }
    if (pid->path().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parent_id \"", e.parent_id(), "\" must have a path"));
    }
  }
  if (e.spiffe_id() == e.parent_id()) {
    return absl::InvalidArgumentError("spiffe_id must differ from parent_id");
  }
  if (e.selectors_size() == 0) {
    return absl::InvalidArgumentError("at least one selector is required");
  }
  if (e.selectors_size() > kMaxSelectors) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many selectors (at most ", kMaxSelectors, ")"));
  }
  for (const signet::types::Selector& s : e.selectors()) RETURN_IF_ERROR(ValidateSelector(s));
  int64_t max_ttl = absl::ToInt64Seconds(ca_ttl);
  if (e.x509_svid_ttl() < 0) {
    return absl::InvalidArgumentError("x509_svid_ttl must not be negative");
  }
  if (e.x509_svid_ttl() > max_ttl) {
    return absl::InvalidArgumentError(
        absl::StrCat("x509_svid_ttl must not exceed the CA TTL (", max_ttl, "s)"));
  }
  if (e.jwt_svid_ttl() < 0) return absl::InvalidArgumentError("jwt_svid_ttl must not be negative");
  if (e.jwt_svid_ttl() > max_ttl) {
    return absl::InvalidArgumentError(
        absl::StrCat("jwt_svid_ttl must not exceed the CA TTL (", max_ttl, "s)"));
  }
  if (e.hint().size() > kMaxHintBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("hint must be at most ", kMaxHintBytes, " bytes"));
  }
  RETURN_IF_ERROR(CheckDisplaySafe("hint", e.hint()));
  if (e.dns_names_size() > kMaxDnsNames) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many DNS names (at most ", kMaxDnsNames, ")"));
  }
  for (const std::string& d : e.dns_names()) RETURN_IF_ERROR(ValidateDnsName(d));
  if (e.entry_expiry() < 0) return absl::InvalidArgumentError("entry_expiry must not be negative");
  if (e.entry_expiry() > kMaxEntryExpiry) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entry_expiry must not be after 9999-12-31T23:59:59Z (", kMaxEntryExpiry, ")"));
  }
  for (const std::string& f : e.federates_with()) {
    absl::StatusOr<TrustDomain> ftd = TrustDomain::FromString(f);
    if (!ftd.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid federates_with \"", f, "\": ", ftd.status().message()));
    }
    if (*ftd == td) {
      return absl::InvalidArgumentError(
          "federates_with must not name the server's own trust domain");
    }
  }
  return absl::OkStatus();
}

}  // namespace signet::server
