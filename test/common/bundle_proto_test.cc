// Tests for common/bundle_proto: the one conversion of the wire bundle that
// the server, its admin CLI and the agent share. The optional parameters'
// zero and negative values are where the server's and the agent's former
// copies disagreed.
#include "common/bundle_proto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"

namespace signet {
namespace {

using ::testing::HasSubstr;

signet::types::Bundle ValidProto() {
  absl::StatusOr<EvpPkeyPtr> ca_key = GenerateKey(KeyType::kEcP256);
  EXPECT_TRUE(ca_key.ok()) << ca_key.status();
  CaParams p{*TrustDomain::FromString("example.org"), "Signet CA", "SPIFFE", absl::Now(),
             absl::Hours(1)};
  absl::StatusOr<X509Ptr> ca = CreateSelfSignedCa(ca_key->get(), p);
  EXPECT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<EvpPkeyPtr> jwt_key = GenerateKey(KeyType::kEcP256);
  EXPECT_TRUE(jwt_key.ok()) << jwt_key.status();

  signet::types::Bundle b;
  b.set_trust_domain("example.org");
  b.add_x509_authorities(*CertToDer(ca->get()));
  signet::types::JwtKey* k = b.add_jwt_authorities();
  k->set_key_id("kid-1");
  k->set_public_key(*PublicKeyToDer(jwt_key->get()));
  return b;
}

TEST(BundleFromProtoTest, ConvertsAuthoritiesAndParameters) {
  signet::types::Bundle pb = ValidProto();
  pb.set_sequence_number(7);
  pb.set_refresh_hint(300);
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->trust_domain().name(), "example.org");
  ASSERT_EQ(b->x509_authorities().size(), 1u);
  EXPECT_EQ(*CertToDer(b->x509_authorities()[0].get()), pb.x509_authorities(0));
  ASSERT_NE(b->FindJwtAuthority("kid-1"), nullptr);
  EXPECT_EQ(*PublicKeyToDer(b->FindJwtAuthority("kid-1")), pb.jwt_authorities(0).public_key());
  EXPECT_EQ(b->sequence_number(), std::optional<uint64_t>(7));
  EXPECT_EQ(b->refresh_hint_seconds(), std::optional<int64_t>(300));
}

// proto3 sends an unset sequence as 0: the bundle then has none, and its
// SPIFFE form omits spiffe_sequence rather than claim sequence 0.
TEST(BundleFromProtoTest, SequenceZeroIsUnset) {
  signet::types::Bundle pb = ValidProto();
  pb.set_sequence_number(0);
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->sequence_number(), std::nullopt);
  EXPECT_THAT(b->ToJwks(), ::testing::Not(HasSubstr("spiffe_sequence")));
}

TEST(BundleFromProtoTest, LargestSequenceKept) {
  signet::types::Bundle pb = ValidProto();
  pb.set_sequence_number(UINT64_MAX);
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->sequence_number(), std::optional<uint64_t>(UINT64_MAX));
}

TEST(BundleFromProtoTest, RefreshHintZeroIsUnset) {
  signet::types::Bundle pb = ValidProto();
  pb.set_refresh_hint(0);
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->refresh_hint_seconds(), std::nullopt);
  EXPECT_THAT(b->ToJwks(), ::testing::Not(HasSubstr("spiffe_refresh_hint")));
}

// A negative number of seconds is no refresh hint: it is dropped, not passed
// on to workloads and federated peers.
TEST(BundleFromProtoTest, NegativeRefreshHintIsUnset) {
  signet::types::Bundle pb = ValidProto();
  pb.set_refresh_hint(-1);
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->refresh_hint_seconds(), std::nullopt);
  EXPECT_THAT(b->ToJwks(), ::testing::Not(HasSubstr("spiffe_refresh_hint")));
}

TEST(BundleFromProtoTest, RefreshHintOneSecondKept) {
  signet::types::Bundle pb = ValidProto();
  pb.set_refresh_hint(1);
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->refresh_hint_seconds(), std::optional<int64_t>(1));
}

TEST(BundleFromProtoTest, BadTrustDomainIsInvalidArgument) {
  signet::types::Bundle pb = ValidProto();
  pb.set_trust_domain("Example.org");
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
}

TEST(BundleFromProtoTest, BadCertificateIsInvalidArgument) {
  signet::types::Bundle pb = ValidProto();
  pb.add_x509_authorities("not DER");
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
}

TEST(BundleFromProtoTest, BadJwtKeyIsInvalidArgument) {
  signet::types::Bundle pb = ValidProto();
  pb.mutable_jwt_authorities(0)->set_public_key("not DER");
  absl::StatusOr<Bundle> b = BundleFromProto(pb);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
}

}  // namespace
}  // namespace signet
