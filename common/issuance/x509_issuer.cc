#include "common/issuance/x509_issuer.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/bundle.h"
#include "common/keys.h"
#include "common/status_macros.h"
#include "common/x509_internal.h"

namespace signet {

using x509_internal::Asn1TimeToTime;
using x509_internal::BuildName;
using x509_internal::BuildSans;
using x509_internal::CheckLeafProfile;
using x509_internal::DigestFor;
using x509_internal::kMaxCommonNameLength;

namespace {

// Serial numbers are 128 random bits with the top bit cleared, so they are
// always positive (B18) and encode in at most 16 content bytes.
constexpr size_t kSerialBytes = 16;

using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpensslDeleter<ASN1_TIME, ASN1_TIME_free>>;
using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, OpensslDeleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;

// SetRandomSerial gives `cert` a positive random serial. Internal on failure.
absl::Status SetRandomSerial(X509* cert) {
  ASSIGN_OR_RETURN(std::string bytes, RandomBytes(kSerialBytes));
  bytes[0] = static_cast<char>(static_cast<unsigned char>(bytes[0]) & 0x7f);
  BignumPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
  if (bn == nullptr) return OpensslError("BN_bin2bn");
  if (BN_is_zero(bn.get()) && BN_one(bn.get()) != 1) return OpensslError("BN_one");
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (serial == nullptr) return OpensslError("BN_to_ASN1_INTEGER");
  if (X509_set_serialNumber(cert, serial.get()) != 1) return OpensslError("setting serial");
  return absl::OkStatus();
}

// SetValidity sets NotBefore/NotAfter. InvalidArgument when empty.
absl::Status SetValidity(X509* cert, absl::Time not_before, absl::Time not_after) {
  if (not_after <= not_before) {
    return absl::InvalidArgumentError("certificate validity period is empty");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after)) == nullptr) {
    return OpensslError("setting validity");
  }
  return absl::OkStatus();
}

// AddConfExtension adds one extension given in openssl.cnf syntax (`value`
// contains only fixed keywords, never user data). Internal on failure.
absl::Status AddConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (ext == nullptr) return OpensslError(absl::StrCat("building extension ", OBJ_nid2sn(nid)));
  if (X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpensslError(absl::StrCat("adding extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

// Sign signs `cert` with `key`. Internal on failure.
absl::Status SignCert(X509* cert, const EVP_PKEY* key) {
  // X509_sign does not modify the key; its prototype is merely not const.
  if (X509_sign(cert, const_cast<EVP_PKEY*>(key), DigestFor(key)) <= 0) {
    return OpensslError("signing certificate");
  }
  return absl::OkStatus();
}

// CheckIssuer checks that `issuer` is a CA and that `issuer_key` is its key.
absl::Status CheckIssuer(const X509* issuer, const EVP_PKEY* issuer_key) {
  if (issuer == nullptr || issuer_key == nullptr) {
    return absl::InvalidArgumentError("issuer certificate and key are required");
  }
  if (!CertIsCa(issuer)) return absl::InvalidArgumentError("issuer certificate is not a CA");
  if (!PublicKeysEqual(X509_get0_pubkey(issuer), issuer_key)) {
    return absl::InvalidArgumentError("issuer key does not match the issuer certificate");
  }
  return absl::OkStatus();
}

// CappedNotAfter returns min(now + ttl, issuer NotAfter), or
// FailedPrecondition when the issuer has already expired at `now`.
absl::StatusOr<absl::Time> CappedNotAfter(const X509* issuer, absl::Time now, absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("ttl must be positive");
  absl::Time issuer_not_after = CertNotAfter(issuer);
  if (issuer_not_after <= now) {
    return absl::FailedPreconditionError("issuer certificate has expired");
  }
  return std::min(now + ttl, issuer_not_after);
}

// NewCert returns a v3 certificate with serial, validity, subject, issuer
// name and public key set.
absl::StatusOr<X509Ptr> NewCert(const X509_NAME* issuer_name, const X509_NAME* subject,
                                const EVP_PKEY* subject_key, absl::Time not_before,
                                absl::Time not_after) {
  if (subject_key == nullptr) return absl::InvalidArgumentError("subject key is required");
  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpensslError("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpensslError("setting version");
  RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  RETURN_IF_ERROR(SetValidity(cert.get(), not_before, not_after));
  if (X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer_name) != 1) {
    return OpensslError("setting names");
  }
  // X509_set_pubkey takes its own reference; it does not modify the key.
  if (X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(subject_key)) != 1) {
    return OpensslError("setting public key", absl::StatusCode::kInvalidArgument);
  }
  return cert;
}

// AddCaExtensions adds basicConstraints, keyUsage, SKI, AKI (when `issuer` is
// not the cert itself) and the trust domain URI SAN, which is critical when the
// cert's subject is empty (RFC 5280 4.1.2.6, X509-SVID 3.1; B3). The subject
// must be set before this is called. Internal on failure.
absl::Status AddCaExtensions(X509* cert, const X509* issuer, const TrustDomain& td) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer), cert, nullptr, nullptr, 0);
  RETURN_IF_ERROR(AddConfExtension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(
      AddConfExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddConfExtension(cert, &ctx, NID_subject_key_identifier, "hash"));
  if (issuer != cert) {
    RETURN_IF_ERROR(AddConfExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always"));
  }
  ASSIGN_OR_RETURN(GeneralNamesPtr sans, BuildSans(td.IdString(), {}));
  const int san_critical = X509_NAME_entry_count(X509_get_subject_name(cert)) == 0 ? 1 : 0;
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, sans.get(), san_critical, X509V3_ADD_DEFAULT) !=
      1) {
    return OpensslError("adding subjectAltName");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<X509Ptr> CreateSelfSignedCa(const EVP_PKEY* key, const CaParams& p) {
  if (key == nullptr) return absl::InvalidArgumentError("CA key is required");
  if (p.ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("ttl must be positive");
  ASSIGN_OR_RETURN(X509NamePtr name, BuildName(p.organization, p.common_name));
  ASSIGN_OR_RETURN(X509Ptr cert,
                   NewCert(name.get(), name.get(), key, p.now - kNotBeforeBackdate, p.now + p.ttl));
  RETURN_IF_ERROR(AddCaExtensions(cert.get(), cert.get(), p.trust_domain));
  RETURN_IF_ERROR(SignCert(cert.get(), key));
  return cert;
}

absl::StatusOr<X509Ptr> CreateIntermediateCa(const X509* issuer, const EVP_PKEY* issuer_key,
                                             const EVP_PKEY* subject_key, const CaParams& p) {
  RETURN_IF_ERROR(CheckIssuer(issuer, issuer_key));
  ASSIGN_OR_RETURN(absl::Time not_after, CappedNotAfter(issuer, p.now, p.ttl));
  ASSIGN_OR_RETURN(X509NamePtr name, BuildName(p.organization, p.common_name));
  ASSIGN_OR_RETURN(X509Ptr cert, NewCert(X509_get_subject_name(issuer), name.get(), subject_key,
                                         p.now - kNotBeforeBackdate, not_after));
  RETURN_IF_ERROR(AddCaExtensions(cert.get(), issuer, p.trust_domain));
  RETURN_IF_ERROR(SignCert(cert.get(), issuer_key));
  return cert;
}

absl::StatusOr<X509Ptr> IssueLeaf(const X509* issuer, const EVP_PKEY* issuer_key,
                                  const EVP_PKEY* subject_key, const LeafParams& p) {
  if (p.id.path().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("X.509-SVID SPIFFE ID must have a non-root path: \"", p.id.ToString(), "\""));
  }
  RETURN_IF_ERROR(CheckIssuer(issuer, issuer_key));
  ASSIGN_OR_RETURN(absl::Time not_after, CappedNotAfter(issuer, p.now, p.ttl));
  // A non-empty subject (O=SPIFFE) keeps the SAN extension non-critical (B3).
  ASSIGN_OR_RETURN(X509NamePtr name,
                   BuildName("SPIFFE", p.dns_names.empty() ? "" : p.dns_names.front()));
  ASSIGN_OR_RETURN(X509Ptr cert, NewCert(X509_get_subject_name(issuer), name.get(), subject_key,
                                         p.now - kNotBeforeBackdate, not_after));
  X509* c = cert.get();
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer), c, nullptr, nullptr, 0);
  RETURN_IF_ERROR(AddConfExtension(c, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  // keyEncipherment only makes sense for RSA, keyAgreement only for EC.
  const char* key_usage = EVP_PKEY_is_a(subject_key, "RSA")
                              ? "critical,digitalSignature,keyEncipherment"
                              : "critical,digitalSignature,keyAgreement";
  RETURN_IF_ERROR(AddConfExtension(c, &ctx, NID_key_usage, key_usage));
  RETURN_IF_ERROR(AddConfExtension(c, &ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
  RETURN_IF_ERROR(AddConfExtension(c, &ctx, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddConfExtension(c, &ctx, NID_authority_key_identifier, "keyid:always"));
  ASSIGN_OR_RETURN(GeneralNamesPtr sans, BuildSans(p.id.ToString(), p.dns_names));
  if (X509_add1_ext_i2d(c, NID_subject_alt_name, sans.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpensslError("adding subjectAltName");
  }
  RETURN_IF_ERROR(SignCert(c, issuer_key));
  return cert;
}

absl::StatusOr<X509ReqPtr> ParseCsrDer(absl::string_view der) {
  if (der.empty()) return absl::InvalidArgumentError("empty CSR");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (req == nullptr) {
    return OpensslError("CSR does not parse", absl::StatusCode::kInvalidArgument);
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("CSR has trailing data");
  }
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr) {
    return OpensslError("CSR public key does not parse", absl::StatusCode::kInvalidArgument);
  }
  if (X509_REQ_verify(req.get(), pub) != 1) {
    ClearOpensslErrors();
    return absl::InvalidArgumentError("CSR signature is invalid");
  }
  return req;
}

namespace {

// Tlv reads one DER header at `*p` (not beyond `end`) and checks its tag,
// class and constructed bit; on success `*p` points at the content,
// `*content_len` is its length and `*next` points after it.
bool Tlv(const unsigned char** p, const unsigned char* end, int tag, int cls, bool constructed,
         long* content_len, const unsigned char** next) {
  if (*p >= end) return false;
  long len = 0;
  int t = 0, c = 0;
  const int r = ASN1_get_object(p, &len, &t, &c, static_cast<long>(end - *p));
  if ((r & 0x80) != 0 || (r & 0x01) != 0) return false;  // error or indefinite length
  if (t != tag || c != cls || ((r & V_ASN1_CONSTRUCTED) != 0) != constructed) return false;
  if (len < 0 || len > end - *p) return false;
  *content_len = len;
  *next = *p + len;
  return true;
}

using X509AlgorPtr = std::unique_ptr<X509_ALGOR, OpensslDeleter<X509_ALGOR, X509_ALGOR_free>>;
using Asn1BitStringPtr =
    std::unique_ptr<ASN1_BIT_STRING, OpensslDeleter<ASN1_BIT_STRING, ASN1_BIT_STRING_free>>;

constexpr char kP256[] = "P-256";
constexpr char kP384[] = "P-384";

// FastCsr is a request split by SplitEcCsr.
struct FastCsr {
  const unsigned char* info = nullptr;  // CertificationRequestInfo TLV
  size_t info_len = 0;
  X509AlgorPtr key_alg;
  Asn1BitStringPtr key_bits;
  const char* group = nullptr;  // kP256 / kP384
  const char* md = nullptr;     // "SHA256" / ...
  Asn1BitStringPtr sig;
};

// SplitEcCsr splits a DER request with an EC P-256/P-384 key and an
// ECDSA/SHA-2 signature. Returns false for anything else (malformed input
// included); the caller then takes the generic path, which reports the error.
bool SplitEcCsr(absl::string_view der, FastCsr* out) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const end = p + der.size();
  long len = 0;
  const unsigned char* next = nullptr;
  if (!Tlv(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, true, &len, &next) || next != end) {
    return false;
  }
  // CertificationRequestInfo.
  const unsigned char* info = p;
  if (!Tlv(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, true, &len, &next)) return false;
  const unsigned char* const info_end = next;
  out->info = info;
  out->info_len = static_cast<size_t>(info_end - info);
  // version INTEGER 0
  if (!Tlv(&p, info_end, V_ASN1_INTEGER, V_ASN1_UNIVERSAL, false, &len, &next) || len != 1 ||
      *p != 0) {
    return false;
  }
  p = next;
  // subject Name: must parse (its content is ignored).
  {
    const unsigned char* q = p;
    X509NamePtr name(d2i_X509_NAME(nullptr, &q, static_cast<long>(info_end - p)));
    if (name == nullptr) {
      ClearOpensslErrors();
      return false;
    }
    p = q;
  }
  // subjectPKInfo
  if (!Tlv(&p, info_end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, true, &len, &next)) return false;
  const unsigned char* const spki_end = next;
  out->key_alg.reset(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(spki_end - p)));
  if (out->key_alg == nullptr) return false;
  out->key_bits.reset(d2i_ASN1_BIT_STRING(nullptr, &p, static_cast<long>(spki_end - p)));
  if (out->key_bits == nullptr || p != spki_end) return false;
  // attributes [0]: must be a well-formed constructed [0] (ignored).
  if (!Tlv(&p, info_end, 0, V_ASN1_CONTEXT_SPECIFIC, true, &len, &next) || next != info_end) {
    return false;
  }
  p = info_end;
  // signatureAlgorithm, signature
  X509AlgorPtr sig_alg(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(end - p)));
  if (sig_alg == nullptr) return false;
  out->sig.reset(d2i_ASN1_BIT_STRING(nullptr, &p, static_cast<long>(end - p)));
  if (out->sig == nullptr || p != end) return false;
  if ((out->sig->flags & 0x07) != 0 || (out->key_bits->flags & 0x07) != 0) return false;

  const ASN1_OBJECT* aobj = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&aobj, &ptype, &pval, out->key_alg.get());
  if (OBJ_obj2nid(aobj) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT) return false;
  switch (OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(pval))) {
    case NID_X9_62_prime256v1:
      out->group = kP256;
      break;
    case NID_secp384r1:
      out->group = kP384;
      break;
    default:
      return false;
  }
  X509_ALGOR_get0(&aobj, &ptype, nullptr, sig_alg.get());
  if (ptype != V_ASN1_UNDEF) return false;  // ECDSA takes no parameters (RFC 5758)
  int md_nid = NID_undef, pk_nid = NID_undef;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(aobj), &md_nid, &pk_nid) != 1 ||
      pk_nid != NID_X9_62_id_ecPublicKey) {
    return false;
  }
  switch (md_nid) {
    case NID_sha256:
      out->md = "SHA256";
      break;
    case NID_sha384:
      out->md = "SHA384";
      break;
    case NID_sha512:
      out->md = "SHA512";
      break;
    default:
      return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<X509PubkeyPtr> ParseCsrPublicKey(absl::string_view der) {
  FastCsr csr;
  if (!SplitEcCsr(der, &csr)) {
    ClearOpensslErrors();
    ASSIGN_OR_RETURN(X509ReqPtr req, ParseCsrDer(der));
    X509PubkeyPtr pub(X509_PUBKEY_dup(X509_REQ_get_X509_PUBKEY(req.get())));
    if (pub == nullptr) return OpensslError("copying CSR public key");
    return pub;
  }
  // Import the point (EC_POINT_oct2point rejects points not on the curve).
  unsigned char* const point =
      const_cast<unsigned char*>(ASN1_STRING_get0_data(csr.key_bits.get()));
  const size_t point_len = static_cast<size_t>(ASN1_STRING_length(csr.key_bits.get()));
  // A key imported from (curve name, point) builds its EC_GROUP from the
  // name, which costs about a fifth of a signature check. So each thread
  // imports one key per curve once and puts every later request's point
  // into it (EVP_PKEY_set1_encoded_public_key); both ways decode and check
  // the point the same way (EC_KEY_oct2key). The key never leaves this
  // function, and the verification context that references it is freed
  // before it returns.
  thread_local EvpPkeyPtr keys[2];
  EvpPkeyPtr& key = keys[csr.group == kP384 ? 1 : 0];
  if (key != nullptr && EVP_PKEY_set1_encoded_public_key(key.get(), point, point_len) != 1) {
    key.reset();  // it may hold a half-set point: import afresh next time
    return OpensslError("CSR public key does not parse", absl::StatusCode::kInvalidArgument);
  }
  if (key == nullptr) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(csr.group),
                                         0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, point_len),
        OSSL_PARAM_construct_end()};
    EvpPkeyCtxPtr kctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw = nullptr;
    if (kctx == nullptr || EVP_PKEY_fromdata_init(kctx.get()) != 1 ||
        EVP_PKEY_fromdata(kctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      return OpensslError("CSR public key does not parse", absl::StatusCode::kInvalidArgument);
    }
    key.reset(raw);
  }
  EvpMdCtxPtr mctx(EVP_MD_CTX_new());
  if (mctx == nullptr || EVP_DigestVerifyInit_ex(mctx.get(), nullptr, csr.md, nullptr, nullptr,
                                                 key.get(), nullptr) != 1) {
    return OpensslError("initialising CSR verification");
  }
  if (EVP_DigestVerify(mctx.get(), ASN1_STRING_get0_data(csr.sig.get()),
                       static_cast<size_t>(ASN1_STRING_length(csr.sig.get())), csr.info,
                       csr.info_len) != 1) {
    ClearOpensslErrors();
    return absl::InvalidArgumentError("CSR signature is invalid");
  }
  X509PubkeyPtr pub(X509_PUBKEY_new());
  if (pub == nullptr) return OpensslError("X509_PUBKEY_new");
  const ASN1_OBJECT* aobj = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&aobj, &ptype, &pval, csr.key_alg.get());
  ASN1_OBJECT* aobj_copy = OBJ_dup(aobj);
  ASN1_OBJECT* curve_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(pval));
  const int bits_len = ASN1_STRING_length(csr.key_bits.get());
  void* bits_copy =
      OPENSSL_memdup(ASN1_STRING_get0_data(csr.key_bits.get()), static_cast<size_t>(bits_len));
  if (aobj_copy == nullptr || curve_copy == nullptr || bits_copy == nullptr ||
      X509_PUBKEY_set0_param(pub.get(), aobj_copy, V_ASN1_OBJECT, curve_copy,
                             static_cast<unsigned char*>(bits_copy), bits_len) != 1) {
    ASN1_OBJECT_free(aobj_copy);
    ASN1_OBJECT_free(curve_copy);
    OPENSSL_free(bits_copy);
    return OpensslError("copying CSR public key");
  }
  return pub;
}

absl::StatusOr<EvpPkeyPtr> CsrPublicKey(const X509_REQ* csr) {
  if (csr == nullptr) return absl::InvalidArgumentError("null CSR");
  // X509_REQ_get_pubkey only takes a reference; its prototype is not const.
  EvpPkeyPtr key(X509_REQ_get_pubkey(const_cast<X509_REQ*>(csr)));
  if (key == nullptr) {
    return OpensslError("CSR public key does not parse", absl::StatusCode::kInvalidArgument);
  }
  return key;
}

absl::StatusOr<std::vector<std::string>> CsrUriSans(const X509_REQ* csr) {
  if (csr == nullptr) return absl::InvalidArgumentError("null CSR");
  std::vector<std::string> out;
  X509ExtensionStackPtr exts(X509_REQ_get_extensions(const_cast<X509_REQ*>(csr)));
  if (exts == nullptr) {
    ClearOpensslErrors();
    return out;
  }
  int crit = 0;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509V3_get_d2i(exts.get(), NID_subject_alt_name, &crit, nullptr)));
  if (names == nullptr) {
    if (crit == -1) return out;  // no SAN extension
    return OpensslError("CSR subjectAltName is invalid", absl::StatusCode::kInvalidArgument);
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

absl::StatusOr<X509Ptr> IssueLeafFromCsr(const X509* issuer, const EVP_PKEY* issuer_key,
                                         absl::string_view csr_der, const LeafParams& p) {
  ASSIGN_OR_RETURN(X509ReqPtr csr, ParseCsrDer(csr_der));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, CsrPublicKey(csr.get()));
  absl::StatusOr<KeyType> type = KeyTypeOf(key.get());
  if (!type.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CSR key is not supported: ", type.status().message()));
  }
  return IssueLeaf(issuer, issuer_key, key.get(), p);
}

namespace {

// SignatureNidFor returns the signature algorithm NID for `key` and `md`
// (for example ecdsa-with-SHA256), or NID_undef.
int SignatureNidFor(const EVP_PKEY* key, const char* md_name) {
  const bool rsa = EVP_PKEY_is_a(key, "RSA");
  const int md_nid = OBJ_sn2nid(md_name);
  int sig_nid = NID_undef;
  if (OBJ_find_sigid_by_algs(&sig_nid, md_nid,
                             rsa ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey) != 1) {
    return NID_undef;
  }
  return sig_nid;
}

// CopyPublicKey sets `cert`'s SubjectPublicKeyInfo to a copy of `src`'s
// encoded algorithm and key bits (no decoding). InvalidArgument for key
// algorithm parameters of an unexpected ASN.1 type.
absl::Status CopyPublicKey(X509* cert, const X509_PUBKEY* src) {
  ASN1_OBJECT* alg_obj = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  X509_ALGOR* alg = nullptr;
  if (X509_PUBKEY_get0_param(&alg_obj, &bits, &bits_len, &alg, src) != 1 || alg == nullptr ||
      bits == nullptr || bits_len <= 0) {
    return OpensslError("reading subject public key", absl::StatusCode::kInvalidArgument);
  }
  const ASN1_OBJECT* aobj = nullptr;
  int ptype = V_ASN1_UNDEF;
  const void* pval = nullptr;
  X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
  void* pval_copy = nullptr;
  switch (ptype) {
    case V_ASN1_UNDEF:
    case V_ASN1_NULL:
      break;
    case V_ASN1_OBJECT:
      pval_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(pval));
      if (pval_copy == nullptr) return OpensslError("copying key parameters");
      break;
    case V_ASN1_SEQUENCE:
      pval_copy = ASN1_STRING_dup(static_cast<const ASN1_STRING*>(pval));
      if (pval_copy == nullptr) return OpensslError("copying key parameters");
      break;
    default:
      return absl::InvalidArgumentError("subject public key has unsupported parameters");
  }
  ASN1_OBJECT* aobj_copy = OBJ_dup(aobj);
  void* bits_copy = OPENSSL_memdup(bits, static_cast<size_t>(bits_len));
  if (aobj_copy == nullptr || bits_copy == nullptr) {
    ASN1_OBJECT_free(aobj_copy);
    OPENSSL_free(bits_copy);
    if (ptype == V_ASN1_OBJECT) ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(pval_copy));
    if (ptype == V_ASN1_SEQUENCE) ASN1_STRING_free(static_cast<ASN1_STRING*>(pval_copy));
    return OpensslError("copying subject public key");
  }
  // X509_PUBKEY_set0_param takes ownership of every pointer, even on failure
  // only of those it has stored; it does not fail for a fresh X509_PUBKEY.
  if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), aobj_copy, ptype, pval_copy,
                             static_cast<unsigned char*>(bits_copy), bits_len) != 1) {
    return OpensslError("setting subject public key");
  }
  return absl::OkStatus();
}

// ConfExtension builds one extension in openssl.cnf syntax (fixed keywords).
absl::StatusOr<X509ExtensionPtr> ConfExtension(int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, nullptr, nullptr, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr) return OpensslError(absl::StrCat("building extension ", OBJ_nid2sn(nid)));
  return ext;
}

// AddExt appends a copy of `ext` to `cert`.
absl::Status AddExt(X509* cert, const X509_EXTENSION* ext) {
  if (X509_add_ext(cert, const_cast<X509_EXTENSION*>(ext), -1) != 1) {
    return OpensslError("adding extension");
  }
  return absl::OkStatus();
}

}  // namespace

X509Issuer::~X509Issuer() { EVP_MD_free(sha1_); }

absl::StatusOr<std::unique_ptr<X509Issuer>> X509Issuer::Create(const X509* cert,
                                                               const EVP_PKEY* key) {
  RETURN_IF_ERROR(CheckIssuer(cert, key));
  std::unique_ptr<X509Issuer> is(new X509Issuer());
  is->cert_ = CopyCert(cert);
  EVP_PKEY* k = const_cast<EVP_PKEY*>(key);
  if (EVP_PKEY_up_ref(k) != 1) return OpensslError("EVP_PKEY_up_ref");
  is->key_.reset(k);
  is->not_after_ = CertNotAfter(cert);
  is->sha1_ = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  if (is->sha1_ == nullptr) return OpensslError("fetching SHA1");
  const char* md_name = DigestFor(key) == EVP_sha384() ? "SHA384" : "SHA256";
  is->sig_nid_ = SignatureNidFor(key, md_name);
  if (is->sig_nid_ == NID_undef) return absl::InvalidArgumentError("unsupported issuer key");
  is->sign_template_.reset(EVP_MD_CTX_new());
  is->verify_template_.reset(EVP_MD_CTX_new());
  if (is->sign_template_ == nullptr || is->verify_template_ == nullptr) {
    return OpensslError("EVP_MD_CTX_new");
  }
  if (EVP_DigestSignInit_ex(is->sign_template_.get(), nullptr, md_name, nullptr, nullptr, k,
                            nullptr) != 1) {
    return OpensslError("initialising signing context");
  }
  if (EVP_DigestVerifyInit_ex(is->verify_template_.get(), nullptr, md_name, nullptr, nullptr,
                              X509_get0_pubkey(cert), nullptr) != 1) {
    return OpensslError("initialising verification context");
  }
  ASSIGN_OR_RETURN(is->spiffe_subject_, BuildName("SPIFFE", ""));
  // A built X509_NAME encodes itself into a cache inside the name on its
  // first i2d (X509_set_subject_name and X509_NAME_dup do one): do it here,
  // so concurrent IssueLeaf calls only read it (TSan saw two first uses
  // race). The issuer's names came from d2i (CopyCert) and are encoded.
  if (i2d_X509_NAME(is->spiffe_subject_.get(), nullptr) <= 0) {
    return OpensslError("encoding subject name");
  }
  ASSIGN_OR_RETURN(is->basic_constraints_,
                   ConfExtension(NID_basic_constraints, "critical,CA:FALSE"));
  ASSIGN_OR_RETURN(is->key_usage_ec_,
                   ConfExtension(NID_key_usage, "critical,digitalSignature,keyAgreement"));
  ASSIGN_OR_RETURN(is->key_usage_rsa_,
                   ConfExtension(NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  ASSIGN_OR_RETURN(is->ext_key_usage_, ConfExtension(NID_ext_key_usage, "serverAuth,clientAuth"));
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(cert));
  if (ski == nullptr) return absl::InvalidArgumentError("issuer certificate has no SKI");
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  if (akid == nullptr) return OpensslError("AUTHORITY_KEYID_new");
  akid->keyid = ASN1_OCTET_STRING_dup(ski);
  if (akid->keyid != nullptr) {
    is->aki_.reset(X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid));
  }
  AUTHORITY_KEYID_free(akid);
  if (is->aki_ == nullptr) return OpensslError("building authorityKeyIdentifier");
  return is;
}

absl::StatusOr<X509Ptr> X509Issuer::IssueLeaf(const X509_PUBKEY* subject_key,
                                              const LeafParams& p) const {
  if (subject_key == nullptr) return absl::InvalidArgumentError("subject key is required");
  return IssueLeafImpl(subject_key, nullptr, p);
}

absl::StatusOr<X509Ptr> X509Issuer::IssueLeaf(const EVP_PKEY* subject_key,
                                              const LeafParams& p) const {
  if (subject_key == nullptr) return absl::InvalidArgumentError("subject key is required");
  return IssueLeafImpl(nullptr, subject_key, p);
}

absl::StatusOr<X509Ptr> X509Issuer::IssueLeafImpl(const X509_PUBKEY* encoded,
                                                  const EVP_PKEY* decoded,
                                                  const LeafParams& p) const {
  if (p.id.path().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("X.509-SVID SPIFFE ID must have a non-root path: \"", p.id.ToString(), "\""));
  }
  if (p.ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("ttl must be positive");
  if (not_after_ <= p.now) return absl::FailedPreconditionError("issuer certificate has expired");
  const absl::Time not_after = std::min(p.now + p.ttl, not_after_);

  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpensslError("X509_new");
  X509* c = cert.get();
  if (X509_set_version(c, X509_VERSION_3) != 1) return OpensslError("setting version");
  // Serial: 128 random bits, top bit cleared (positive, B18), minimal DER.
  unsigned char serial[kSerialBytes];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpensslError("RAND_bytes");
  serial[0] &= 0x7f;
  size_t skip = 0;
  while (skip + 1 < sizeof(serial) && serial[skip] == 0) ++skip;
  if (serial[skip] == 0) serial[skip] = 1;
  if (ASN1_STRING_set(X509_get_serialNumber(c), serial + skip,
                      static_cast<int>(sizeof(serial) - skip)) != 1) {
    return OpensslError("setting serial");
  }
  RETURN_IF_ERROR(SetValidity(c, p.now - kNotBeforeBackdate, not_after));
  // A non-empty subject (O=SPIFFE) keeps the SAN extension non-critical (B3).
  if (p.dns_names.empty() || p.dns_names.front().size() > kMaxCommonNameLength) {
    if (X509_set_subject_name(c, spiffe_subject_.get()) != 1) return OpensslError("setting name");
  } else {
    X509NamePtr name(X509_NAME_dup(spiffe_subject_.get()));
    const std::string& cn = p.dns_names.front();
    if (name == nullptr ||
        X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.data()),
                                   static_cast<int>(cn.size()), -1, 0) != 1) {
      return OpensslError("adding CN to name", absl::StatusCode::kInvalidArgument);
    }
    if (X509_set_subject_name(c, name.get()) != 1) return OpensslError("setting name");
  }
  if (X509_set_issuer_name(c, X509_get_subject_name(cert_.get())) != 1) {
    return OpensslError("setting names");
  }
  if (decoded != nullptr) {
    // X509_set_pubkey takes its own reference; it does not modify the key.
    if (X509_set_pubkey(c, const_cast<EVP_PKEY*>(decoded)) != 1) {
      return OpensslError("setting public key", absl::StatusCode::kInvalidArgument);
    }
  } else {
    RETURN_IF_ERROR(CopyPublicKey(c, encoded));
  }
  ASN1_OBJECT* key_alg = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  if (X509_PUBKEY_get0_param(&key_alg, &bits, &bits_len, nullptr, X509_get_X509_PUBKEY(c)) != 1 ||
      bits == nullptr) {
    return OpensslError("reading subject public key", absl::StatusCode::kInvalidArgument);
  }
  const bool rsa = OBJ_obj2nid(key_alg) == NID_rsaEncryption;

  RETURN_IF_ERROR(AddExt(c, basic_constraints_.get()));
  // keyEncipherment only makes sense for RSA, keyAgreement only for EC.
  RETURN_IF_ERROR(AddExt(c, rsa ? key_usage_rsa_.get() : key_usage_ec_.get()));
  RETURN_IF_ERROR(AddExt(c, ext_key_usage_.get()));
  // SKI: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1), as
  // the "hash" keyword computes it.
  unsigned char ski[EVP_MAX_MD_SIZE];
  unsigned int ski_len = 0;
  if (EVP_Digest(bits, static_cast<size_t>(bits_len), ski, &ski_len, sha1_, nullptr) != 1) {
    return OpensslError("hashing subject key");
  }
  Asn1OctetStringPtr ski_str(ASN1_OCTET_STRING_new());
  if (ski_str == nullptr ||
      ASN1_OCTET_STRING_set(ski_str.get(), ski, static_cast<int>(ski_len)) != 1 ||
      X509_add1_ext_i2d(c, NID_subject_key_identifier, ski_str.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpensslError("adding subjectKeyIdentifier");
  }
  RETURN_IF_ERROR(AddExt(c, aki_.get()));
  ASSIGN_OR_RETURN(GeneralNamesPtr sans, BuildSans(p.id.ToString(), p.dns_names));
  if (X509_add1_ext_i2d(c, NID_subject_alt_name, sans.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpensslError("adding subjectAltName");
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_MD_CTX_copy_ex(ctx.get(), sign_template_.get()) != 1) {
    return OpensslError("copying signing context");
  }
  if (X509_sign_ctx(c, ctx.get()) <= 0) return OpensslError("signing certificate");
  return cert;
}

absl::Status X509Issuer::VerifyLeafSignature(const X509* leaf, absl::string_view leaf_der) const {
  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* sig_alg = nullptr;
  X509_get0_signature(&sig, &sig_alg, leaf);
  const ASN1_OBJECT* alg_obj = nullptr;
  if (sig == nullptr || sig_alg == nullptr) {
    return absl::PermissionDeniedError("X.509-SVID has no signature");
  }
  X509_ALGOR_get0(&alg_obj, nullptr, nullptr, sig_alg);
  if (OBJ_obj2nid(alg_obj) != sig_nid_ || X509_get_signature_nid(leaf) != sig_nid_) {
    return absl::PermissionDeniedError("X.509-SVID signature algorithm does not match its issuer");
  }
  const unsigned char* tbs = nullptr;
  size_t tbs_len = 0;
  OpensslBytesPtr owned;
  if (!leaf_der.empty()) {
    // Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, ... }: the
    // signed bytes are the first element, header included.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(leaf_der.data());
    const unsigned char* const end = p + leaf_der.size();
    const unsigned char* next = nullptr;
    long len = 0;
    if (!Tlv(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, true, &len, &next) || next != end) {
      return absl::InvalidArgumentError("X.509-SVID DER does not parse");
    }
    tbs = p;
    if (!Tlv(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, true, &len, &next)) {
      return absl::InvalidArgumentError("X.509-SVID DER does not parse");
    }
    tbs_len = static_cast<size_t>(next - tbs);
  } else {
    unsigned char* enc = nullptr;
    const int enc_len = i2d_re_X509_tbs(const_cast<X509*>(leaf), &enc);
    if (enc_len <= 0) return OpensslError("encoding TBSCertificate");
    owned.reset(enc);
    tbs = enc;
    tbs_len = static_cast<size_t>(enc_len);
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_MD_CTX_copy_ex(ctx.get(), verify_template_.get()) != 1) {
    return OpensslError("copying verification context");
  }
  if (EVP_DigestVerify(ctx.get(), ASN1_STRING_get0_data(sig),
                       static_cast<size_t>(ASN1_STRING_length(sig)), tbs, tbs_len) != 1) {
    ClearOpensslErrors();
    return absl::PermissionDeniedError(
        "X.509-SVID verification failed: certificate signature failure");
  }
  return absl::OkStatus();
}

absl::StatusOr<SpiffeId> VerifyIssuedX509Svid(const X509* leaf, const X509Issuer& issuer,
                                              const BundleSet& bundles, absl::Time now,
                                              absl::string_view leaf_der) {
  if (leaf == nullptr) return absl::InvalidArgumentError("certificate chain is empty");
  ASSIGN_OR_RETURN(SpiffeId id, CheckLeafProfile(leaf));
  const Bundle* bundle = bundles.Find(id.trust_domain());
  if (bundle == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("no bundle for trust domain \"", id.trust_domain().name(), "\""));
  }
  const X509* ca = issuer.cert();
  bool trusted = false;
  for (const X509Ptr& a : bundle->x509_authorities()) {
    if (a.get() == ca || X509_cmp(a.get(), ca) == 0) {
      trusted = true;
      break;
    }
  }
  if (!trusted) {
    return absl::PermissionDeniedError(
        "X.509-SVID verification failed: issuer is not an authority of the bundle");
  }
  int rc = X509_check_issued(const_cast<X509*>(ca), const_cast<X509*>(leaf));
  if (rc != X509_V_OK) {
    return absl::PermissionDeniedError(
        absl::StrCat("X.509-SVID verification failed: ", X509_verify_cert_error_string(rc)));
  }
  const absl::Time t = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
  const absl::Time leaf_nb = CertNotBefore(leaf), leaf_na = CertNotAfter(leaf);
  const absl::Time ca_nb = CertNotBefore(ca), ca_na = CertNotAfter(ca);
  if (t < leaf_nb || t < ca_nb) {
    return absl::PermissionDeniedError(
        "X.509-SVID verification failed: certificate is not yet valid");
  }
  if (t > leaf_na || t > ca_na) {
    return absl::PermissionDeniedError("X.509-SVID verification failed: certificate has expired");
  }
  if (leaf_nb < ca_nb || leaf_na > ca_na) {
    return absl::PermissionDeniedError(
        "X.509-SVID verification failed: validity is not within the issuer's");
  }
  RETURN_IF_ERROR(issuer.VerifyLeafSignature(leaf, leaf_der));
  return id;
}

}  // namespace signet