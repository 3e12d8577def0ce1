// SPIFFE trust bundles (checklist D): one trust domain's X.509 and JWT
// authorities, in JWKS, PEM and DER forms.
#ifndef SIGNET_COMMON_BUNDLE_H_
#define SIGNET_COMMON_BUNDLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/openssl_util.h"
#include "common/spiffe_id.h"

namespace signet {

// Bundle holds one trust domain's authorities. Copyable (copies take new
// references on the OpenSSL objects); thread-compatible.
class Bundle {
 public:
  explicit Bundle(TrustDomain td) : td_(std::move(td)) {}
  Bundle(const Bundle& o);
  Bundle& operator=(const Bundle& o);
  Bundle(Bundle&&) = default;
  Bundle& operator=(Bundle&&) = default;

  const TrustDomain& trust_domain() const { return td_; }

  // X.509 authorities (CA certificates).
  const std::vector<X509Ptr>& x509_authorities() const { return x509_; }
  // AddX509Authority adds `cert` unless an identical one is present.
  void AddX509Authority(X509Ptr cert);
  void RemoveX509Authority(const X509* cert);

  // JWT authorities keyed by kid.
  const std::map<std::string, EvpPkeyPtr>& jwt_authorities() const { return jwt_; }
  // AddJwtAuthority adds or replaces the key for `kid`.
  void AddJwtAuthority(const std::string& kid, EvpPkeyPtr key);
  void RemoveJwtAuthority(const std::string& kid);
  // FindJwtAuthority returns the borrowed key for `kid`, or nullptr.
  const EVP_PKEY* FindJwtAuthority(absl::string_view kid) const;

  std::optional<uint64_t> sequence_number() const { return sequence_; }
  void set_sequence_number(uint64_t s) { sequence_ = s; }
  std::optional<int64_t> refresh_hint_seconds() const { return refresh_hint_; }
  void set_refresh_hint_seconds(int64_t s) { refresh_hint_ = s; }

  // X509AuthoritiesDer returns the CA certificates as concatenated DER (the
  // Workload API's bundle form, B15/F12).
  std::string X509AuthoritiesDer() const;
  // X509AuthoritiesPem returns the CA certificates as PEM blocks.
  std::string X509AuthoritiesPem() const;

  // ToJwks returns the SPIFFE bundle JSON (D1-D8, D13): x509-svid keys with a
  // single standard-base64 x5c and no kid, jwt-svid keys with kid, EC
  // coordinates full length, spiffe_sequence/spiffe_refresh_hint when set.
  std::string ToJwks() const;
  // ToJwtJwks returns a plain JWKS with only the JWT authorities (F15).
  std::string ToJwtJwks() const;

  // ParseJwks parses a SPIFFE bundle for `td`. Errors (InvalidArgument) when
  // the JSON is malformed or "keys" is missing; JWKs with unknown kty or use,
  // or x509-svid keys with an empty x5c, are ignored; only the first x5c entry
  // is used (B17).
  [[nodiscard]] static absl::StatusOr<Bundle> ParseJwks(const TrustDomain& td,
                                                        absl::string_view json);
  // FromX509Pem / FromX509Der build an X.509-only bundle.
  [[nodiscard]] static absl::StatusOr<Bundle> FromX509Pem(const TrustDomain& td,
                                                          absl::string_view pem);
  [[nodiscard]] static absl::StatusOr<Bundle> FromX509Der(const TrustDomain& td,
                                                          absl::string_view der);

  // Equal reports whether both bundles hold the same authorities.
  bool SameAuthorities(const Bundle& o) const;

 private:
  TrustDomain td_;
  std::vector<X509Ptr> x509_;
  std::map<std::string, EvpPkeyPtr> jwt_;
  std::optional<uint64_t> sequence_;
  std::optional<int64_t> refresh_hint_;
};

// BundleSet maps trust domains to their bundles (never merged, D10).
class BundleSet {
 public:
  void Put(Bundle b);
  // Find returns the bundle of `td`, or nullptr.
  const Bundle* Find(const TrustDomain& td) const;
  const std::map<TrustDomain, Bundle>& bundles() const { return bundles_; }

 private:
  std::map<TrustDomain, Bundle> bundles_;
};

}  // namespace signet

#endif  // SIGNET_COMMON_BUNDLE_H_
