// Unit tests: admin input validation, one TEST per rule with exact code and
// message.
#include "server/entry_validation.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace signet::server {
namespace {

using signet::types::RegistrationEntry;

const TrustDomain& Td() {
  static const TrustDomain* td = new TrustDomain(TrustDomain::FromString("example.org").value());
  return *td;
}

RegistrationEntry Valid() {
  RegistrationEntry e;
  e.set_spiffe_id("spiffe://example.org/web");
  e.set_parent_id("spiffe://example.org/host");
  auto* s = e.add_selectors();
  s->set_type("unix");
  s->set_value("uid:1000");
  return e;
}

void ExpectInvalid(RegistrationEntry e, const std::string& message) {
  absl::Status st = ValidateEntry(e, Td(), absl::Hours(24));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_EQ(st.message(), message);
}

TEST(EntryValidationTest, ValidEntry) {
  RegistrationEntry e = Valid();
  EXPECT_TRUE(ValidateEntry(e, Td(), absl::Hours(24)).ok());
}

TEST(EntryValidationTest, SpiffeIdRequired) {
  RegistrationEntry e = Valid();
  e.clear_spiffe_id();
  ExpectInvalid(e, "spiffe_id is required");
}

TEST(EntryValidationTest, SpiffeIdStrict) {
  RegistrationEntry e = Valid();
  e.set_spiffe_id("spiffe://example.org/a//b");
  absl::Status st = ValidateEntry(e, Td(), absl::Hours(24));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(st.message(), "invalid spiffe_id \"spiffe://example.org/a//b\": "))
      << st;
}

TEST(EntryValidationTest, SpiffeIdOtherTrustDomain) {
  RegistrationEntry e = Valid();
  e.set_spiffe_id("spiffe://other.org/web");
  ExpectInvalid(e,
                "spiffe_id \"spiffe://other.org/web\" is not a member of trust domain "
                "\"example.org\"");
}

TEST(EntryValidationTest, SpiffeIdNeedsPath) {
  RegistrationEntry e = Valid();
  e.set_spiffe_id("spiffe://example.org");
  ExpectInvalid(e, "spiffe_id \"spiffe://example.org\" must have a path");
}

TEST(EntryValidationTest, SpiffeIdNotUnderSpire) {
  RegistrationEntry e = Valid();
  e.set_spiffe_id("spiffe://example.org/spire/agent/x");
  ExpectInvalid(e,
                "spiffe_id \"spiffe://example.org/spire/agent/x\" is in the reserved /spire/ "
                "namespace");
}

TEST(EntryValidationTest, ParentRequired) {
  RegistrationEntry e = Valid();
  e.clear_parent_id();
  ExpectInvalid(e, "parent_id is required");
}

TEST(EntryValidationTest, ParentStrict) {
  RegistrationEntry e = Valid();
  e.set_parent_id("spiffe://example.org/host/");
  absl::Status st = ValidateEntry(e, Td(), absl::Hours(24));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(st.message(), "invalid parent_id")) << st;
}

TEST(EntryValidationTest, ParentOtherTrustDomain) {
  RegistrationEntry e = Valid();
  e.set_parent_id("spiffe://other.org/host");
  ExpectInvalid(e,
                "parent_id \"spiffe://other.org/host\" is not a member of trust domain "
                "\"example.org\"");
}

TEST(EntryValidationTest, NodeEntryParentIsServer) {
  RegistrationEntry e = Valid();
  e.clear_parent_id();
  e.set_node(true);
  ASSERT_TRUE(ValidateEntry(e, Td(), absl::Hours(24)).ok());
  EXPECT_EQ(e.parent_id(), "spiffe://example.org/spire/server");
}

TEST(EntryValidationTest, NodeEntryWithOtherParent) {
  RegistrationEntry e = Valid();
  e.set_node(true);
  ExpectInvalid(e, "parent_id must be empty for a node entry (it is the server's ID)");
}

TEST(EntryValidationTest, SelectorRequired) {
  RegistrationEntry e = Valid();
  e.clear_selectors();
  ExpectInvalid(e, "at least one selector is required");
}

TEST(EntryValidationTest, SelectorEmptyType) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->clear_type();
  ExpectInvalid(e, "selector type must not be empty");
}

TEST(EntryValidationTest, SelectorEmptyValue) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->clear_value();
  ExpectInvalid(e, "selector value must not be empty (selector type \"unix\")");
}

TEST(EntryValidationTest, SelectorTypeWithColon) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_type("a:b");
  ExpectInvalid(e, "selector type \"a:b\" must not contain \":\"");
}

TEST(EntryValidationTest, NegativeX509Ttl) {
  RegistrationEntry e = Valid();
  e.set_x509_svid_ttl(-1);
  ExpectInvalid(e, "x509_svid_ttl must not be negative");
}

TEST(EntryValidationTest, X509TtlBeyondCa) {
  RegistrationEntry e = Valid();
  e.set_x509_svid_ttl(86401);
  ExpectInvalid(e, "x509_svid_ttl must not exceed the CA TTL (86400s)");
}

TEST(EntryValidationTest, NegativeJwtTtl) {
  RegistrationEntry e = Valid();
  e.set_jwt_svid_ttl(-5);
  ExpectInvalid(e, "jwt_svid_ttl must not be negative");
}

TEST(EntryValidationTest, JwtTtlBeyondCa) {
  RegistrationEntry e = Valid();
  e.set_jwt_svid_ttl(86401);
  ExpectInvalid(e, "jwt_svid_ttl must not exceed the CA TTL (86400s)");
}

TEST(EntryValidationTest, HintAtLimitIsFine) {
  RegistrationEntry e = Valid();
  e.set_hint(std::string(1024, 'h'));
  EXPECT_TRUE(ValidateEntry(e, Td(), absl::Hours(24)).ok());
}

TEST(EntryValidationTest, HintTooLong) {
  RegistrationEntry e = Valid();
  e.set_hint(std::string(1025, 'h'));
  ExpectInvalid(e, "hint must be at most 1024 bytes");
}

TEST(EntryValidationTest, DnsNameInvalidChar) {
  RegistrationEntry e = Valid();
  e.add_dns_names("a_b.example.org");
  ExpectInvalid(e, "invalid DNS name \"a_b.example.org\": invalid character");
}

TEST(EntryValidationTest, DnsNameEmptyLabel) {
  RegistrationEntry e = Valid();
  e.add_dns_names("a..org");
  ExpectInvalid(e, "invalid DNS name \"a..org\": empty label");
}

TEST(EntryValidationTest, DnsNameHyphen) {
  RegistrationEntry e = Valid();
  e.add_dns_names("-a.org");
  ExpectInvalid(e, "invalid DNS name \"-a.org\": label starts or ends with '-'");
}

TEST(EntryValidationTest, DnsNameLongLabel) {
  RegistrationEntry e = Valid();
  e.add_dns_names(std::string(64, 'a') + ".org");
  ExpectInvalid(
      e, "invalid DNS name \"" + std::string(64, 'a') + ".org\": label longer than 63 characters");
}

TEST(EntryValidationTest, DnsWildcardAccepted) {
  RegistrationEntry e = Valid();
  e.add_dns_names("*.example.org");
  EXPECT_TRUE(ValidateEntry(e, Td(), absl::Hours(24)).ok());
}

TEST(EntryValidationTest, NegativeExpiry) {
  RegistrationEntry e = Valid();
  e.set_entry_expiry(-1);
  ExpectInvalid(e, "entry_expiry must not be negative");
}

TEST(EntryValidationTest, FederatesWithInvalid) {
  RegistrationEntry e = Valid();
  e.add_federates_with("Bad TD");
  absl::Status st = ValidateEntry(e, Td(), absl::Hours(24));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(st.message(), "invalid federates_with \"Bad TD\": ")) << st;
}

TEST(EntryValidationTest, SameIdAsParent) {
  RegistrationEntry e = Valid();
  e.set_parent_id(e.spiffe_id());
  ExpectInvalid(e, "spiffe_id must differ from parent_id");
}

// Operator-facing text: selectors and hints refuse control and bidirectional
// formatting characters (a stored "\n" would forge a line of `entry show`).
TEST(EntryValidationTest, SelectorValueControlCharacterRefused) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_value("path:/bin/a\nSelector         : unix:uid:0");
  ExpectInvalid(e,
                "selector value (selector type \"unix\") contains control character U+000A at "
                "byte 11");
}

TEST(EntryValidationTest, SelectorTypeEscapeRefused) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_type("\x1b[31munix");
  ExpectInvalid(e, "selector type contains control character U+001B at byte 0");
}

TEST(EntryValidationTest, SelectorValueBidiOverrideRefused) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_value(
      "user:\xe2\x80\xae"
      "toor");
  ExpectInvalid(e,
                "selector value (selector type \"unix\") contains bidirectional formatting "
                "character U+202E at byte 5");
}

TEST(EntryValidationTest, HintControlCharacterRefused) {
  RegistrationEntry e = Valid();
  e.set_hint("web\x1b[31m");
  ExpectInvalid(e, "hint contains control character U+001B at byte 3");
}

TEST(EntryValidationTest, HintBidiIsolateRefused) {
  RegistrationEntry e = Valid();
  e.set_hint("web\xe2\x81\xa6");
  ExpectInvalid(e, "hint contains bidirectional formatting character U+2066 at byte 3");
}

TEST(EntryValidationTest, HintInvalidUtf8Refused) {
  RegistrationEntry e = Valid();
  e.set_hint("web\xff");
  ExpectInvalid(e, "hint is not valid UTF-8 (byte 3)");
}

// unix:uid, unix:gid and unix:supplementary_gid are matched by exact string
// against the attestor's decimal numbers.
TEST(EntryValidationTest, UnixUidNotNumericRefused) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_value("uid:abc");
  ExpectInvalid(e, "selector unix:uid value \"abc\" is not a decimal number from 0 to 4294967295");
}

TEST(EntryValidationTest, UnixGidOutOfRangeRefused) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_value("gid:4294967296");
  ExpectInvalid(e,
                "selector unix:gid value \"4294967296\" is not a decimal number from 0 to "
                "4294967295");
}

TEST(EntryValidationTest, UnixSupplementaryGidLeadingZeroRefused) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_value("supplementary_gid:0100");
  ExpectInvalid(e,
                "selector unix:supplementary_gid value \"0100\" is not a decimal number from 0 "
                "to 4294967295");
}

TEST(EntryValidationTest, UnixUidSignRefused) {
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_value("uid:-1");
  ExpectInvalid(e, "selector unix:uid value \"-1\" is not a decimal number from 0 to 4294967295");
}

TEST(EntryValidationTest, UnixSelectorsAsTheAttestorPrintsThemAccepted) {
  for (const char* v : {"uid:0", "uid:4294967295", "gid:1000", "supplementary_gid:27", "user:www",
                        "group:0abc", "uidx:abc", "path:/usr/bin/uid:x", "sha256:abc"}) {
    RegistrationEntry e = Valid();
    e.mutable_selectors(0)->set_value(v);
    absl::Status st = ValidateEntry(e, Td(), absl::Hours(24));
    EXPECT_TRUE(st.ok()) << v << ": " << st;
  }
  RegistrationEntry e = Valid();
  e.mutable_selectors(0)->set_type("k8s");
  e.mutable_selectors(0)->set_value("uid:not-a-number");  // another attestor's own uid
  EXPECT_TRUE(ValidateEntry(e, Td(), absl::Hours(24)).ok());
}

TEST(EntryValidationTest, EntryExpiryAfterYear9999Refused) {
  RegistrationEntry e = Valid();
  e.set_entry_expiry(99999999999999999);
  ExpectInvalid(e, "entry_expiry must not be after 9999-12-31T23:59:59Z (253402300799)");
  e = Valid();
  e.set_entry_expiry(kMaxEntryExpiry + 1);
  ExpectInvalid(e, "entry_expiry must not be after 9999-12-31T23:59:59Z (253402300799)");
  e = Valid();
  e.set_entry_expiry(kMaxEntryExpiry);
  EXPECT_TRUE(ValidateEntry(e, Td(), absl::Hours(24)).ok());
}

// A huge ID is quoted cut to 256 bytes, so the message stays far below the
// gRPC metadata limit (8 KiB) and the caller sees the ID error.
TEST(EntryValidationTest, OverlongSpiffeIdQuotedShort) {
  RegistrationEntry e = Valid();
  const std::string id = "spiffe://example.org/" + std::string(10000 - 21, 'a');
  e.set_spiffe_id(id);
  ExpectInvalid(e, "invalid spiffe_id \"" + id.substr(0, 256) +
                       "\"... (10000 bytes): SPIFFE ID is too long (10000 bytes; maximum 2048)");
}

TEST(SelectorParseTest, ControlCharacterEscapedInMessage) {
  absl::StatusOr<signet::types::Selector> s = ParseSelector("unix:uid:1\n");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "selector \"unix:uid:1\\x0a\": selector value (selector type \"unix\") contains "
            "control character U+000A at byte 5");
}

TEST(SelectorParseTest, NoColon) {
  absl::StatusOr<signet::types::Selector> s = ParseSelector("unix");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "selector \"unix\" must be of the form type:value");
}

TEST(SelectorParseTest, ValueMayContainColons) {
  absl::StatusOr<signet::types::Selector> s = ParseSelector("k8s:ns:default");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type(), "k8s");
  EXPECT_EQ(s->value(), "ns:default");
}

TEST(PageSizeTest, Bounds) {
  EXPECT_TRUE(ValidatePageSize(0).ok());
  EXPECT_TRUE(ValidatePageSize(1000).ok());
  EXPECT_EQ(ValidatePageSize(1001).message(), "page_size must be between 0 and 1000");
  EXPECT_EQ(ValidatePageSize(-1).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace signet::server
