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
