// SPIFFE trust bundles: JWKS encoding and parsing (checklist D, B16, B17).
#include "common/bundle.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base64url.h"
#include "common/status_macros.h"
#include "common/x509.h"
#include "signet/jwks.pb.h"

namespace signet {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

using OsslParamBldPtr =
    std::unique_ptr<OSSL_PARAM_BLD, OpensslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using OsslParamPtr = std::unique_ptr<OSSL_PARAM, OpensslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;

constexpr char kUseX509Svid[] = "x509-svid";
constexpr char kUseJwtSvid[] = "jwt-svid";

// An elliptic curve usable in a JWK (RFC 7518 §6.2.1.1).
struct EcCurve {
  const char* jwk_name;    // "crv"
  const char* group_name;  // OpenSSL group name
  const char* nist_name;   // alias OpenSSL may report
  size_t field_bytes;      // full coordinate length (D13)
};
constexpr EcCurve kCurves[] = {
    {"P-256", "prime256v1", "P-256", 32},
    {"P-384", "secp384r1", "P-384", 48},
    {"P-521", "secp521r1", "P-521", 66},
};

// CurveOfKey returns the JWK curve of an EC key, or nullptr when the key is not
// EC or its curve has no JWK name.
const EcCurve* CurveOfKey(const EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return nullptr;
  char name[80];
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1) {
    ClearOpensslErrors();
    return nullptr;
  }
  absl::string_view n(name, len);
  for (const EcCurve& c : kCurves) {
    if (absl::EqualsIgnoreCase(n, c.group_name) || absl::EqualsIgnoreCase(n, c.nist_name)) {
      return &c;
    }
  }
  return nullptr;
}

const EcCurve* CurveByJwkName(absl::string_view crv) {
  for (const EcCurve& c : kCurves) {
    if (crv == c.jwk_name) return &c;
  }
  return nullptr;
}

// BnParam returns the BIGNUM parameter `name` of `key` as exactly `width`
// big-endian bytes (width 0: minimal length). Internal on failure.
absl::StatusOr<std::string> BnParam(const EVP_PKEY* key, const char* name, size_t width) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return OpensslError(absl::StrCat("reading key parameter ", name));
  }
  BignumPtr bn(raw);
  if (width == 0) width = static_cast<size_t>(BN_num_bytes(bn.get()));
  if (width == 0) width = 1;
  std::string out(width, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()),
                   static_cast<int>(width)) < 0) {
    return absl::InternalError(absl::StrCat("key parameter ", name, " is too large"));
  }
  return out;
}

// JwkMembers are a JWK's members in output order; values are JSON texts.
using JwkMembers = std::vector<std::pair<std::string, std::string>>;

// JsonString returns `s` as a quoted, escaped JSON string, or nullopt when it
// is not valid UTF-8.
std::optional<std::string> JsonString(absl::string_view s) {
  Value v;
  v.set_string_value(std::string(s));
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(v, &out).ok()) return std::nullopt;
  return out;
}

// Quoted quotes a string made of characters that need no escaping (names,
// base64 text).
std::string Quoted(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

std::string RenderJwk(const JwkMembers& members) {
  std::vector<std::string> parts;
  parts.reserve(members.size());
  for (const auto& [name, value] : members) parts.push_back(absl::StrCat(Quoted(name), ":", value));
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

const Value* Field(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

// StringField returns the string member `name`, or nullopt when it is absent
// or not a string.
std::optional<std::string> StringField(const Struct& s, const std::string& name) {
  const Value* v = Field(s, name);
  if (v == nullptr || v->kind_case() != Value::kStringValue) return std::nullopt;
  return v->string_value();
}

// JwkKty returns the JWK kty of `key` ("EC" for P-256/384/521, "RSA"), or
// nullopt for a missing key or one a JWK cannot carry (KeyParams refuses it).
std::optional<std::string> JwkKty(const EVP_PKEY* key) {
  if (key == nullptr) return std::nullopt;
  if (CurveOfKey(key) != nullptr) return "EC";
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA";
  return std::nullopt;
}

// KeyParams returns kty and the public key members (crv/x/y or n/e) of
// `key`. InvalidArgument for keys other than EC (P-256/384/521) and RSA.
absl::StatusOr<JwkMembers> KeyParams(const EVP_PKEY* key) {
  if (const EcCurve* curve = CurveOfKey(key); curve != nullptr) {
    ASSIGN_OR_RETURN(std::string x, BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, curve->field_bytes));
    ASSIGN_OR_RETURN(std::string y, BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, curve->field_bytes));
    return JwkMembers{{"kty", Quoted("EC")},
                      {"crv", Quoted(curve->jwk_name)},
                      {"x", Quoted(Base64UrlEncode(x))},
                      {"y", Quoted(Base64UrlEncode(y))}};
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    ASSIGN_OR_RETURN(std::string n, BnParam(key, OSSL_PKEY_PARAM_RSA_N, 0));
    ASSIGN_OR_RETURN(std::string e, BnParam(key, OSSL_PKEY_PARAM_RSA_E, 0));
    return JwkMembers{{"kty", Quoted("RSA")},
                      {"n", Quoted(Base64UrlEncode(n))},
                      {"e", Quoted(Base64UrlEncode(e))}};
  }
  return absl::InvalidArgumentError(
      "only EC (P-256, P-384, P-521) and RSA keys can be put in a JWK");
}

absl::StatusOr<std::string> RequiredBase64UrlField(const Struct& jwk, const std::string& name) {
  std::optional<std::string> v = StringField(jwk, name);
  if (!v.has_value() || v->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("JWK missing \"", name, "\""));
  }
  std::optional<std::string> decoded = Base64UrlDecode(*v);
  if (!decoded.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("JWK \"", name, "\" is not unpadded base64url"));
  }
  return *std::move(decoded);
}

absl::StatusOr<EvpPkeyPtr> KeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  if (params == nullptr) return OpensslError("building key parameters");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (ctx == nullptr) return OpensslError("EVP_PKEY_CTX_new_from_name");
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1) return OpensslError("EVP_PKEY_fromdata_init");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return OpensslError(absl::StrCat("invalid ", type, " JWK key"),
                        absl::StatusCode::kInvalidArgument);
  }
  return EvpPkeyPtr(raw);
}

// KeyFromJwk builds the public key of an EC or RSA JWK. InvalidArgument when
// members are missing, malformed, of the wrong length or not a valid key.
absl::StatusOr<EvpPkeyPtr> KeyFromJwk(const Struct& jwk, absl::string_view kty) {
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr) return OpensslError("OSSL_PARAM_BLD_new");
  if (kty == "EC") {
    std::optional<std::string> crv = StringField(jwk, "crv");
    if (!crv.has_value()) return absl::InvalidArgumentError("EC JWK missing \"crv\"");
    const EcCurve* curve = CurveByJwkName(*crv);
    if (curve == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unsupported EC JWK curve \"", *crv, "\""));
    }
    ASSIGN_OR_RETURN(std::string x, RequiredBase64UrlField(jwk, "x"));
    ASSIGN_OR_RETURN(std::string y, RequiredBase64UrlField(jwk, "y"));
    if (x.size() != curve->field_bytes || y.size() != curve->field_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EC JWK coordinates must be ", curve->field_bytes, " bytes for ", curve->jwk_name));
    }
    std::string point = absl::StrCat("\x04", x, y);
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->group_name,
                                        0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
      return OpensslError("building EC key parameters");
    }
    return KeyFromParams("EC", bld.get());
  }
  if (kty == "RSA") {
    ASSIGN_OR_RETURN(std::string n, RequiredBase64UrlField(jwk, "n"));
    ASSIGN_OR_RETURN(std::string e, RequiredBase64UrlField(jwk, "e"));
    BignumPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                             static_cast<int>(n.size()), nullptr));
    BignumPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                             static_cast<int>(e.size()), nullptr));
    if (bn_n == nullptr || bn_e == nullptr) return OpensslError("BN_bin2bn");
    if (BN_is_zero(bn_n.get()) || BN_is_zero(bn_e.get())) {
      return absl::InvalidArgumentError("RSA JWK has a zero modulus or exponent");
    }
    if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
      return OpensslError("building RSA key parameters");
    }
    return KeyFromParams("RSA", bld.get());
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported JWK kty \"", kty, "\""));
}

bool HasKeyParams(const Struct& jwk) {
  for (const char* name : {"crv", "x", "y", "n", "e"}) {
    if (Field(jwk, name) != nullptr) return true;
  }
  return false;
}

bool SameCert(const X509* a, const X509* b) { return X509_cmp(a, b) == 0; }

// CheckJsonInteger checks that `v` is an integral JSON number. It only
// validates the token's type: Protobuf's Struct stores numbers as doubles, so
// the exact value is read separately (ReadJwksIntegers). InvalidArgument when
// `v` is not an integral number.
absl::Status CheckJsonInteger(const Value& v, absl::string_view name) {
  if (v.kind_case() != Value::kNumberValue || !std::isfinite(v.number_value()) ||
      std::trunc(v.number_value()) != v.number_value()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be an integer"));
  }
  return absl::OkStatus();
}

// ReadExact parses the whole JWKS `json` into `msg` (a message of
// proto/signet/jwks.proto with one integer field), skipping every other
// member; protobuf's JSON parser reads typed integer fields from the number's
// text, not via a double. InvalidArgument "`range_error`" when the member does
// not fit the field's type.
absl::Status ReadExact(const std::string& json, google::protobuf::Message* msg,
                       absl::string_view range_error) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, msg, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(range_error, " (", parsed.message().as_string(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

Bundle::Bundle(const Bundle& o)
    : td_(o.td_), sequence_(o.sequence_), refresh_hint_(o.refresh_hint_) {
  x509_.reserve(o.x509_.size());
  for (const X509Ptr& c : o.x509_) {
    X509_up_ref(c.get());
    x509_.emplace_back(c.get());
  }
  for (const auto& [kid, key] : o.jwt_) {
    EVP_PKEY_up_ref(key.get());
    jwt_.emplace(kid, EvpPkeyPtr(key.get()));
  }
}

Bundle& Bundle::operator=(const Bundle& o) {
  if (this != &o) {
    Bundle copy(o);
    *this = std::move(copy);
  }
  return *this;
}

void Bundle::AddX509Authority(X509Ptr cert) {
  if (cert == nullptr) return;
  for (const X509Ptr& c : x509_) {
    if (SameCert(c.get(), cert.get())) return;
  }
  x509_.push_back(std::move(cert));
}

void Bundle::RemoveX509Authority(const X509* cert) {
  for (auto it = x509_.begin(); it != x509_.end(); ++it) {
    if (SameCert(it->get(), cert)) {
      x509_.erase(it);
      return;
    }
  }
}

void Bundle::AddJwtAuthority(const std::string& kid, EvpPkeyPtr key) {
  if (key == nullptr) return;
  jwt_.insert_or_assign(kid, std::move(key));
}

void Bundle::RemoveJwtAuthority(const std::string& kid) { jwt_.erase(kid); }

const EVP_PKEY* Bundle::FindJwtAuthority(absl::string_view kid) const {
  auto it = jwt_.find(std::string(kid));
  return it == jwt_.end() ? nullptr : it->second.get();
}

std::string Bundle::X509AuthoritiesDer() const {
  std::string out;
  for (const X509Ptr& c : x509_) {
    absl::StatusOr<std::string> der = CertToDer(c.get());
    if (der.ok()) out.append(*der);
  }
  return out;
}

std::string Bundle::X509AuthoritiesPem() const {
  std::string out;
  for (const X509Ptr& c : x509_) {
    absl::StatusOr<std::string> pem = CertToPem(c.get());
    if (pem.ok()) out.append(*pem);
  }
  return out;
}

namespace {

// JwtKeyJsons returns the JWKs of the JWT authorities (keys that cannot be
// expressed as an EC or RSA JWK are left out so no unknown kty is emitted, D6).
std::vector<std::string> JwtKeyJsons(const std::map<std::string, EvpPkeyPtr>& jwt) {
  std::vector<std::string> keys;
  for (const auto& [kid, key] : jwt) {
    absl::StatusOr<JwkMembers> members = KeyParams(key.get());
    std::optional<std::string> kid_json = JsonString(kid);
    if (!members.ok() || !kid_json.has_value()) continue;
    members->insert(members->begin() + 1, {{"kid", *kid_json}, {"use", Quoted(kUseJwtSvid)}});
    keys.push_back(RenderJwk(*members));
  }
  return keys;
}

}  // namespace

std::string Bundle::ToJwks() const {
  std::vector<std::string> keys;
  for (const X509Ptr& c : x509_) {
    const EVP_PKEY* pub = X509_get0_pubkey(c.get());
    if (pub == nullptr) continue;
    absl::StatusOr<JwkMembers> members = KeyParams(pub);
    absl::StatusOr<std::string> der = CertToDer(c.get());
    if (!members.ok() || !der.ok()) continue;
    members->insert(members->begin() + 1, {"use", Quoted(kUseX509Svid)});
    members->emplace_back("x5c", absl::StrCat("[", Quoted(absl::Base64Escape(*der)), "]"));
    keys.push_back(RenderJwk(*members));
  }
  for (std::string& k : JwtKeyJsons(jwt_)) keys.push_back(std::move(k));
  // The top level is assembled by hand so that the 64-bit integers are exact.
  std::string out = absl::StrCat("{\"keys\":[", absl::StrJoin(keys, ","), "]");
  if (sequence_.has_value()) absl::StrAppend(&out, ",\"spiffe_sequence\":", *sequence_);
  if (refresh_hint_.has_value()) absl::StrAppend(&out, ",\"spiffe_refresh_hint\":", *refresh_hint_);
  out.append("}");
  return out;
}

std::string Bundle::ToJwtJwks() const {
  return absl::StrCat("{\"keys\":[", absl::StrJoin(JwtKeyJsons(jwt_), ","), "]}");
}

absl::StatusOr<Bundle> Bundle::ParseJwks(const TrustDomain& td, absl::string_view json) {
  Struct root;
  google::protobuf::util::JsonParseOptions options;
  auto parsed = google::protobuf::util::JsonStringToMessage(std::string(json), &root, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle is not a JSON object: ", parsed.ToString()));
  }
  Bundle bundle(td);

  const Value* keys = Field(root, "keys");
  if (keys == nullptr) return absl::InvalidArgumentError("bundle missing \"keys\"");
  if (keys->kind_case() != Value::kListValue) {
    return absl::InvalidArgumentError("bundle \"keys\" must be an array");
  }
  const Value* seq = Field(root, "spiffe_sequence");
  const Value* hint = Field(root, "spiffe_refresh_hint");
  if (seq != nullptr) RETURN_IF_ERROR(CheckJsonInteger(*seq, "spiffe_sequence"));
  if (hint != nullptr) RETURN_IF_ERROR(CheckJsonInteger(*hint, "spiffe_refresh_hint"));
  // D3: read the exact 64-bit values (a Struct number is a double).
  if (seq != nullptr) {
    signet::jwks::JwksSequence exact;
    RETURN_IF_ERROR(ReadExact(std::string(json), &exact,
                              "\"spiffe_sequence\" must be an integer in [0, 2^64)"));
    bundle.set_sequence_number(exact.spiffe_sequence());
  }
  if (hint != nullptr) {
    signet::jwks::JwksRefreshHint exact;
    RETURN_IF_ERROR(ReadExact(std::string(json), &exact,
                              "\"spiffe_refresh_hint\" must be an integer in [-2^63, 2^63)"));
    bundle.set_refresh_hint_seconds(exact.spiffe_refresh_hint());
  }

  for (int i = 0; i < keys->list_value().values_size(); ++i) {
    const Value& entry = keys->list_value().values(i);
    if (entry.kind_case() != Value::kStructValue) {
      return absl::InvalidArgumentError(absl::StrCat("bundle key ", i, " is not a JSON object"));
    }
    const Struct& jwk = entry.struct_value();
    std::optional<std::string> use = StringField(jwk, "use");
    std::optional<std::string> kty = StringField(jwk, "kty");
    // D6/D7: ignore keys with a missing or unknown use or kty.
    if (!use.has_value() || (*use != kUseX509Svid && *use != kUseJwtSvid)) continue;
    if (!kty.has_value() || (*kty != "EC" && *kty != "RSA")) continue;

    if (*use == kUseX509Svid) {
      const Value* x5c = Field(jwk, "x5c");
      // B17: absent or empty x5c -> ignored; only the first entry is used.
      if (x5c == nullptr || x5c->kind_case() != Value::kListValue ||
          x5c->list_value().values_size() == 0) {
        continue;
      }
      const Value& first = x5c->list_value().values(0);
      if (first.kind_case() != Value::kStringValue) {
        return absl::InvalidArgumentError(
            absl::StrCat("bundle key ", i, ": x5c must hold strings"));
      }
      std::string der;
      if (!absl::Base64Unescape(first.string_value(), &der)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bundle key ", i, ": x5c is not standard base64"));
      }
      absl::StatusOr<X509Ptr> cert = ParseCertDer(der);
      if (!cert.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bundle key ", i, ": invalid x5c certificate: ", cert.status().message()));
      }
      // The certificate's key must be one a JWK can carry, of the declared
      // kty: anything else could not be written back out (ToJwks), and an
      // authority whose key cannot be read verifies nothing.
      std::optional<std::string> cert_kty = JwkKty(X509_get0_pubkey(cert->get()));
      if (!cert_kty.has_value()) {
        ClearOpensslErrors();
        return absl::InvalidArgumentError(absl::StrCat(
            "bundle key ", i,
            ": the x5c certificate's public key is not an EC (P-256, P-384, P-521) or RSA key"));
      }
      if (*cert_kty != *kty) {
        return absl::InvalidArgumentError(absl::StrCat("bundle key ", i, ": kty ", *kty,
                                                       " does not match the x5c certificate's ",
                                                       *cert_kty, " key"));
      }
      if (HasKeyParams(jwk)) {
        absl::StatusOr<EvpPkeyPtr> key = KeyFromJwk(jwk, *kty);
        if (!key.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("bundle key ", i, ": ", key.status().message()));
        }
        const EVP_PKEY* cert_key = X509_get0_pubkey(cert->get());
        if (cert_key == nullptr || EVP_PKEY_eq(cert_key, key->get()) != 1) {
          ClearOpensslErrors();
          return absl::InvalidArgumentError(
              absl::StrCat("bundle key ", i, ": JWK key does not match the x5c certificate"));
        }
      }
      bundle.AddX509Authority(*std::move(cert));
      continue;
    }

    // jwt-svid (C11): kid required and unique.
    std::optional<std::string> kid = StringField(jwk, "kid");
    if (!kid.has_value() || kid->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle key ", i, ": jwt-svid key missing kid"));
    }
    if (bundle.FindJwtAuthority(*kid) != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle key ", i, ": duplicate jwt-svid key ID \"", *kid, "\""));
    }
    absl::StatusOr<EvpPkeyPtr> key = KeyFromJwk(jwk, *kty);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle key ", i, " (kid \"", *kid, "\"): ", key.status().message()));
    }
    bundle.AddJwtAuthority(*kid, *std::move(key));
  }
  return bundle;
}

absl::StatusOr<Bundle> Bundle::FromX509Pem(const TrustDomain& td, absl::string_view pem) {
  ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ParseCertsPem(pem));
  Bundle b(td);
  for (X509Ptr& c : certs) b.AddX509Authority(std::move(c));
  return b;
}

absl::StatusOr<Bundle> Bundle::FromX509Der(const TrustDomain& td, absl::string_view der) {
  Bundle b(td);
  // An empty value is an empty bundle (as go-spiffe reads the Workload API).
  if (der.empty()) return b;
  ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ParseCertsDer(der));
  for (X509Ptr& c : certs) b.AddX509Authority(std::move(c));
  return b;
}

bool Bundle::SameAuthorities(const Bundle& o) const {
  if (x509_.size() != o.x509_.size() || jwt_.size() != o.jwt_.size()) return false;
  for (const X509Ptr& c : x509_) {
    bool found = false;
    for (const X509Ptr& d : o.x509_) {
      if (SameCert(c.get(), d.get())) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  for (const auto& [kid, key] : jwt_) {
    const EVP_PKEY* other = o.FindJwtAuthority(kid);
    if (other == nullptr || EVP_PKEY_eq(key.get(), other) != 1) {
      ClearOpensslErrors();
      return false;
    }
  }
  return true;
}

void BundleSet::Put(Bundle b) {
  TrustDomain td = b.trust_domain();
  bundles_.insert_or_assign(std::move(td), std::move(b));
}

const Bundle* BundleSet::Find(const TrustDomain& td) const {
  auto it = bundles_.find(td);
  return it == bundles_.end() ? nullptr : &it->second;
}

}  // namespace signet
