#include "common/x509.h"

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
namespace x509_internal {
namespace {

using GeneralNamePtr =
    std::unique_ptr<GENERAL_NAME, OpensslDeleter<GENERAL_NAME, GENERAL_NAME_free>>;

// PushName appends a URI or DNS general name to `names`.
absl::Status PushName(GENERAL_NAMES* names, int type, absl::string_view value) {
  GeneralNamePtr gn(GENERAL_NAME_new());
  ASN1_IA5STRING* str = ASN1_IA5STRING_new();
  if (gn == nullptr || str == nullptr) {
    ASN1_IA5STRING_free(str);
    return OpensslError("allocating general name");
  }
  if (ASN1_STRING_set(str, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(str);
    return OpensslError("setting general name");
  }
  GENERAL_NAME_set0_value(gn.get(), type, str);
  if (sk_GENERAL_NAME_push(names, gn.get()) == 0) return OpensslError("pushing general name");
  gn.release();
  return absl::OkStatus();
}

}  // namespace

// BuildName returns a name with O=`org` (when set) and CN=`cn` (when set and
// short enough). Internal on failure.
absl::StatusOr<X509NamePtr> BuildName(absl::string_view org, absl::string_view cn) {
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr) return OpensslError("X509_NAME_new");
  auto add = [&](const char* field, absl::string_view value) -> absl::Status {
    if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return OpensslError(absl::StrCat("adding ", field, " to name"),
                          absl::StatusCode::kInvalidArgument);
    }
    return absl::OkStatus();
  };
  if (!org.empty()) RETURN_IF_ERROR(add("O", org));
  if (!cn.empty() && cn.size() <= kMaxCommonNameLength) RETURN_IF_ERROR(add("CN", cn));
  return name;
}

// BuildSans returns a GENERAL_NAMES with URI `uri` then DNS `dns_names`.
absl::StatusOr<GeneralNamesPtr> BuildSans(absl::string_view uri,
                                          const std::vector<std::string>& dns_names) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (names == nullptr) return OpensslError("GENERAL_NAMES_new");
  RETURN_IF_ERROR(PushName(names.get(), GEN_URI, uri));
  for (const std::string& dns : dns_names) {
    for (char c : dns) {
      if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
        return absl::InvalidArgumentError(absl::StrCat("invalid DNS name \"", dns, "\""));
      }
    }
    if (dns.empty()) return absl::InvalidArgumentError("empty DNS name");
    RETURN_IF_ERROR(PushName(names.get(), GEN_DNS, dns));
  }
  return names;
}

// DigestFor picks the signature digest for an issuer key: SHA-384 for P-384,
// SHA-256 otherwise.
const EVP_MD* DigestFor(const EVP_PKEY* key) {
  absl::StatusOr<KeyType> t = KeyTypeOf(key);
  if (t.ok() && *t == KeyType::kEcP384) return EVP_sha384();
  return EVP_sha256();
}

// Asn1TimeToTime converts an ASN.1 time; InfinitePast when it is unreadable.
absl::Time Asn1TimeToTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ClearOpensslErrors();
    return absl::InfinitePast();
  }
  return absl::FromTM(tm, absl::UTCTimeZone());
}

// CheckLeafProfile runs the leaf checks of an X.509-SVID (B1, B2, B4/B10,
// B6/B13) and returns its SPIFFE ID; InvalidArgument naming the defect.
absl::StatusOr<SpiffeId> CheckLeafProfile(const X509* cert) {
  X509* leaf = const_cast<X509*>(cert);  // extension flags are cached in place
  ASSIGN_OR_RETURN(SpiffeId id, SpiffeIdFromCert(leaf));
  if (id.path().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "leaf certificate SPIFFE ID must have a non-root path: \"", id.ToString(), "\""));
  }
  const uint32_t flags = X509_get_extension_flags(leaf);
  if ((flags & EXFLAG_CA) != 0) {
    return absl::InvalidArgumentError("leaf certificate must not be a CA");
  }
  if ((flags & EXFLAG_KUSAGE) == 0) {
    return absl::InvalidArgumentError("leaf certificate must have a keyUsage extension");
  }
  const uint32_t ku = X509_get_key_usage(leaf);
  if ((ku & KU_DIGITAL_SIGNATURE) == 0) {
    return absl::InvalidArgumentError(
        "leaf certificate must have 'digitalSignature' set as key usage");
  }
  if ((ku & KU_KEY_CERT_SIGN) != 0) {
    return absl::InvalidArgumentError(
        "leaf certificate must not have 'keyCertSign' set as key usage");
  }
  if ((ku & KU_CRL_SIGN) != 0) {
    return absl::InvalidArgumentError("leaf certificate must not have 'cRLSign' set as key usage");
  }
  return id;
}

}  // namespace x509_internal

using x509_internal::Asn1TimeToTime;
using x509_internal::BuildName;
using x509_internal::BuildSans;
using x509_internal::CheckLeafProfile;
using x509_internal::DigestFor;

absl::StatusOr<std::string> CreateCsrDer(const EVP_PKEY* key, const SpiffeId* id) {
  if (key == nullptr) return absl::InvalidArgumentError("key is required");
  X509ReqPtr req(X509_REQ_new());
  if (req == nullptr) return OpensslError("X509_REQ_new");
  if (X509_REQ_set_version(req.get(), 0) != 1) return OpensslError("setting CSR version");
  ASSIGN_OR_RETURN(X509NamePtr name, BuildName("SPIFFE", ""));
  if (X509_REQ_set_subject_name(req.get(), name.get()) != 1) {
    return OpensslError("setting CSR subject");
  }
  if (X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(key)) != 1) {
    return OpensslError("setting CSR key", absl::StatusCode::kInvalidArgument);
  }
  if (id != nullptr) {
    ASSIGN_OR_RETURN(GeneralNamesPtr sans, BuildSans(id->ToString(), {}));
    X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
    if (exts == nullptr) return OpensslError("allocating CSR extensions");
    X509ExtensionPtr ext(X509V3_EXT_i2d(NID_subject_alt_name, 0, sans.get()));
    if (ext == nullptr) return OpensslError("encoding CSR subjectAltName");
    if (sk_X509_EXTENSION_push(exts.get(), ext.get()) == 0) {
      return OpensslError("pushing CSR extension");
    }
    ext.release();
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
      return OpensslError("adding CSR extensions");
    }
  }
  if (X509_REQ_sign(req.get(), const_cast<EVP_PKEY*>(key), DigestFor(key)) <= 0) {
    return OpensslError("signing CSR");
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return OpensslError("encoding CSR");
  OpensslBytesPtr owned(der);
  return std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
}

absl::StatusOr<std::string> CertToDer(const X509* cert) {
  if (cert == nullptr) return absl::InvalidArgumentError("null certificate");
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return OpensslError("encoding certificate");
  OpensslBytesPtr owned(der);
  return std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
}

absl::StatusOr<std::string> CertToPem(const X509* cert) {
  if (cert == nullptr) return absl::InvalidArgumentError("null certificate");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return OpensslError("BIO_new");
  if (PEM_write_bio_X509(bio.get(), cert) != 1) return OpensslError("writing certificate PEM");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return OpensslError("reading certificate PEM");
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<X509Ptr> ParseCertDer(absl::string_view der) {
  if (der.empty()) return absl::InvalidArgumentError("empty certificate DER");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr) {
    return OpensslError("certificate DER does not parse", absl::StatusCode::kInvalidArgument);
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("certificate DER has trailing data");
  }
  return cert;
}

absl::StatusOr<std::vector<X509Ptr>> ParseCertsDer(absl::string_view der) {
  if (der.empty()) return absl::InvalidArgumentError("empty certificate DER");
  std::vector<X509Ptr> out;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = p + der.size();
  while (p < end) {
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(end - p)));
    if (cert == nullptr) {
      return OpensslError(absl::StrCat("certificate ", out.size(), " in DER does not parse"),
                          absl::StatusCode::kInvalidArgument);
    }
    out.push_back(std::move(cert));
  }
  return out;
}

absl::StatusOr<std::vector<X509Ptr>> ParseCertsPem(absl::string_view pem) {
  if (pem.empty()) return absl::InvalidArgumentError("empty certificate PEM");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return OpensslError("BIO_new_mem_buf");
  std::vector<X509Ptr> out;
  ClearOpensslErrors();
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) {
      unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ClearOpensslErrors();
        break;
      }
      return OpensslError(absl::StrCat("certificate ", out.size(), " in PEM does not parse"),
                          absl::StatusCode::kInvalidArgument);
    }
    out.push_back(std::move(cert));
  }
  if (out.empty()) return absl::InvalidArgumentError("no CERTIFICATE block in PEM");
  return out;
}

X509Ptr CopyCert(const X509* cert) {
  if (cert == nullptr) return nullptr;
  X509* c = const_cast<X509*>(cert);
  X509_up_ref(c);
  return X509Ptr(c);
}

absl::Time CertNotBefore(const X509* cert) { return Asn1TimeToTime(X509_get0_notBefore(cert)); }

absl::Time CertNotAfter(const X509* cert) { return Asn1TimeToTime(X509_get0_notAfter(cert)); }

std::string CertSerialHex(const X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (bn == nullptr) {
    ClearOpensslErrors();
    return std::string();
  }
  OpensslStringPtr hex(BN_bn2hex(bn.get()));
  if (hex == nullptr) {
    ClearOpensslErrors();
    return std::string();
  }
  return absl::AsciiStrToLower(hex.get());
}

bool CertIsCa(const X509* cert) {
  if (cert == nullptr) return false;
  // X509_get_extension_flags caches the parsed extensions; the prototype is
  // not const.
  return (X509_get_extension_flags(const_cast<X509*>(cert)) & EXFLAG_CA) != 0;
}

absl::StatusOr<SpiffeId> SpiffeIdFromCert(const X509* cert) {
  if (cert == nullptr) return absl::InvalidArgumentError("null certificate");
  int crit = 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  if (names == nullptr) {
    if (crit == -2) {
      return absl::InvalidArgumentError("certificate has more than one subjectAltName extension");
    }
    if (crit >= 0) {
      return OpensslError("certificate subjectAltName is invalid",
                          absl::StatusCode::kInvalidArgument);
    }
    return absl::InvalidArgumentError("certificate must have exactly one URI SAN, found 0");
  }
  const ASN1_IA5STRING* uri = nullptr;
  int count = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    ++count;
    uri = gn->d.uniformResourceIdentifier;
  }
  if (count != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate must have exactly one URI SAN, found ", count));
  }
  absl::string_view s(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(s);
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate URI SAN is not a valid SPIFFE ID: ", id.status().message()));
  }
  return id;
}

absl::StatusOr<SpiffeId> VerifyX509Svid(const std::vector<X509Ptr>& chain, const BundleSet& bundles,
                                        absl::Time now) {
  if (chain.empty() || chain.front() == nullptr) {
    return absl::InvalidArgumentError("certificate chain is empty");
  }
  X509* leaf = chain.front().get();
  // Leaf checks (B1, B2, B4/B10, B6/B13) come first: they do not depend on
  // which bundle is trusted.
  ASSIGN_OR_RETURN(SpiffeId id, CheckLeafProfile(leaf));

  // B14: only the bundle of the leaf's own trust domain is trusted.
  const Bundle* bundle = bundles.Find(id.trust_domain());
  if (bundle == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("no bundle for trust domain \"", id.trust_domain().name(), "\""));
  }
  if (bundle->x509_authorities().empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "bundle for trust domain \"", id.trust_domain().name(), "\" has no X.509 authorities"));
  }

  X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || untrusted == nullptr || ctx == nullptr) {
    return OpensslError("allocating verification context");
  }
  for (const X509Ptr& ca : bundle->x509_authorities()) {
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {
      return OpensslError("adding trust anchor");
    }
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (chain[i] == nullptr) return absl::InvalidArgumentError("null certificate in chain");
    if (!X509_add_cert(untrusted.get(), chain[i].get(), X509_ADD_FLAG_UP_REF)) {
      return OpensslError("adding intermediate");
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get()) != 1) {
    return OpensslError("initialising verification context");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  // Every bundle authority is a trust anchor, self-signed or not (as in
  // go-spiffe, whose roots pool has the same semantics).
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT | X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ClearOpensslErrors();
    return absl::PermissionDeniedError(
        absl::StrCat("X.509-SVID verification failed: ", X509_verify_cert_error_string(err)));
  }
  return id;
}

}  // namespace signet
