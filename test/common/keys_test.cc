#include "common/keys.h"

#include <openssl/pem.h>

#include <algorithm>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// KeyFor returns a key of type `t`, generated once per test binary (an
// rsa-4096 key takes up to a few seconds to generate).
const EVP_PKEY* KeyFor(KeyType t) {
  static auto* keys = new std::map<KeyType, EvpPkeyPtr>();
  auto it = keys->find(t);
  if (it == keys->end()) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(t);
    EXPECT_TRUE(key.ok()) << key.status();
    if (!key.ok()) return nullptr;
    it = keys->emplace(t, *std::move(key)).first;
  }
  return it->second.get();
}

class KeyTypeTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(KeyTypeTest, GenerateAndRoundTripPkcs8Der) {
  const EVP_PKEY* key = KeyFor(GetParam());
  ASSERT_NE(key, nullptr);
  absl::StatusOr<KeyType> t = KeyTypeOf(key);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, GetParam());

  absl::StatusOr<std::string> der = PrivateKeyToPkcs8Der(key);
  ASSERT_TRUE(der.ok()) << der.status();
  ASSERT_FALSE(der->empty());
  EXPECT_EQ(static_cast<unsigned char>((*der)[0]), 0x30);
  absl::StatusOr<EvpPkeyPtr> back = ParsePrivateKeyDer(*der);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(PublicKeysEqual(key, back->get()));
  absl::StatusOr<std::string> der2 = PrivateKeyToPkcs8Der(back->get());
  ASSERT_TRUE(der2.ok()) << der2.status();
  EXPECT_EQ(*der, *der2);
}

TEST_P(KeyTypeTest, RoundTripPkcs8Pem) {
  const EVP_PKEY* key = KeyFor(GetParam());
  ASSERT_NE(key, nullptr);
  absl::StatusOr<std::string> pem = PrivateKeyToPkcs8Pem(key);
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_THAT(*pem, StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  absl::StatusOr<EvpPkeyPtr> back = ParsePrivateKeyPem(*pem);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(PublicKeysEqual(key, back->get()));
  absl::StatusOr<KeyType> t = KeyTypeOf(back->get());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, GetParam());
}

TEST_P(KeyTypeTest, RoundTripPublicKeyDer) {
  const EVP_PKEY* key = KeyFor(GetParam());
  ASSERT_NE(key, nullptr);
  absl::StatusOr<std::string> der = PublicKeyToDer(key);
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<EvpPkeyPtr> pub = ParsePublicKeyDer(*der);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_TRUE(PublicKeysEqual(key, pub->get()));
  absl::StatusOr<std::string> pem = PublicKeyToPem(key);
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_THAT(*pem, StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  // A public key is not a private key.
  absl::StatusOr<EvpPkeyPtr> priv = ParsePrivateKeyDer(*der);
  EXPECT_EQ(priv.status().code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KeyTypeTest,
                         ::testing::Values(KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048,
                                           KeyType::kRsa4096),
                         [](const ::testing::TestParamInfo<KeyType>& info) {
                           std::string n = KeyTypeName(info.param);
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

TEST(KeyTypeFromStringTest, AcceptsSpireNames) {
  for (KeyType t : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048, KeyType::kRsa4096}) {
    absl::StatusOr<KeyType> parsed = KeyTypeFromString(KeyTypeName(t));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, t);
  }
}

TEST(KeyTypeFromStringTest, RejectsUnknownName) {
  absl::StatusOr<KeyType> t = KeyTypeFromString("ed25519");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("unknown key type \"ed25519\""));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("ec-p256, ec-p384, rsa-2048, rsa-4096"));
}

TEST(KeyTypeOfTest, RejectsUnsupportedAlgorithm) {
  EvpPkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(ed, nullptr);
  absl::StatusOr<KeyType> t = KeyTypeOf(ed.get());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "unsupported key algorithm");
}

TEST(KeyTypeOfTest, RejectsUnsupportedCurve) {
  EvpPkeyPtr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"));
  ASSERT_NE(k, nullptr);
  absl::StatusOr<KeyType> t = KeyTypeOf(k.get());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("unsupported EC curve"));
}

TEST(ParsePrivateKeyTest, BadDerIsInvalidArgument) {
  absl::StatusOr<EvpPkeyPtr> k = ParsePrivateKeyDer("\x30\x03\x02\x01\x00");
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("invalid PKCS#8 private key DER"));
}

TEST(ParsePrivateKeyTest, EmptyDerIsInvalidArgument) {
  absl::StatusOr<EvpPkeyPtr> k = ParsePrivateKeyDer("");
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(k.status().message(), "empty PKCS#8 private key DER");
}

TEST(ParsePrivateKeyTest, TrailingDataIsInvalidArgument) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcP256);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> der = PrivateKeyToPkcs8Der(key->get());
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<EvpPkeyPtr> k = ParsePrivateKeyDer(*der + "x");
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("trailing data"));
}

TEST(ParsePrivateKeyTest, LegacyDerIsInvalidArgument) {
  // SEC1 / PKCS#1 DER are not PKCS#8 (B15: keys travel as PKCS#8 DER).
  for (KeyType t : {KeyType::kEcP256, KeyType::kRsa2048}) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(t);
    ASSERT_TRUE(key.ok()) << key.status();
    unsigned char* out = nullptr;
    int len = i2d_PrivateKey(key->get(), &out);
    ASSERT_GT(len, 0);
    std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    absl::StatusOr<std::string> pkcs8 = PrivateKeyToPkcs8Der(key->get());
    ASSERT_TRUE(pkcs8.ok());
    ASSERT_NE(der, *pkcs8);
    absl::StatusOr<EvpPkeyPtr> k = ParsePrivateKeyDer(der);
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument) << KeyTypeName(t);
  }
}

TEST(ParsePrivateKeyTest, BadPemIsInvalidArgument) {
  absl::StatusOr<EvpPkeyPtr> k =
      ParsePrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("invalid private key PEM"));
}

TEST(ParsePrivateKeyTest, NotPemIsInvalidArgument) {
  absl::StatusOr<EvpPkeyPtr> k = ParsePrivateKeyPem("hello");
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("invalid private key PEM"));
}

TEST(ParsePrivateKeyTest, PublicKeyPemIsNotAPrivateKey) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcP256);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> pem = PublicKeyToPem(key->get());
  ASSERT_TRUE(pem.ok()) << pem.status();
  absl::StatusOr<EvpPkeyPtr> k = ParsePrivateKeyPem(*pem);
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParsePublicKeyTest, BadDerIsInvalidArgument) {
  absl::StatusOr<EvpPkeyPtr> k = ParsePublicKeyDer("not a key");
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("invalid public key DER"));
}

// Legacy "EC PRIVATE KEY" / "RSA PRIVATE KEY" PEM written by the
// type-specific encoders.
std::string LegacyPem(const EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey_traditional writes SEC1 / PKCS#1 blocks.
  EXPECT_EQ(
      PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
      1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

TEST(ParsePrivateKeyTest, AcceptsLegacyEcPem) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcP384);
  ASSERT_TRUE(key.ok()) << key.status();
  std::string pem = LegacyPem(key->get());
  ASSERT_THAT(pem, StartsWith("-----BEGIN EC PRIVATE KEY-----"));
  absl::StatusOr<EvpPkeyPtr> back = ParsePrivateKeyPem(pem);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(PublicKeysEqual(key->get(), back->get()));
}

TEST(ParsePrivateKeyTest, AcceptsLegacyRsaPem) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kRsa2048);
  ASSERT_TRUE(key.ok()) << key.status();
  std::string pem = LegacyPem(key->get());
  ASSERT_THAT(pem, StartsWith("-----BEGIN RSA PRIVATE KEY-----"));
  absl::StatusOr<EvpPkeyPtr> back = ParsePrivateKeyPem(pem);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(PublicKeysEqual(key->get(), back->get()));
}

TEST(PublicKeysEqualTest, DifferentKeysDiffer) {
  absl::StatusOr<EvpPkeyPtr> a = GenerateKey(KeyType::kEcP256);
  absl::StatusOr<EvpPkeyPtr> b = GenerateKey(KeyType::kEcP256);
  absl::StatusOr<EvpPkeyPtr> r = GenerateKey(KeyType::kRsa2048);
  ASSERT_TRUE(a.ok() && b.ok() && r.ok());
  EXPECT_TRUE(PublicKeysEqual(a->get(), a->get()));
  EXPECT_FALSE(PublicKeysEqual(a->get(), b->get()));
  EXPECT_FALSE(PublicKeysEqual(a->get(), r->get()));
  EXPECT_FALSE(PublicKeysEqual(a->get(), nullptr));
}

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HexEncodeTest, Lowercase) { EXPECT_EQ(HexEncode(std::string("\x00\xAB\xff", 3)), "00abff"); }

TEST(RandomBytesTest, ReturnsRequestedLength) {
  absl::StatusOr<std::string> a = RandomBytes(32);
  absl::StatusOr<std::string> b = RandomBytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  absl::StatusOr<std::string> z = RandomBytes(0);
  ASSERT_TRUE(z.ok());
  EXPECT_TRUE(z->empty());
}

}  // namespace
}  // namespace signet
