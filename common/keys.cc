#include "common/keys.h"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <climits>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace signet {
namespace {

using EncoderCtxPtr =
    std::unique_ptr<OSSL_ENCODER_CTX, OpensslDeleter<OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free>>;
using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO,
                                 OpensslDeleter<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>>;
using DecoderCtxPtr =
    std::unique_ptr<OSSL_DECODER_CTX, OpensslDeleter<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;

// Encode serialises `key` (the parts named by `selection`) with the given
// output type ("DER"/"PEM") and structure. Internal on failure.
absl::StatusOr<std::string> Encode(const EVP_PKEY* key, int selection, const char* output_type,
                                   const char* structure) {
  if (key == nullptr) return absl::InvalidArgumentError("null key");
  EncoderCtxPtr ctx(OSSL_ENCODER_CTX_new_for_pkey(key, selection, output_type, structure, nullptr));
  if (ctx == nullptr || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0) {
    return OpensslError(absl::StrCat("no ", output_type, " ", structure, " encoder for key"));
  }
  unsigned char* data = nullptr;
  size_t len = 0;
  if (OSSL_ENCODER_to_data(ctx.get(), &data, &len) != 1) {
    return OpensslError("encoding key");
  }
  OpensslBytesPtr owned(data);
  return std::string(reinterpret_cast<const char*>(data), len);
}

// Decode parses `in` as one key; the whole input must be consumed.
// `structure` may be null (any). InvalidArgument on failure.
absl::StatusOr<EvpPkeyPtr> Decode(absl::string_view in, int selection, const char* input_type,
                                  const char* structure, absl::string_view what) {
  if (in.empty()) return absl::InvalidArgumentError(absl::StrCat("empty ", what));
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr ctx(OSSL_DECODER_CTX_new_for_pkey(&raw, input_type, structure, nullptr, selection,
                                                  nullptr, nullptr));
  if (ctx == nullptr) return OpensslError("creating key decoder");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t len = in.size();
  if (OSSL_DECODER_from_data(ctx.get(), &p, &len) != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    return OpensslError(absl::StrCat("invalid ", what), absl::StatusCode::kInvalidArgument);
  }
  EvpPkeyPtr key(raw);
  ClearOpensslErrors();
  if (len != 0 && absl::string_view(input_type) == "DER") {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", what, ": trailing data"));
  }
  return key;
}

}  // namespace

absl::StatusOr<KeyType> KeyTypeFromString(absl::string_view s) {
  if (s == "ec-p256") return KeyType::kEcP256;
  if (s == "ec-p384") return KeyType::kEcP384;
  if (s == "rsa-2048") return KeyType::kRsa2048;
  if (s == "rsa-4096") return KeyType::kRsa4096;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown key type \"", s, "\"; accepted: ec-p256, ec-p384, rsa-2048, rsa-4096"));
}

std::string KeyTypeName(KeyType t) {
  switch (t) {
    case KeyType::kEcP256:
      return "ec-p256";
    case KeyType::kEcP384:
      return "ec-p384";
    case KeyType::kRsa2048:
      return "rsa-2048";
    case KeyType::kRsa4096:
      return "rsa-4096";
  }
  return "unknown";
}

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType t) {
  EVP_PKEY* key = nullptr;
  switch (t) {
    case KeyType::kEcP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kEcP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyType::kRsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case KeyType::kRsa4096:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(4096));
      break;
  }
  if (key == nullptr) return OpensslError(absl::StrCat("generating ", KeyTypeName(t), " key"));
  return EvpPkeyPtr(key);
}

absl::StatusOr<KeyType> KeyTypeOf(const EVP_PKEY* key) {
  if (key == nullptr) return absl::InvalidArgumentError("null key");
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64];
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
      return OpensslError("reading EC group", absl::StatusCode::kInvalidArgument);
    }
    absl::string_view g(group, len);
    if (g == "prime256v1" || g == "P-256" || g == "secp256r1") return KeyType::kEcP256;
    if (g == "secp384r1" || g == "P-384") return KeyType::kEcP384;
    return absl::InvalidArgumentError(absl::StrCat("unsupported EC curve \"", g, "\""));
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    int bits = EVP_PKEY_get_bits(key);
    if (bits == 2048) return KeyType::kRsa2048;
    if (bits == 4096) return KeyType::kRsa4096;
    return absl::InvalidArgumentError(absl::StrCat("unsupported RSA key size ", bits));
  }
  return absl::InvalidArgumentError("unsupported key algorithm");
}

absl::StatusOr<std::string> PrivateKeyToPkcs8Der(const EVP_PKEY* key) {
  return Encode(key, OSSL_KEYMGMT_SELECT_KEYPAIR, "DER", "PrivateKeyInfo");
}

absl::StatusOr<std::string> PrivateKeyToPkcs8Pem(const EVP_PKEY* key) {
  return Encode(key, OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", "PrivateKeyInfo");
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKeyDer(absl::string_view der) {
  // The OSSL_DECODER "PrivateKeyInfo" filter still accepts SEC1/PKCS#1 DER in
  // OpenSSL 3.0, so parse the PKCS#8 structure explicitly.
  if (der.empty()) return absl::InvalidArgumentError("empty PKCS#8 private key DER");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkcs8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (p8 == nullptr) {
    return OpensslError("invalid PKCS#8 private key DER", absl::StatusCode::kInvalidArgument);
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("invalid PKCS#8 private key DER: trailing data");
  }
  EvpPkeyPtr key(EVP_PKCS82PKEY(p8.get()));
  if (key == nullptr) {
    return OpensslError("invalid PKCS#8 private key DER", absl::StatusCode::kInvalidArgument);
  }
  return key;
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKeyPem(absl::string_view pem) {
  // A null structure accepts "PRIVATE KEY" as well as the legacy
  // "EC PRIVATE KEY" and "RSA PRIVATE KEY" blocks. Encrypted keys fail: no
  // passphrase callback is installed.
  return Decode(pem, OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", nullptr, "private key PEM");
}

absl::StatusOr<std::string> PublicKeyToDer(const EVP_PKEY* key) {
  return Encode(key, OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "DER", "SubjectPublicKeyInfo");
}

absl::StatusOr<std::string> PublicKeyToPem(const EVP_PKEY* key) {
  return Encode(key, OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo");
}

absl::StatusOr<EvpPkeyPtr> ParsePublicKeyDer(absl::string_view der) {
  return Decode(der, OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "DER", "SubjectPublicKeyInfo",
                "public key DER");
}

bool PublicKeysEqual(const EVP_PKEY* a, const EVP_PKEY* b) {
  if (a == nullptr || b == nullptr) return false;
  bool eq = EVP_PKEY_eq(a, b) == 1;
  ClearOpensslErrors();
  return eq;
}

std::string Sha256(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    // Cannot happen with the default provider; never return a wrong digest.
    ClearOpensslErrors();
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string HexEncode(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

absl::StatusOr<std::string> RandomBytes(size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) return absl::InvalidArgumentError("too many random bytes");
  std::string out(n, '\0');
  if (n == 0) return out;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return OpensslError("RAND_bytes");
  }
  return out;
}

}  // namespace signet
