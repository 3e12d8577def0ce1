// Tests for common/bundle: JWKS encoding/parsing (checklist D, B16, B17).
#include "common/bundle.h"

#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"

namespace signet {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using ::testing::HasSubstr;

TrustDomain Td(const char* name) { return *TrustDomain::FromString(name); }

EvpPkeyPtr Key(KeyType t) {
  absl::StatusOr<EvpPkeyPtr> k = GenerateKey(t);
  EXPECT_TRUE(k.ok()) << k.status();
  return *std::move(k);
}

X509Ptr Ca(const EVP_PKEY* key, const char* td = "example.org") {
  CaParams p{Td(td), "Signet CA", "SPIFFE", absl::Now(), absl::Hours(24)};
  absl::StatusOr<X509Ptr> c = CreateSelfSignedCa(key, p);
  EXPECT_TRUE(c.ok()) << c.status();
  return *std::move(c);
}

std::string Der(const X509* c) { return *CertToDer(c); }

EvpPkeyPtr PublicOnly(const EVP_PKEY* key) { return *ParsePublicKeyDer(*PublicKeyToDer(key)); }

Struct ParseJson(const std::string& json) {
  Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok()) << json;
  return s;
}

const Value& F(const Struct& s, const std::string& name) {
  static const Value* empty = new Value();
  auto it = s.fields().find(name);
  return it == s.fields().end() ? *empty : it->second;
}

std::string B64Url(const std::string& s) { return absl::WebSafeBase64Escape(s); }

// A bundle with EC P-256, EC P-384 and RSA X.509 CAs and JWT keys.
struct Fixture {
  EvpPkeyPtr ca_keys[3];
  X509Ptr cas[3];
  EvpPkeyPtr jwt_keys[3];
  Bundle bundle{Td("example.org")};

  Fixture() {
    const KeyType types[3] = {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048};
    for (int i = 0; i < 3; ++i) {
      ca_keys[i] = Key(types[i]);
      cas[i] = Ca(ca_keys[i].get());
      jwt_keys[i] = Key(types[i]);
      bundle.AddX509Authority(CopyCert(cas[i].get()));
      bundle.AddJwtAuthority(absl::StrCat("kid-", i), PublicOnly(jwt_keys[i].get()));
    }
  }
};

TEST(BundleTest, JwksRoundTripEcAndRsa) {
  Fixture f;
  f.bundle.set_sequence_number(7);
  f.bundle.set_refresh_hint_seconds(300);
  std::string json = f.bundle.ToJwks();
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), json);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << json;
  EXPECT_TRUE(parsed->SameAuthorities(f.bundle));
  EXPECT_EQ(parsed->x509_authorities().size(), 3u);
  EXPECT_EQ(parsed->jwt_authorities().size(), 3u);
  EXPECT_EQ(parsed->sequence_number(), 7u);
  EXPECT_EQ(parsed->refresh_hint_seconds(), 300);
  for (int i = 0; i < 3; ++i) {
    const EVP_PKEY* k = parsed->FindJwtAuthority(absl::StrCat("kid-", i));
    ASSERT_NE(k, nullptr);
    EXPECT_TRUE(PublicKeysEqual(k, f.jwt_keys[i].get()));
  }
  // A second round trip gives the same text.
  EXPECT_EQ(parsed->ToJwks(), json);
}

TEST(BundleTest, JwksMemberShapes) {
  Fixture f;
  Struct root = ParseJson(f.bundle.ToJwks());
  EXPECT_EQ(root.fields().count("spiffe_sequence"), 0u);
  EXPECT_EQ(root.fields().count("spiffe_refresh_hint"), 0u);
  const auto& keys = F(root, "keys").list_value().values();
  ASSERT_EQ(keys.size(), 6);
  int x509 = 0, jwt = 0;
  for (const Value& v : keys) {
    const Struct& k = v.struct_value();
    const std::string use = F(k, "use").string_value();
    const std::string kty = F(k, "kty").string_value();
    EXPECT_TRUE(kty == "EC" || kty == "RSA") << kty;
    if (kty == "EC") {
      size_t want = F(k, "crv").string_value() == "P-256" ? 32 : 48;
      std::string x, y;
      ASSERT_TRUE(absl::WebSafeBase64Unescape(F(k, "x").string_value(), &x));
      ASSERT_TRUE(absl::WebSafeBase64Unescape(F(k, "y").string_value(), &y));
      EXPECT_EQ(x.size(), want);
      EXPECT_EQ(y.size(), want);
      EXPECT_EQ(F(k, "x").string_value().find('='), std::string::npos);
    } else {
      EXPECT_FALSE(F(k, "n").string_value().empty());
      EXPECT_EQ(F(k, "e").string_value(), "AQAB");
    }
    if (use == "x509-svid") {
      ++x509;
      // B16: no kid, exactly one standard-base64 DER certificate.
      EXPECT_EQ(k.fields().count("kid"), 0u);
      const auto& x5c = F(k, "x5c").list_value().values();
      ASSERT_EQ(x5c.size(), 1);
      std::string der;
      ASSERT_TRUE(absl::Base64Unescape(x5c[0].string_value(), &der));
      EXPECT_EQ(absl::Base64Escape(der), x5c[0].string_value());
      bool found = false;
      for (const X509Ptr& c : f.cas) found = found || Der(c.get()) == der;
      EXPECT_TRUE(found);
    } else {
      ++jwt;
      EXPECT_EQ(use, "jwt-svid");
      EXPECT_FALSE(F(k, "kid").string_value().empty());
      EXPECT_EQ(k.fields().count("x5c"), 0u);
    }
  }
  EXPECT_EQ(x509, 3);
  EXPECT_EQ(jwt, 3);
}

TEST(BundleTest, EcCoordinatesAreFullLengthWithLeadingZero) {
  // Find a P-256 key whose x or y starts with a zero byte (about 1 in 128).
  for (int attempt = 0; attempt < 5000; ++attempt) {
    EvpPkeyPtr key = Key(KeyType::kEcP256);
    Bundle b(Td("example.org"));
    b.AddJwtAuthority("k", PublicOnly(key.get()));
    Struct root = ParseJson(b.ToJwks());
    const Struct& jwk = F(root, "keys").list_value().values(0).struct_value();
    std::string x, y;
    ASSERT_TRUE(absl::WebSafeBase64Unescape(F(jwk, "x").string_value(), &x));
    ASSERT_TRUE(absl::WebSafeBase64Unescape(F(jwk, "y").string_value(), &y));
    ASSERT_EQ(x.size(), 32u);
    ASSERT_EQ(y.size(), 32u);
    if (x[0] != '\0' && y[0] != '\0') continue;
    absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), b.ToJwks());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(PublicKeysEqual(parsed->FindJwtAuthority("k"), key.get()));
    return;
  }
  FAIL() << "no key with a leading zero coordinate found";
}

TEST(BundleTest, ToJwtJwksHasOnlyJwtKeysWithKid) {
  Fixture f;
  f.bundle.set_sequence_number(3);
  Struct root = ParseJson(f.bundle.ToJwtJwks());
  EXPECT_EQ(root.fields().size(), 1u);
  const auto& keys = F(root, "keys").list_value().values();
  ASSERT_EQ(keys.size(), 3);
  for (const Value& v : keys) {
    EXPECT_FALSE(F(v.struct_value(), "kid").string_value().empty());
    EXPECT_EQ(v.struct_value().fields().count("x5c"), 0u);
    EXPECT_EQ(F(v.struct_value(), "use").string_value(), "jwt-svid");
  }
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), f.bundle.ToJwtJwks());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->x509_authorities().empty());
  EXPECT_EQ(parsed->jwt_authorities().size(), 3u);
}

TEST(BundleTest, KidIsEscapedAndRoundTrips) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  Bundle b(Td("example.org"));
  const std::string kid = "a\"b\\c\n\xc3\xa9";
  b.AddJwtAuthority(kid, PublicOnly(key.get()));
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), b.ToJwks());
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << b.ToJwks();
  EXPECT_NE(parsed->FindJwtAuthority(kid), nullptr);
}

TEST(BundleTest, SequenceAndRefreshHintRoundTrip) {
  Bundle b(Td("example.org"));
  b.set_sequence_number(9007199254740992ull);  // 2^53, exact in a double
  b.set_refresh_hint_seconds(-5);
  std::string json = b.ToJwks();
  EXPECT_EQ(json, "{\"keys\":[],\"spiffe_sequence\":9007199254740992,\"spiffe_refresh_hint\":-5}");
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->sequence_number(), 9007199254740992ull);
  EXPECT_EQ(parsed->refresh_hint_seconds(), -5);
}

TEST(BundleTest, SequenceAbsentStaysUnset) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), R"({"keys":[]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->sequence_number().has_value());
  EXPECT_FALSE(parsed->refresh_hint_seconds().has_value());
}

TEST(BundleTest, NegativeSequenceRejected) {
  absl::StatusOr<Bundle> parsed =
      Bundle::ParseJwks(Td("example.org"), R"({"keys":[],"spiffe_sequence":-1})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("spiffe_sequence"));
}

TEST(BundleTest, FractionalRefreshHintRejected) {
  absl::StatusOr<Bundle> parsed =
      Bundle::ParseJwks(Td("example.org"), R"({"keys":[],"spiffe_refresh_hint":1.5})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("spiffe_refresh_hint"));
}

TEST(BundleTest, StringSequenceRejected) {
  absl::StatusOr<Bundle> parsed =
      Bundle::ParseJwks(Td("example.org"), R"({"keys":[],"spiffe_sequence":"1"})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("spiffe_sequence"));
}

TEST(BundleTest, MissingKeysRejected) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), R"({"spiffe_sequence":1})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("missing \"keys\""));
}

TEST(BundleTest, KeysNotArrayRejected) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), R"({"keys":{}})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("must be an array"));
}

TEST(BundleTest, EmptyKeysAccepted) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), R"({"keys":[]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->x509_authorities().empty());
  EXPECT_TRUE(parsed->jwt_authorities().empty());
  EXPECT_EQ(parsed->trust_domain(), Td("example.org"));
}

TEST(BundleTest, UnknownTopLevelMembersIgnored) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  Bundle b(Td("example.org"));
  b.AddJwtAuthority("k1", PublicOnly(key.get()));
  std::string json = b.ToJwks();
  ASSERT_EQ(json.front(), '{');
  // Unknown members before and after "keys", one of them holding a "keys"
  // array of its own that must not be read.
  json = absl::StrCat(R"({"other":{"a":[1,2],"keys":[]},)", json.substr(1, json.size() - 2),
                      R"(,"x":"y"})");
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), json);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << json;
  EXPECT_EQ(parsed->trust_domain(), Td("example.org"));
  EXPECT_TRUE(parsed->x509_authorities().empty());
  ASSERT_EQ(parsed->jwt_authorities().size(), 1u);
  const EVP_PKEY* k = parsed->FindJwtAuthority("k1");
  ASSERT_NE(k, nullptr);
  EXPECT_TRUE(PublicKeysEqual(k, key.get()));
}

TEST(BundleTest, MalformedJsonRejected) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), R"({"keys":[)");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("not a JSON object"));
}

TEST(BundleTest, NonObjectJsonRejected) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), R"([{"keys":[]}])");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("not a JSON object"));
}

// Builds a one-key bundle JSON from a JWK JSON text.
std::string OneKey(const std::string& jwk) { return absl::StrCat("{\"keys\":[", jwk, "]}"); }

// JwtJwk returns the jwt-svid JWK JSON of `key` with kid "k".
std::string JwtJwk(const EVP_PKEY* key) {
  Bundle b(Td("example.org"));
  b.AddJwtAuthority("k", PublicOnly(key));
  Struct root = ParseJson(b.ToJwks());
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(
                  F(root, "keys").list_value().values(0).struct_value(), &out)
                  .ok());
  return out;
}

TEST(BundleTest, X509KeyWithoutParamsAccepted) {
  // Key members are optional on x509-svid JWKs; the certificate is used.
  EvpPkeyPtr key = Key(KeyType::kRsa2048);
  X509Ptr ca = Ca(key.get());
  std::string jwk = absl::StrCat(R"({"kty":"RSA","use":"x509-svid","x5c":[")",
                                 absl::Base64Escape(Der(ca.get())), "\"]}");
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(jwk));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->x509_authorities().size(), 1u);
}

TEST(BundleTest, UnknownKtyIgnored) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  std::string jwk = absl::StrReplaceAll(JwtJwk(key.get()), {{"\"EC\"", "\"XX\""}});
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"),
      OneKey(absl::StrCat(R"({"kty":"OKP","crv":"Ed25519","x":"AAAA","use":"jwt-svid","kid":"o"},)",
                          jwk)));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->jwt_authorities().empty());
}

TEST(BundleTest, UnknownUseIgnored) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  std::string jwk = absl::StrReplaceAll(JwtJwk(key.get()), {{"jwt-svid", "JWT-SVID"}});
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(jwk));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->jwt_authorities().empty());
}

TEST(BundleTest, MissingUseIgnored) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  std::string jwk = absl::StrReplaceAll(JwtJwk(key.get()), {{"\"use\":\"jwt-svid\"", "\"a\":1"}});
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(jwk));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->jwt_authorities().empty());
}

TEST(BundleTest, X5cEmptyOrAbsentIgnored) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"),
      R"({"keys":[{"kty":"EC","use":"x509-svid","x5c":[]},{"kty":"RSA","use":"x509-svid"}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->x509_authorities().empty());
}

TEST(BundleTest, ExtraX5cEntriesIgnored) {
  EvpPkeyPtr k1 = Key(KeyType::kEcP256);
  EvpPkeyPtr k2 = Key(KeyType::kEcP256);
  X509Ptr c1 = Ca(k1.get());
  X509Ptr c2 = Ca(k2.get());
  std::string jwk =
      absl::StrCat(R"({"kty":"EC","use":"x509-svid","x5c":[")", absl::Base64Escape(Der(c1.get())),
                   "\",\"", absl::Base64Escape(Der(c2.get())), "\", \"garbage\"]}");
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(jwk));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->x509_authorities().size(), 1u);
  EXPECT_EQ(Der(parsed->x509_authorities()[0].get()), Der(c1.get()));
}

TEST(BundleTest, X5cKeyMismatchRejected) {
  EvpPkeyPtr k1 = Key(KeyType::kEcP256);
  EvpPkeyPtr k2 = Key(KeyType::kEcP256);
  X509Ptr c1 = Ca(k1.get());
  Bundle b(Td("example.org"));
  b.AddX509Authority(CopyCert(c1.get()));
  // Replace the coordinates with those of another key.
  Struct jwk = F(ParseJson(b.ToJwks()), "keys").list_value().values(0).struct_value();
  Struct other = ParseJson(JwtJwk(k2.get()));
  (*jwk.mutable_fields())["x"] = F(other, "x");
  (*jwk.mutable_fields())["y"] = F(other, "y");
  std::string text;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(jwk, &text).ok());
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(text));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("does not match the x5c certificate"));
}

// A certificate whose key algorithm OID is unknown to OpenSSL (found by the
// bundle_jwks fuzz target: it parsed, then could not be written back out).
constexpr char kCertWithUnknownKeyAlgorithm[] =
    "MIIBqjCCAVCgAwIBAgIUf4B7Xg2UXNiElkCFzBPOv+"
    "e4MegwCgYIKoZIzj0EAwIwETEPMA0GA1UECgwGU1BJRkZFMB4XDTI2MTEyMjA2MzUxMFoXDTI2MTEyMzA2MzUxMFowETEP"
    "MA0GA1UECgwGU1BJRkZFMFkwEwYHKozjICZ5AQYIKoZIzj0DAQcDQgAEih53Sie7kOvaJ0vj9FREySxHHi65uh74QYWDO5"
    "AXrG8EyQWP1Lmb2Oe81wyf/Bq67b7LqbH9Xhtfre2+k0dkKKOBhTCBgjAdBgNVHQ4EFgQUtsk/OhaMPDhRrBc+/"
    "ek4LBB6V2MwHwYDVR0jBBgwFoAUtsk/OhaMPDhRrBc+/"
    "ek4LBB6V2MwHwYDVR0RBBgwFoYUc3BpZmZlOi8vZXhhbXBsZS5vcmcwDwYDVR0TAQH/BAUwAwEB/"
    "zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSAAwRQIhAOAx7NfOYTCzwVpDHAVgbzdCiSsldjenvAJzNe7AounjAiA"
    "FFJmO+QcYhbRcFNNsG6PRlVkT3LFmlOaiHrjX2JKliQ==";

TEST(BundleTest, X5cWithUnreadableKeyRejected) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"), absl::StrCat(R"({"keys":[{"kty":"EC","use":"x509-svid","x5c":[")",
                                      kCertWithUnknownKeyAlgorithm, "\"]}]}"));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(),
            "bundle key 0: the x5c certificate's public key is not an EC (P-256, P-384, P-521) or "
            "RSA key");
}

TEST(BundleTest, X5cKeyOfAnotherKtyRejected) {
  EvpPkeyPtr rsa = Key(KeyType::kRsa2048);
  X509Ptr c = Ca(rsa.get());
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"), OneKey(absl::StrCat(R"({"kty":"EC","use":"x509-svid","x5c":[")",
                                             absl::Base64Escape(Der(c.get())), "\"]}")));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(),
            "bundle key 0: kty EC does not match the x5c certificate's RSA key");
}

TEST(BundleTest, X5cNotBase64Rejected) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"), R"({"keys":[{"kty":"EC","use":"x509-svid","x5c":["%%%"]}]})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("not standard base64"));
}

TEST(BundleTest, X5cNotCertificateRejected) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"), R"({"keys":[{"kty":"EC","use":"x509-svid","x5c":["AAAA"]}]})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("invalid x5c certificate"));
}

TEST(BundleTest, JwtKeyMissingKidRejected) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  std::string jwk = absl::StrReplaceAll(JwtJwk(key.get()), {{"\"kid\":\"k\"", "\"a\":1"}});
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(jwk));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("jwt-svid key missing kid"));
}

TEST(BundleTest, DuplicateKidRejected) {
  EvpPkeyPtr k1 = Key(KeyType::kEcP256);
  EvpPkeyPtr k2 = Key(KeyType::kEcP256);
  absl::StatusOr<Bundle> parsed =
      Bundle::ParseJwks(Td("example.org"),
                        absl::StrCat("{\"keys\":[", JwtJwk(k1.get()), ",", JwtJwk(k2.get()), "]}"));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("duplicate jwt-svid key ID \"k\""));
}

TEST(BundleTest, ShortCoordinateRejected) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  Struct jwk = ParseJson(JwtJwk(key.get()));
  std::string x;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(F(jwk, "x").string_value(), &x));
  (*jwk.mutable_fields())["x"].set_string_value(B64Url(x.substr(1)));
  std::string text;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(jwk, &text).ok());
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(text));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("must be 32 bytes for P-256"));
}

TEST(BundleTest, PointNotOnCurveRejected) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  Struct jwk = ParseJson(JwtJwk(key.get()));
  std::string y;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(F(jwk, "y").string_value(), &y));
  y[31] ^= 1;
  (*jwk.mutable_fields())["y"].set_string_value(B64Url(y));
  std::string text;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(jwk, &text).ok());
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(text));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("invalid EC JWK key"));
}

TEST(BundleTest, PaddedBase64CoordinateRejected) {
  EvpPkeyPtr key = Key(KeyType::kRsa2048);
  std::string jwk = absl::StrReplaceAll(JwtJwk(key.get()), {{"\"AQAB\"", "\"AQAB==\""}});
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(jwk));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("not unpadded base64url"));
}

TEST(BundleTest, UnknownCurveRejected) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  std::string jwk = absl::StrReplaceAll(JwtJwk(key.get()), {{"P-256", "P-257"}});
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), OneKey(jwk));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("unsupported EC JWK curve"));
}

TEST(BundleTest, CopySharesObjectsAndIsIndependent) {
  Fixture f;
  Bundle copy = f.bundle;
  ASSERT_EQ(copy.x509_authorities().size(), 3u);
  EXPECT_EQ(copy.x509_authorities()[0].get(), f.bundle.x509_authorities()[0].get());
  EXPECT_EQ(copy.FindJwtAuthority("kid-0"), f.bundle.FindJwtAuthority("kid-0"));
  f.bundle.RemoveJwtAuthority("kid-0");
  f.bundle.RemoveX509Authority(f.cas[0].get());
  EXPECT_EQ(f.bundle.x509_authorities().size(), 2u);
  EXPECT_EQ(copy.x509_authorities().size(), 3u);
  EXPECT_NE(copy.FindJwtAuthority("kid-0"), nullptr);
  EXPECT_FALSE(copy.SameAuthorities(f.bundle));
  Bundle assigned(Td("other.org"));
  assigned = copy;
  EXPECT_TRUE(assigned.SameAuthorities(copy));
  EXPECT_EQ(assigned.trust_domain(), Td("example.org"));
}

TEST(BundleTest, AddX509AuthorityDedupesByDer) {
  EvpPkeyPtr key = Key(KeyType::kEcP256);
  X509Ptr ca = Ca(key.get());
  Bundle b(Td("example.org"));
  b.AddX509Authority(*ParseCertDer(Der(ca.get())));
  b.AddX509Authority(*ParseCertDer(Der(ca.get())));
  EXPECT_EQ(b.x509_authorities().size(), 1u);
}

TEST(BundleTest, DerAndPemRoundTrip) {
  Fixture f;
  std::string der = f.bundle.X509AuthoritiesDer();
  EXPECT_EQ(der, absl::StrCat(Der(f.cas[0].get()), Der(f.cas[1].get()), Der(f.cas[2].get())));
  absl::StatusOr<Bundle> from_der = Bundle::FromX509Der(Td("example.org"), der);
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_EQ(from_der->X509AuthoritiesDer(), der);
  absl::StatusOr<Bundle> from_pem =
      Bundle::FromX509Pem(Td("example.org"), f.bundle.X509AuthoritiesPem());
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  EXPECT_EQ(from_pem->X509AuthoritiesDer(), der);
}

TEST(BundleTest, FromX509DerEmptyIsEmptyBundle) {
  absl::StatusOr<Bundle> b = Bundle::FromX509Der(Td("example.org"), "");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->x509_authorities().empty());
}

TEST(BundleTest, FromX509DerGarbageRejected) {
  absl::StatusOr<Bundle> b = Bundle::FromX509Der(Td("example.org"), "not der");
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BundleSetTest, PutReplacesByTrustDomainAndNeverMerges) {
  EvpPkeyPtr ka = Key(KeyType::kEcP256);
  EvpPkeyPtr kb = Key(KeyType::kEcP256);
  BundleSet set;
  Bundle a(Td("a.org"));
  a.AddX509Authority(Ca(ka.get(), "a.org"));
  Bundle b(Td("b.org"));
  b.AddX509Authority(Ca(kb.get(), "b.org"));
  set.Put(a);
  set.Put(b);
  ASSERT_NE(set.Find(Td("a.org")), nullptr);
  ASSERT_NE(set.Find(Td("b.org")), nullptr);
  EXPECT_EQ(set.Find(Td("c.org")), nullptr);
  EXPECT_TRUE(set.Find(Td("a.org"))->SameAuthorities(a));
  EXPECT_TRUE(set.Find(Td("b.org"))->SameAuthorities(b));
  // Replacing a.org's bundle drops its old authorities instead of merging.
  Bundle a2(Td("a.org"));
  a2.AddJwtAuthority("k", PublicOnly(ka.get()));
  set.Put(a2);
  EXPECT_TRUE(set.Find(Td("a.org"))->x509_authorities().empty());
  EXPECT_EQ(set.Find(Td("a.org"))->jwt_authorities().size(), 1u);
  EXPECT_EQ(set.bundles().size(), 2u);
}

}  // namespace
}  // namespace signet
