// JWT-SVIDs: signing and validation (checklist C, go-spiffe jwtsvid).
#include "common/jwt.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <cmath>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base64url.h"
#include "common/bundle.h"
#include "common/status_macros.h"

namespace signet {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpensslDeleter<ECDSA_SIG, ECDSA_SIG_free>>;

enum class AlgFamily { kRsaPkcs1, kRsaPss, kEcdsa };

// A JWS algorithm allowed for JWT-SVIDs (C3).
struct JwsAlg {
  const char* name;
  AlgFamily family;
  const EVP_MD* (*md)();
  const char* ec_group;  // OpenSSL group of the required curve (ECDSA only)
  size_t ec_bytes;       // size of r and s (ECDSA only)
};

constexpr JwsAlg kAlgs[] = {
    {"RS256", AlgFamily::kRsaPkcs1, EVP_sha256, nullptr, 0},
    {"RS384", AlgFamily::kRsaPkcs1, EVP_sha384, nullptr, 0},
    {"RS512", AlgFamily::kRsaPkcs1, EVP_sha512, nullptr, 0},
    {"PS256", AlgFamily::kRsaPss, EVP_sha256, nullptr, 0},
    {"PS384", AlgFamily::kRsaPss, EVP_sha384, nullptr, 0},
    {"PS512", AlgFamily::kRsaPss, EVP_sha512, nullptr, 0},
    {"ES256", AlgFamily::kEcdsa, EVP_sha256, "prime256v1", 32},
    {"ES384", AlgFamily::kEcdsa, EVP_sha384, "secp384r1", 48},
    {"ES512", AlgFamily::kEcdsa, EVP_sha512, "secp521r1", 66},
};

const JwsAlg* FindAlg(absl::string_view name) {
  for (const JwsAlg& a : kAlgs) {
    if (name == a.name) return &a;
  }
  return nullptr;
}

// EcGroupOf returns the normalised OpenSSL group name of an EC key ("" when
// the key is not EC or the curve is not one of P-256/384/521).
std::string EcGroupOf(const EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return "";
  char name[80];
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1) {
    ClearOpensslErrors();
    return "";
  }
  absl::string_view n(name, len);
  if (absl::EqualsIgnoreCase(n, "prime256v1") || absl::EqualsIgnoreCase(n, "P-256")) {
    return "prime256v1";
  }
  if (absl::EqualsIgnoreCase(n, "secp384r1") || absl::EqualsIgnoreCase(n, "P-384")) {
    return "secp384r1";
  }
  if (absl::EqualsIgnoreCase(n, "secp521r1") || absl::EqualsIgnoreCase(n, "P-521")) {
    return "secp521r1";
  }
  return "";
}

// KeyFitsAlg reports whether `key` can sign/verify with `alg`.
bool KeyFitsAlg(const EVP_PKEY* key, const JwsAlg& alg) {
  if (alg.family == AlgFamily::kEcdsa) return EcGroupOf(key) == alg.ec_group;
  return EVP_PKEY_is_a(key, "RSA");
}

// DecodeSegment decodes the token segment `what`. InvalidArgument unless it
// is unpadded base64url.
absl::StatusOr<std::string> DecodeSegment(absl::string_view in, absl::string_view what) {
  std::optional<std::string> out = Base64UrlDecode(in);
  if (!out.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid base64url"));
  }
  return *std::move(out);
}

// ParseJsonObject parses `json` into a Struct. InvalidArgument naming `what`.
absl::StatusOr<Struct> ParseJsonObject(absl::string_view json, absl::string_view what) {
  Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(std::string(json), &s);
  if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat(what, " is not a JSON object"));
  return s;
}

// JsonString returns `s` as a quoted, escaped JSON string. InvalidArgument
// when `s` is not valid UTF-8.
absl::StatusOr<std::string> JsonString(absl::string_view s) {
  Value v;
  v.set_string_value(std::string(s));
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(v, &out).ok()) {
    return absl::InvalidArgumentError("JWT string values must be valid UTF-8");
  }
  return out;
}

const Value* Field(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

// DerToRawEcdsa converts a DER ECDSA-Sig-Value to JOSE r||s of 2*width bytes.
absl::StatusOr<std::string> DerToRawEcdsa(absl::string_view der, size_t width) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (sig == nullptr) return OpensslError("d2i_ECDSA_SIG");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * width, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, static_cast<int>(width)) < 0 ||
      BN_bn2binpad(s, out + width, static_cast<int>(width)) < 0) {
    return absl::InternalError("ECDSA signature component too large");
  }
  return raw;
}

// RawToDerEcdsa converts JOSE r||s to DER. InvalidArgument on a wrong length.
absl::StatusOr<std::string> RawToDerEcdsa(absl::string_view raw, size_t width) {
  if (raw.size() != 2 * width) {
    return absl::InvalidArgumentError("token signature has the wrong length for its algorithm");
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(p, static_cast<int>(width), nullptr));
  BignumPtr s(BN_bin2bn(p + width, static_cast<int>(width), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr) return OpensslError("ECDSA_SIG_new");
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return OpensslError("ECDSA_SIG_set0");
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return OpensslError("i2d_ECDSA_SIG");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// InitDigest prepares `md` for signing or verifying with `alg` and `key`.
absl::Status InitDigest(EVP_MD_CTX* md, const JwsAlg& alg, const EVP_PKEY* key, bool sign) {
  EVP_PKEY_CTX* pctx = nullptr;
  // OpenSSL takes a non-const key only to bump its reference count.
  EVP_PKEY* k = const_cast<EVP_PKEY*>(key);
  int rc = sign ? EVP_DigestSignInit(md, &pctx, alg.md(), nullptr, k)
                : EVP_DigestVerifyInit(md, &pctx, alg.md(), nullptr, k);
  if (rc != 1) return OpensslError(sign ? "EVP_DigestSignInit" : "EVP_DigestVerifyInit");
  if (alg.family == AlgFamily::kRsaPss) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
      return OpensslError("configuring RSA-PSS");
    }
  } else if (alg.family == AlgFamily::kRsaPkcs1) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      return OpensslError("configuring RSA PKCS#1 v1.5");
    }
  }
  return absl::OkStatus();
}

// A token split and decoded, header checked (C1-C4, C6), claims not yet.
struct DecodedToken {
  const JwsAlg* alg = nullptr;
  std::optional<std::string> kid;
  std::string signing_input;
  std::string signature;
  Struct claims;
};

absl::StatusOr<DecodedToken> DecodeToken(absl::string_view token) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(token);
  if (absl::StartsWith(trimmed, "{")) {
    return absl::InvalidArgumentError(
        "token uses JWS JSON serialization; only JWS compact serialization is supported");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() == 5) {
    return absl::InvalidArgumentError(
        "token is a JWE; only JWS compact serialization is supported");
  }
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("token must have three dot-separated parts (JWS compact serialization), got ",
                     parts.size()));
  }
  DecodedToken t;
  ASSIGN_OR_RETURN(std::string header_json, DecodeSegment(parts[0], "token header"));
  ASSIGN_OR_RETURN(Struct header, ParseJsonObject(header_json, "token header"));

  // C4: the algorithm is checked before anything else.
  const Value* alg = Field(header, "alg");
  if (alg == nullptr) return absl::InvalidArgumentError("token header missing alg");
  if (alg->kind_case() != Value::kStringValue) {
    return absl::InvalidArgumentError(
        "unsupported token signature algorithm (alg is not a string)");
  }
  t.alg = FindAlg(alg->string_value());
  if (t.alg == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported token signature algorithm \"",
                                                   absl::CEscape(alg->string_value()), "\""));
  }
  // C2: only alg, kid and typ. Report the smallest offending name for a
  // deterministic message.
  std::optional<std::string> extra;
  for (const auto& [name, value] : header.fields()) {
    if (name == "alg" || name == "kid" || name == "typ") continue;
    if (!extra.has_value() || name < *extra) extra = name;
  }
  if (extra.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token header contains unsupported member \"", absl::CEscape(*extra), "\""));
  }
  // C6.
  if (const Value* typ = Field(header, "typ"); typ != nullptr) {
    if (typ->kind_case() != Value::kStringValue ||
        (typ->string_value() != "JWT" && typ->string_value() != "JOSE")) {
      std::string shown = typ->kind_case() == Value::kStringValue
                              ? absl::StrCat("\"", absl::CEscape(typ->string_value()), "\"")
                              : "(not a string)";
      return absl::InvalidArgumentError(
          absl::StrCat("token header typ ", shown, " is not \"JWT\" or \"JOSE\""));
    }
  }
  if (const Value* kid = Field(header, "kid"); kid != nullptr) {
    if (kid->kind_case() != Value::kStringValue) {
      return absl::InvalidArgumentError("token header kid must be a string");
    }
    t.kid = kid->string_value();
  }

  ASSIGN_OR_RETURN(std::string payload_json, DecodeSegment(parts[1], "token payload"));
  ASSIGN_OR_RETURN(t.claims, ParseJsonObject(payload_json, "token payload"));
  ASSIGN_OR_RETURN(t.signature, DecodeSegment(parts[2], "token signature"));
  t.signing_input = absl::StrCat(parts[0], ".", parts[1]);
  return t;
}

// SubjectOf returns the sub claim as a SPIFFE ID (C7).
absl::StatusOr<SpiffeId> SubjectOf(const Struct& claims) {
  const Value* sub = Field(claims, "sub");
  if (sub == nullptr) return absl::InvalidArgumentError("token missing subject claim");
  if (sub->kind_case() != Value::kStringValue) {
    return absl::InvalidArgumentError("token subject claim must be a string");
  }
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(sub->string_value());
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token has an invalid subject claim: ", id.status().message()));
  }
  return id;
}

// TimeClaim reads a NumericDate claim; nullopt when absent.
absl::StatusOr<std::optional<absl::Time>> TimeClaim(const Struct& claims, const std::string& name) {
  const Value* v = Field(claims, name);
  if (v == nullptr) return std::optional<absl::Time>();
  // NumericDate (RFC 7519 §2) may be fractional; like go-jose we truncate.
  if (v->kind_case() != Value::kNumberValue || !std::isfinite(v->number_value()) ||
      std::fabs(v->number_value()) > 1e15) {
    return absl::InvalidArgumentError(absl::StrCat("token ", name, " claim must be a number"));
  }
  return std::optional<absl::Time>(
      absl::FromUnixSeconds(static_cast<int64_t>(std::trunc(v->number_value()))));
}

// CheckClaims checks C8-C10 and assembles the result.
absl::StatusOr<JwtSvid> CheckClaims(DecodedToken t, const SpiffeId& subject,
                                    const std::vector<std::string>& audiences, absl::Time now) {
  if (audiences.empty()) return absl::InvalidArgumentError("no audience to validate against");
  // C8.
  const Value* aud = Field(t.claims, "aud");
  if (aud == nullptr) return absl::InvalidArgumentError("token missing audience claim");
  std::vector<std::string> token_aud;
  if (aud->kind_case() == Value::kStringValue) {
    token_aud.push_back(aud->string_value());
  } else if (aud->kind_case() == Value::kListValue) {
    for (const Value& v : aud->list_value().values()) {
      if (v.kind_case() != Value::kStringValue) {
        return absl::InvalidArgumentError("token audience claim must hold only strings");
      }
      token_aud.push_back(v.string_value());
    }
  } else {
    return absl::InvalidArgumentError(
        "token audience claim must be a string or an array of strings");
  }
  if (token_aud.empty()) return absl::InvalidArgumentError("token audience claim is empty");
  bool matched = false;
  for (const std::string& want : audiences) {
    for (const std::string& have : token_aud) matched = matched || want == have;
  }
  if (!matched) {
    return absl::InvalidArgumentError(
        absl::StrCat("token audience does not contain an expected audience (expected one of [",
                     absl::StrJoin(audiences, ", "), "])"));
  }
  // C9.
  ASSIGN_OR_RETURN(std::optional<absl::Time> exp, TimeClaim(t.claims, "exp"));
  if (!exp.has_value()) return absl::InvalidArgumentError("token missing exp claim");
  if (*exp <= now - kJwtLeeway) return absl::InvalidArgumentError("token has expired");
  // C10.
  ASSIGN_OR_RETURN(std::optional<absl::Time> nbf, TimeClaim(t.claims, "nbf"));
  if (nbf.has_value() && *nbf > now + kJwtLeeway) {
    return absl::InvalidArgumentError("token is not valid yet (nbf is in the future)");
  }
  ASSIGN_OR_RETURN(std::optional<absl::Time> iat, TimeClaim(t.claims, "iat"));
  if (iat.has_value() && *iat > now + kJwtLeeway) {
    return absl::InvalidArgumentError("token was issued in the future (iat)");
  }
  return JwtSvid{subject,     std::move(token_aud), *exp, t.kid.value_or(""),
                 t.alg->name, std::move(t.claims)};
}

// VerifySignature checks the JWS signature of `t` with `key`.
absl::Status VerifySignature(const DecodedToken& t, const EVP_PKEY* key) {
  std::string sig = t.signature;
  if (t.alg->family == AlgFamily::kEcdsa) {
    ASSIGN_OR_RETURN(sig, RawToDerEcdsa(t.signature, t.alg->ec_bytes));
  }
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (md == nullptr) return OpensslError("EVP_MD_CTX_new");
  RETURN_IF_ERROR(InitDigest(md.get(), *t.alg, key, /*sign=*/false));
  int rc = EVP_DigestVerify(
      md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
      reinterpret_cast<const unsigned char*>(t.signing_input.data()), t.signing_input.size());
  if (rc != 1) {
    ClearOpensslErrors();
    return absl::InvalidArgumentError("token signature verification failed");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> SignCompactJws(const EVP_PKEY* key, absl::string_view alg_name,
                                           absl::string_view header_json,
                                           absl::string_view payload_json) {
  if (key == nullptr) return absl::InvalidArgumentError("no signing key");
  const JwsAlg* alg = FindAlg(alg_name);
  if (alg == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported JWS algorithm \"", alg_name, "\""));
  }
  if (!KeyFitsAlg(key, *alg)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key does not fit JWS algorithm \"", alg_name, "\""));
  }
  std::string input =
      absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(payload_json));
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (md == nullptr) return OpensslError("EVP_MD_CTX_new");
  RETURN_IF_ERROR(InitDigest(md.get(), *alg, key, /*sign=*/true));
  const unsigned char* data = reinterpret_cast<const unsigned char*>(input.data());
  size_t len = 0;
  if (EVP_DigestSign(md.get(), nullptr, &len, data, input.size()) != 1) {
    return OpensslError("EVP_DigestSign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     input.size()) != 1) {
    return OpensslError("EVP_DigestSign");
  }
  sig.resize(len);
  if (alg->family == AlgFamily::kEcdsa) {
    ASSIGN_OR_RETURN(sig, DerToRawEcdsa(sig, alg->ec_bytes));
  }
  return absl::StrCat(input, ".", Base64UrlEncode(sig));
}

absl::StatusOr<std::string> SignJwtSvid(const EVP_PKEY* key, absl::string_view kid,
                                        const JwtSvidParams& p) {
  if (key == nullptr) return absl::InvalidArgumentError("no signing key");
  if (kid.empty()) return absl::InvalidArgumentError("JWT-SVID key ID must not be empty");
  if (p.audience.empty()) return absl::InvalidArgumentError("JWT-SVID needs at least one audience");
  for (const std::string& a : p.audience) {
    if (a.empty()) return absl::InvalidArgumentError("JWT-SVID audience must not be empty");
  }
  if (p.expires_at <= p.issued_at) {
    return absl::InvalidArgumentError("JWT-SVID must expire after it is issued");
  }
  const char* alg = nullptr;
  std::string group = EcGroupOf(key);
  if (group == "prime256v1") {
    alg = "ES256";
  } else if (group == "secp384r1") {
    alg = "ES384";
  } else if (group == "secp521r1") {
    alg = "ES512";
  } else if (EVP_PKEY_is_a(key, "RSA")) {
    alg = "RS256";
  } else {
    return absl::InvalidArgumentError("JWT-SVID keys must be EC P-256/P-384/P-521 or RSA");
  }

  // Built in a fixed member order so tokens are reproducible.
  ASSIGN_OR_RETURN(std::string kid_json, JsonString(kid));
  std::string header_json =
      absl::StrCat("{\"alg\":\"", alg, "\",\"kid\":", kid_json, ",\"typ\":\"JWT\"}");
  std::vector<std::string> aud;
  for (const std::string& a : p.audience) {
    ASSIGN_OR_RETURN(std::string quoted, JsonString(a));
    aud.push_back(std::move(quoted));
  }
  ASSIGN_OR_RETURN(std::string sub_json, JsonString(p.subject.ToString()));
  std::string payload_json =
      absl::StrCat("{\"sub\":", sub_json, ",\"aud\":[", absl::StrJoin(aud, ","),
                   "],\"exp\":", absl::ToUnixSeconds(p.expires_at),
                   ",\"iat\":", absl::ToUnixSeconds(p.issued_at));
  if (!p.issuer.empty()) {
    ASSIGN_OR_RETURN(std::string iss_json, JsonString(p.issuer));
    absl::StrAppend(&payload_json, ",\"iss\":", iss_json);
  }
  payload_json.append("}");
  return SignCompactJws(key, alg, header_json, payload_json);
}

absl::StatusOr<JwtSvid> ParseJwtSvidInsecure(absl::string_view token,
                                             const std::vector<std::string>& audiences,
                                             absl::Time now) {
  ASSIGN_OR_RETURN(DecodedToken t, DecodeToken(token));
  ASSIGN_OR_RETURN(SpiffeId subject, SubjectOf(t.claims));
  return CheckClaims(std::move(t), subject, audiences, now);
}

absl::StatusOr<JwtSvid> ValidateJwtSvid(absl::string_view token, const BundleSet& bundles,
                                        absl::string_view audience, absl::Time now) {
  ASSIGN_OR_RETURN(DecodedToken t, DecodeToken(token));
  ASSIGN_OR_RETURN(SpiffeId subject, SubjectOf(t.claims));
  // C5: a key ID is required to pick the key.
  if (!t.kid.has_value() || t.kid->empty()) {
    return absl::InvalidArgumentError("token header missing key id");
  }
  // C12: only keys of the bundle of sub's trust domain.
  const Bundle* bundle = bundles.Find(subject.trust_domain());
  if (bundle == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no bundle found for trust domain \"", subject.trust_domain().name(), "\""));
  }
  const EVP_PKEY* key = bundle->FindJwtAuthority(*t.kid);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no JWT authority found with key ID \"", absl::CEscape(*t.kid), "\""));
  }
  if (!KeyFitsAlg(key, *t.alg)) {
    return absl::InvalidArgumentError(absl::StrCat("token algorithm \"", t.alg->name,
                                                   "\" does not fit the key with key ID \"",
                                                   absl::CEscape(*t.kid), "\""));
  }
  RETURN_IF_ERROR(VerifySignature(t, key));
  return CheckClaims(std::move(t), subject, {std::string(audience)}, now);
}

}  // namespace signet
