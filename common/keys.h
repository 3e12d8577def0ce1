// Key generation and (de)serialisation: ec-p256 (default), ec-p384, rsa-2048,
// rsa-4096; PKCS#8 DER and PEM.
#ifndef SIGNET_COMMON_KEYS_H_
#define SIGNET_COMMON_KEYS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/openssl_util.h"

namespace signet {

enum class KeyType { kEcP256, kEcP384, kRsa2048, kRsa4096 };

// KeyTypeFromString parses SPIRE's names: "ec-p256", "ec-p384", "rsa-2048",
// "rsa-4096". Returns InvalidArgument listing the accepted names.
[[nodiscard]] absl::StatusOr<KeyType> KeyTypeFromString(absl::string_view s);
std::string KeyTypeName(KeyType t);

// GenerateKey returns a new private key of type `t`.
[[nodiscard]] absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType t);

// KeyTypeOf reports the KeyType of `key`; InvalidArgument for other keys.
[[nodiscard]] absl::StatusOr<KeyType> KeyTypeOf(const EVP_PKEY* key);

// Private keys: unencrypted PKCS#8.
[[nodiscard]] absl::StatusOr<std::string> PrivateKeyToPkcs8Der(const EVP_PKEY* key);
[[nodiscard]] absl::StatusOr<std::string> PrivateKeyToPkcs8Pem(const EVP_PKEY* key);
// ParsePrivateKeyDer accepts PKCS#8 DER only. InvalidArgument on bad input.
[[nodiscard]] absl::StatusOr<EvpPkeyPtr> ParsePrivateKeyDer(absl::string_view der);
// ParsePrivateKeyPem accepts "PRIVATE KEY" (PKCS#8) PEM, and the legacy
// "EC PRIVATE KEY"/"RSA PRIVATE KEY" forms.
[[nodiscard]] absl::StatusOr<EvpPkeyPtr> ParsePrivateKeyPem(absl::string_view pem);

// Public keys: SubjectPublicKeyInfo DER / PEM.
[[nodiscard]] absl::StatusOr<std::string> PublicKeyToDer(const EVP_PKEY* key);
[[nodiscard]] absl::StatusOr<std::string> PublicKeyToPem(const EVP_PKEY* key);
[[nodiscard]] absl::StatusOr<EvpPkeyPtr> ParsePublicKeyDer(absl::string_view der);

// PublicKeysEqual reports whether two keys have the same public part.
bool PublicKeysEqual(const EVP_PKEY* a, const EVP_PKEY* b);

// Sha256 returns the raw 32-byte digest of `data`.
std::string Sha256(absl::string_view data);
// HexEncode returns lowercase hex.
std::string HexEncode(absl::string_view bytes);

// RandomBytes returns `n` bytes from the OpenSSL CSPRNG.
[[nodiscard]] absl::StatusOr<std::string> RandomBytes(size_t n);

}  // namespace signet

#endif  // SIGNET_COMMON_KEYS_H_
