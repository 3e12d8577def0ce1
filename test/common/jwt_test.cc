// Tests for common/jwt: JWT-SVID signing and validation (checklist C, Part 4).
#include "common/jwt.h"

#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/bundle.h"
#include "common/keys.h"

namespace signet {
namespace {

using google::protobuf::Struct;
using ::testing::HasSubstr;

TrustDomain Td(const char* name) { return *TrustDomain::FromString(name); }

EvpPkeyPtr Key(KeyType t) {
  absl::StatusOr<EvpPkeyPtr> k = GenerateKey(t);
  EXPECT_TRUE(k.ok()) << k.status();
  return *std::move(k);
}

EvpPkeyPtr PublicOnly(const EVP_PKEY* key) { return *ParsePublicKeyDer(*PublicKeyToDer(key)); }

std::string B64(const std::string& s) { return absl::WebSafeBase64Escape(s); }

std::string Unb64(absl::string_view s) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(s, &out));
  return out;
}

class JwtTest : public ::testing::Test {
 protected:
  // Keys are made once per suite (RSA generation is slow).
  static void SetUpTestSuite() {
    keys_[0] = Key(KeyType::kEcP256);
    keys_[1] = Key(KeyType::kEcP384);
    keys_[2] = Key(KeyType::kRsa2048);
    keys_[3] = Key(KeyType::kEcP256);
  }
  static void TearDownTestSuite() {
    for (EvpPkeyPtr& k : keys_) k.reset();
  }

  JwtTest()
      : now_(absl::FromUnixSeconds(1700000000)),
        p256_(keys_[0].get()),
        p384_(keys_[1].get()),
        rsa_(keys_[2].get()),
        other_(keys_[3].get()) {
    Bundle a(Td("example.org"));
    a.AddJwtAuthority("k256", PublicOnly(p256_));
    a.AddJwtAuthority("k384", PublicOnly(p384_));
    a.AddJwtAuthority("krsa", PublicOnly(rsa_));
    bundles_.Put(std::move(a));
    // Trust domain b.org has its own key under a kid that collides with a's.
    Bundle b(Td("b.org"));
    b.AddJwtAuthority("k256", PublicOnly(other_));
    b.AddJwtAuthority("kb", PublicOnly(other_));
    bundles_.Put(std::move(b));
  }

  std::string Header(const std::string& alg = "ES256", const std::string& kid = "k256") {
    return absl::StrCat(R"({"alg":")", alg, R"(","kid":")", kid, R"(","typ":"JWT"})");
  }

  // Payload returns claims with `extra` appended (a JSON member list, may be
  // empty); the default members can be dropped by name.
  std::string Payload(const std::string& extra = "", const std::string& drop = "") {
    std::vector<std::string> members;
    if (drop != "sub") members.push_back(R"("sub":"spiffe://example.org/workload")");
    if (drop != "aud") members.push_back(R"("aud":["svc"])");
    if (drop != "exp")
      members.push_back(absl::StrCat(R"("exp":)", absl::ToUnixSeconds(now_) + 300));
    if (drop != "iat") members.push_back(absl::StrCat(R"("iat":)", absl::ToUnixSeconds(now_)));
    if (!extra.empty()) members.push_back(extra);
    return absl::StrCat("{", absl::StrJoin(members, ","), "}");
  }

  std::string Sign(const std::string& header, const std::string& payload,
                   const EVP_PKEY* key = nullptr, const std::string& alg = "ES256") {
    absl::StatusOr<std::string> t =
        SignCompactJws(key != nullptr ? key : p256_, alg, header, payload);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.value_or("");
  }

  absl::StatusOr<JwtSvid> Validate(const std::string& token, const std::string& aud = "svc") {
    return ValidateJwtSvid(token, bundles_, aud, now_);
  }

  absl::StatusOr<JwtSvid> Insecure(const std::string& token, const std::string& aud = "svc") {
    return ParseJwtSvidInsecure(token, {aud}, now_);
  }

  JwtSvidParams Params() {
    return JwtSvidParams{*SpiffeId::FromString("spiffe://example.org/workload"),
                         {"svc"},
                         now_,
                         now_ + absl::Minutes(5),
                         ""};
  }

  // ExpectBoth checks that both the insecure parse and the full validation
  // reject `token` with InvalidArgument containing `msg`.
  void ExpectBoth(const std::string& token, const std::string& msg) {
    absl::StatusOr<JwtSvid> v = Validate(token);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << v.status();
    EXPECT_THAT(std::string(v.status().message()), HasSubstr(msg));
    absl::StatusOr<JwtSvid> i = Insecure(token);
    EXPECT_EQ(i.status().code(), absl::StatusCode::kInvalidArgument) << i.status();
    EXPECT_THAT(std::string(i.status().message()), HasSubstr(msg));
  }

  void ExpectValidateError(const std::string& token, const std::string& msg) {
    absl::StatusOr<JwtSvid> v = Validate(token);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << v.status();
    EXPECT_THAT(std::string(v.status().message()), HasSubstr(msg));
  }

  static EvpPkeyPtr keys_[4];
  absl::Time now_;
  // Borrowed from keys_.
  const EVP_PKEY* p256_;
  const EVP_PKEY* p384_;
  const EVP_PKEY* rsa_;
  const EVP_PKEY* other_;
  BundleSet bundles_;
};

EvpPkeyPtr JwtTest::keys_[4];

// --- Signing and success paths ---------------------------------------------

TEST_F(JwtTest, SignEs256HasExactHeaderAndValidates) {
  absl::StatusOr<std::string> token = SignJwtSvid(p256_, "k256", Params());
  ASSERT_TRUE(token.ok()) << token.status();
  std::vector<std::string> parts = absl::StrSplit(*token, '.');
  ASSERT_EQ(parts.size(), 3u);
  for (const std::string& p : parts) EXPECT_EQ(p.find('='), std::string::npos);
  Struct header;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Unb64(parts[0]), &header).ok());
  EXPECT_EQ(header.fields().size(), 3u);
  EXPECT_EQ(header.fields().at("alg").string_value(), "ES256");
  EXPECT_EQ(header.fields().at("kid").string_value(), "k256");
  EXPECT_EQ(header.fields().at("typ").string_value(), "JWT");
  EXPECT_EQ(Unb64(parts[2]).size(), 64u);  // raw r||s

  absl::StatusOr<JwtSvid> svid = Validate(*token);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->subject.ToString(), "spiffe://example.org/workload");
  EXPECT_EQ(svid->audience, std::vector<std::string>{"svc"});
  EXPECT_EQ(svid->expires_at, now_ + absl::Minutes(5));
  EXPECT_EQ(svid->key_id, "k256");
  EXPECT_EQ(svid->algorithm, "ES256");
}

TEST_F(JwtTest, SignEs384Validates) {
  absl::StatusOr<std::string> token = SignJwtSvid(p384_, "k384", Params());
  ASSERT_TRUE(token.ok()) << token.status();
  std::vector<std::string> parts = absl::StrSplit(*token, '.');
  EXPECT_EQ(Unb64(parts[2]).size(), 96u);
  absl::StatusOr<JwtSvid> svid = Validate(*token);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->algorithm, "ES384");
}

TEST_F(JwtTest, SignRs256Validates) {
  absl::StatusOr<std::string> token = SignJwtSvid(rsa_, "krsa", Params());
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<JwtSvid> svid = Validate(*token);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->algorithm, "RS256");
}

TEST_F(JwtTest, Ps256Validates) {
  std::string token = Sign(Header("PS256", "krsa"), Payload(), rsa_, "PS256");
  absl::StatusOr<JwtSvid> svid = Validate(token);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->algorithm, "PS256");
}

TEST_F(JwtTest, Rs512Validates) {
  std::string token = Sign(Header("RS512", "krsa"), Payload(), rsa_, "RS512");
  absl::StatusOr<JwtSvid> svid = Validate(token);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->algorithm, "RS512");
  EXPECT_EQ(svid->key_id, "krsa");
  EXPECT_EQ(svid->subject.ToString(), "spiffe://example.org/workload");
  EXPECT_EQ(svid->audience, std::vector<std::string>{"svc"});
  EXPECT_EQ(svid->expires_at, now_ + absl::Seconds(300));
}

TEST_F(JwtTest, ClaimsReturned) {
  JwtSvidParams p = Params();
  p.issuer = "https://issuer.example.org";
  p.audience = {"svc", "other"};
  absl::StatusOr<std::string> token = SignJwtSvid(p256_, "k256", p);
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<JwtSvid> svid = Validate(*token, "other");
  ASSERT_TRUE(svid.ok()) << svid.status();
  const auto& c = svid->claims.fields();
  EXPECT_EQ(c.at("sub").string_value(), "spiffe://example.org/workload");
  ASSERT_EQ(c.at("aud").list_value().values_size(), 2);
  EXPECT_EQ(c.at("aud").list_value().values(1).string_value(), "other");
  EXPECT_EQ(c.at("exp").number_value(), 1700000300);
  EXPECT_EQ(c.at("iat").number_value(), 1700000000);
  EXPECT_EQ(c.at("iss").string_value(), "https://issuer.example.org");
}

TEST_F(JwtTest, PrivateClaimsReturned) {
  std::string token = Sign(Header(), Payload(R"("jti":"abc","x":{"y":[1,true]})"));
  absl::StatusOr<JwtSvid> svid = Validate(token);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->claims.fields().at("jti").string_value(), "abc");
  EXPECT_TRUE(svid->claims.fields().at("x").has_struct_value());
}

TEST_F(JwtTest, InsecureParseNeedsNoKey) {
  std::string token = Sign(Header("ES256", "unknown"), Payload(), other_);
  absl::StatusOr<JwtSvid> svid = Insecure(token);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->key_id, "unknown");
}

TEST_F(JwtTest, TypJoseAndAbsentAccepted) {
  ASSERT_TRUE(Validate(Sign(R"({"alg":"ES256","kid":"k256","typ":"JOSE"})", Payload())).ok());
  ASSERT_TRUE(Validate(Sign(R"({"alg":"ES256","kid":"k256"})", Payload())).ok());
}

TEST_F(JwtTest, AudienceAsStringAccepted) {
  std::string token = Sign(Header(), Payload(R"("aud":"svc")", "aud"));
  absl::StatusOr<JwtSvid> svid = Validate(token);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->audience, std::vector<std::string>{"svc"});
}

TEST_F(JwtTest, InsecureAcceptsAnyOfSeveralAudiences) {
  std::string token = Sign(Header(), Payload());
  EXPECT_TRUE(ParseJwtSvidInsecure(token, {"x", "svc"}, now_).ok());
}

TEST_F(JwtTest, ExpWithinLeewayAccepted) {
  std::string token =
      Sign(Header(), Payload(absl::StrCat(R"("exp":)", absl::ToUnixSeconds(now_) - 10), "exp"));
  absl::StatusOr<JwtSvid> svid = Validate(token);
  EXPECT_TRUE(svid.ok()) << svid.status();
}

TEST_F(JwtTest, NbfAndIatWithinLeewayAccepted) {
  int64_t soon = absl::ToUnixSeconds(now_) + 10;
  std::string token =
      Sign(Header(), Payload(absl::StrCat(R"("nbf":)", soon, R"(,"iat":)", soon), "iat"));
  absl::StatusOr<JwtSvid> svid = Validate(token);
  EXPECT_TRUE(svid.ok()) << svid.status();
}

// --- Compact serialization (C1) ---------------------------------------------

TEST_F(JwtTest, JsonSerializationRejected) {
  std::string token = Sign(Header(), Payload());
  std::vector<std::string> p = absl::StrSplit(token, '.');
  std::string json = absl::StrCat(R"({"payload":")", p[1], R"(","protected":")", p[0],
                                  R"(","signature":")", p[2], R"("})");
  ExpectBoth(json, "JWS JSON serialization");
}

TEST_F(JwtTest, TwoPartTokenRejected) {
  std::string token = Sign(Header(), Payload());
  ExpectBoth(token.substr(0, token.rfind('.')), "three dot-separated parts");
}

TEST_F(JwtTest, FourPartTokenRejected) {
  ExpectBoth(Sign(Header(), Payload()) + ".AAAA", "three dot-separated parts");
}

TEST_F(JwtTest, JweRejected) { ExpectBoth("a.b.c.d.e", "JWE"); }

TEST_F(JwtTest, PaddedBase64Rejected) {
  std::string token = Sign(Header(), Payload());
  std::vector<std::string> p = absl::StrSplit(token, '.');
  ExpectBoth(absl::StrCat(p[0], "=.", p[1], ".", p[2]), "token header is not valid base64url");
}

TEST_F(JwtTest, HeaderNotJsonRejected) {
  ExpectBoth(absl::StrCat(B64("not json"), ".", B64(Payload()), "."),
             "token header is not a JSON object");
}

TEST_F(JwtTest, PayloadNotJsonRejected) {
  std::string token = Sign(Header(), "[1,2]");
  ExpectBoth(token, "token payload is not a JSON object");
}

// --- alg (C3, C4) --------------------------------------------------------------

TEST_F(JwtTest, AlgNoneRejected) {
  std::string token = absl::StrCat(B64(R"({"alg":"none","typ":"JWT"})"), ".", B64(Payload()), ".");
  ExpectBoth(token, "unsupported token signature algorithm \"none\"");
}

TEST_F(JwtTest, Hs256WithPublicKeyAsSecretRejected) {
  std::string secret = *PublicKeyToDer(p256_);
  std::string input = absl::StrCat(B64(Header("HS256")), ".", B64(Payload()));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len),
            nullptr);
  std::string token =
      absl::StrCat(input, ".", B64(std::string(reinterpret_cast<char*>(mac), mac_len)));
  ExpectBoth(token, "unsupported token signature algorithm \"HS256\"");
}

TEST_F(JwtTest, EdDsaRejected) {
  std::string token =
      absl::StrCat(B64(Header("EdDSA")), ".", B64(Payload()), ".", B64(std::string(64, 'x')));
  ExpectBoth(token, "unsupported token signature algorithm \"EdDSA\"");
}

TEST_F(JwtTest, Es256kRejected) {
  std::string token =
      absl::StrCat(B64(Header("ES256K")), ".", B64(Payload()), ".", B64(std::string(64, 'x')));
  ExpectBoth(token, "unsupported token signature algorithm \"ES256K\"");
}

TEST_F(JwtTest, MissingAlgRejected) {
  std::string token =
      absl::StrCat(B64(R"({"kid":"k256","typ":"JWT"})"), ".", B64(Payload()), ".AAAA");
  ExpectBoth(token, "token header missing alg");
}

TEST_F(JwtTest, AlgCheckedBeforeEverythingElse) {
  // Bad alg plus an extra header and a garbage payload: the alg is reported.
  std::string token = absl::StrCat(B64(R"({"alg":"HS256","jku":"https://x"})"), ".!!!.");
  ExpectBoth(token, "unsupported token signature algorithm \"HS256\"");
}

// --- Header members (C2, C6) -------------------------------------------------------

TEST_F(JwtTest, JkuHeaderRejected) {
  ExpectBoth(Sign(R"({"alg":"ES256","kid":"k256","jku":"https://evil"})", Payload()),
             "token header contains unsupported member \"jku\"");
}

TEST_F(JwtTest, X5cHeaderRejected) {
  ExpectBoth(Sign(R"({"alg":"ES256","kid":"k256","x5c":["AAAA"]})", Payload()),
             "token header contains unsupported member \"x5c\"");
}

TEST_F(JwtTest, CritHeaderRejected) {
  ExpectBoth(Sign(R"({"alg":"ES256","kid":"k256","crit":["exp"]})", Payload()),
             "token header contains unsupported member \"crit\"");
}

TEST_F(JwtTest, TypJwsRejected) {
  ExpectBoth(Sign(R"({"alg":"ES256","kid":"k256","typ":"JWS"})", Payload()),
             "token header typ \"JWS\" is not \"JWT\" or \"JOSE\"");
}

TEST_F(JwtTest, NonStringKidRejected) {
  ExpectBoth(Sign(R"({"alg":"ES256","kid":7})", Payload()), "token header kid must be a string");
}

// --- Claims (C7-C10) ----------------------------------------------------------------

TEST_F(JwtTest, MissingSubRejected) {
  ExpectBoth(Sign(Header(), Payload("", "sub")), "token missing subject claim");
}

TEST_F(JwtTest, InvalidSubRejected) {
  ExpectBoth(Sign(Header(), Payload(R"("sub":"spiffe://Example.org/a")", "sub")),
             "token has an invalid subject claim");
}

TEST_F(JwtTest, NonSpiffeSubRejected) {
  ExpectBoth(Sign(Header(), Payload(R"("sub":"https://example.org/a")", "sub")),
             "token has an invalid subject claim");
}

TEST_F(JwtTest, MissingAudRejected) {
  ExpectBoth(Sign(Header(), Payload("", "aud")), "token missing audience claim");
}

TEST_F(JwtTest, WrongAudRejected) {
  ExpectBoth(Sign(Header(), Payload(R"("aud":["other","svc2"])", "aud")),
             "token audience does not contain an expected audience");
}

TEST_F(JwtTest, EmptyAudArrayRejected) {
  ExpectBoth(Sign(Header(), Payload(R"("aud":[])", "aud")), "token audience claim is empty");
}

TEST_F(JwtTest, NonStringAudRejected) {
  ExpectBoth(Sign(Header(), Payload(R"("aud":5)", "aud")),
             "token audience claim must be a string or an array of strings");
}

TEST_F(JwtTest, EmptyExpectedAudienceRejected) {
  std::string token = Sign(Header(), Payload());
  absl::StatusOr<JwtSvid> v = Validate(token, "");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<JwtSvid> i = ParseJwtSvidInsecure(token, {}, now_);
  EXPECT_EQ(i.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(i.status().message()), HasSubstr("no audience to validate against"));
}

TEST_F(JwtTest, MissingExpRejected) {
  ExpectBoth(Sign(Header(), Payload("", "exp")), "token missing exp claim");
}

TEST_F(JwtTest, NonNumericExpRejected) {
  ExpectBoth(Sign(Header(), Payload(R"("exp":"tomorrow")", "exp")),
             "token exp claim must be a number");
}

TEST_F(JwtTest, ExpiredBeyondLeewayRejected) {
  int64_t exp = absl::ToUnixSeconds(now_ - kJwtLeeway) - 1;
  ExpectBoth(Sign(Header(), Payload(absl::StrCat(R"("exp":)", exp), "exp")), "token has expired");
}

TEST_F(JwtTest, NbfInFutureRejected) {
  int64_t nbf = absl::ToUnixSeconds(now_ + kJwtLeeway) + 5;
  ExpectBoth(Sign(Header(), Payload(absl::StrCat(R"("nbf":)", nbf))),
             "token is not valid yet (nbf is in the future)");
}

TEST_F(JwtTest, IatInFutureRejected) {
  int64_t iat = absl::ToUnixSeconds(now_ + kJwtLeeway) + 5;
  ExpectBoth(Sign(Header(), Payload(absl::StrCat(R"("iat":)", iat), "iat")),
             "token was issued in the future (iat)");
}

// --- Keys and signatures (C5, C12) -------------------------------------------------

TEST_F(JwtTest, MissingKidRejected) {
  std::string token = Sign(R"({"alg":"ES256","typ":"JWT"})", Payload());
  ExpectValidateError(token, "token header missing key id");
  EXPECT_TRUE(Insecure(token).ok());
}

TEST_F(JwtTest, UnknownKidRejected) {
  ExpectValidateError(Sign(Header("ES256", "nope"), Payload()),
                      "no JWT authority found with key ID \"nope\"");
}

TEST_F(JwtTest, NoBundleForSubjectTrustDomainRejected) {
  ExpectValidateError(Sign(Header(), Payload(R"("sub":"spiffe://unknown.org/w")", "sub")),
                      "no bundle found for trust domain \"unknown.org\"");
}

TEST_F(JwtTest, SubInOtherTrustDomainSignedByOurKeyRejected) {
  // C12: sub in b.org, signed with example.org's key and kid. b.org's bundle
  // has a different key under the same kid, so the signature does not verify.
  ExpectValidateError(Sign(Header(), Payload(R"("sub":"spiffe://b.org/w")", "sub")),
                      "token signature verification failed");
}

TEST_F(JwtTest, SubInOtherTrustDomainUsesOnlyThatBundlesKids) {
  // example.org's "k384" is not in b.org's bundle.
  ExpectValidateError(
      Sign(Header("ES384", "k384"), Payload(R"("sub":"spiffe://b.org/w")", "sub"), p384_, "ES384"),
      "no JWT authority found with key ID \"k384\"");
}

TEST_F(JwtTest, KeyOfAnotherTrustDomainWithOurKidIsRejected) {
  // b.org's bundle holds other_ under "k256", the kid of example.org's P-256
  // key. A token for an example.org subject signed with b.org's key under
  // that kid must not verify: keys are looked up in the subject's bundle.
  ExpectValidateError(Sign(Header(), Payload(), other_), "token signature verification failed");
  // The same key and kid are good for a b.org subject, so the rejection above
  // is the trust domain's doing, not a broken key.
  absl::StatusOr<JwtSvid> b =
      Validate(Sign(Header(), Payload(R"("sub":"spiffe://b.org/w")", "sub"), other_));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->subject.ToString(), "spiffe://b.org/w");
  EXPECT_EQ(b->key_id, "k256");
}

TEST_F(JwtTest, TamperedPayloadRejected) {
  std::string token = Sign(Header(), Payload());
  std::vector<std::string> p = absl::StrSplit(token, '.');
  std::string forged = Payload(R"("sub":"spiffe://example.org/admin")", "sub");
  ExpectValidateError(absl::StrCat(p[0], ".", B64(forged), ".", p[2]),
                      "token signature verification failed");
}

TEST_F(JwtTest, TamperedSignatureRejected) {
  std::string token = Sign(Header(), Payload());
  std::vector<std::string> p = absl::StrSplit(token, '.');
  std::string sig = Unb64(p[2]);
  sig[10] ^= 0x01;
  ExpectValidateError(absl::StrCat(p[0], ".", p[1], ".", B64(sig)),
                      "token signature verification failed");
}

TEST_F(JwtTest, DerEcdsaSignatureRejected) {
  std::string token = Sign(Header(), Payload());
  std::vector<std::string> p = absl::StrSplit(token, '.');
  ExpectValidateError(absl::StrCat(p[0], ".", p[1], ".", B64(std::string(70, '\x30'))),
                      "token signature has the wrong length");
}

TEST_F(JwtTest, AlgNotFittingKeyRejected) {
  // ES384 named, but kid k256 is a P-256 key.
  std::string token =
      absl::StrCat(B64(Header("ES384", "k256")), ".", B64(Payload()), ".", B64(std::string(96, 1)));
  ExpectValidateError(token, "token algorithm \"ES384\" does not fit the key with key ID \"k256\"");
}

TEST_F(JwtTest, RsaAlgWithEcKeyRejected) {
  std::string token = Sign(Header("RS256", "k256"), Payload(), rsa_, "RS256");
  ExpectValidateError(token, "token algorithm \"RS256\" does not fit the key");
}

TEST_F(JwtTest, Rs256SignatureFailsAsPs256) {
  // A PKCS#1 v1.5 signature relabelled PS256 must not verify.
  std::string token = Sign(Header("RS256", "krsa"), Payload(), rsa_, "RS256");
  std::vector<std::string> p = absl::StrSplit(token, '.');
  std::string relabelled = absl::StrCat(B64(Header("PS256", "krsa")), ".", p[1], ".", p[2]);
  ExpectValidateError(relabelled, "token signature verification failed");
}

// --- SignJwtSvid argument checks ----------------------------------------------------

TEST_F(JwtTest, SignWithoutKidRejected) {
  absl::StatusOr<std::string> t = SignJwtSvid(p256_, "", Params());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("key ID must not be empty"));
}

TEST_F(JwtTest, SignWithoutAudienceRejected) {
  JwtSvidParams p = Params();
  p.audience.clear();
  absl::StatusOr<std::string> t = SignJwtSvid(p256_, "k256", p);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("at least one audience"));
}

TEST_F(JwtTest, SignExpiryBeforeIssueRejected) {
  JwtSvidParams p = Params();
  p.expires_at = p.issued_at;
  absl::StatusOr<std::string> t = SignJwtSvid(p256_, "k256", p);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("expire after"));
}

}  // namespace
}  // namespace signet
