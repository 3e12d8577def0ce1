#include "common/x509.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/bundle.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fixed "now" keeps validity arithmetic exact (whole seconds).
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TrustDomain Td(absl::string_view name) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString(name);
  EXPECT_TRUE(td.ok()) << td.status();
  return *std::move(td);
}

SpiffeId Id(absl::string_view s) {
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(s);
  EXPECT_TRUE(id.ok()) << id.status();
  return *std::move(id);
}

EvpPkeyPtr Key(KeyType t = KeyType::kEcP256) {
  absl::StatusOr<EvpPkeyPtr> k = GenerateKey(t);
  EXPECT_TRUE(k.ok()) << k.status();
  return *std::move(k);
}

struct TestCa {
  EvpPkeyPtr key;
  X509Ptr cert;
};

// CaP / LeafP fill every field (the structs have no default constructor).
CaParams CaP(absl::string_view td, absl::Time now = kNow, absl::Duration ttl = absl::Hours(24)) {
  return CaParams{Td(td), "Signet CA", "SPIFFE", now, ttl};
}
LeafParams LeafP(absl::string_view id, absl::Time now = kNow, absl::Duration ttl = absl::Hours(1)) {
  return LeafParams{Id(id), {}, now, ttl};
}

TestCa MakeRoot(absl::string_view td, absl::Time now = kNow,
                absl::Duration ttl = absl::Hours(24 * 100), KeyType t = KeyType::kEcP256) {
  TestCa ca{Key(t), nullptr};
  CaParams p = CaP(td);
  p.now = now;
  p.ttl = ttl;
  absl::StatusOr<X509Ptr> cert = CreateSelfSignedCa(ca.key.get(), p);
  EXPECT_TRUE(cert.ok()) << cert.status();
  if (cert.ok()) ca.cert = *std::move(cert);
  return ca;
}

X509Ptr MakeLeaf(const TestCa& ca, absl::string_view id, absl::Time now = kNow,
                 absl::Duration ttl = absl::Hours(1), const EVP_PKEY* key = nullptr) {
  EvpPkeyPtr own;
  if (key == nullptr) {
    own = Key();
    key = own.get();
  }
  LeafParams p = LeafP(id);
  p.now = now;
  p.ttl = ttl;
  absl::StatusOr<X509Ptr> leaf = IssueLeaf(ca.cert.get(), ca.key.get(), key, p);
  EXPECT_TRUE(leaf.ok()) << leaf.status();
  return leaf.ok() ? *std::move(leaf) : nullptr;
}

BundleSet Bundles(std::vector<std::pair<std::string, const X509*>> cas) {
  BundleSet set;
  std::map<std::string, Bundle> by_td;
  for (auto& [td, cert] : cas) {
    auto it = by_td.try_emplace(td, Td(td)).first;
    it->second.AddX509Authority(CopyCert(cert));
  }
  for (auto& [td, b] : by_td) set.Put(std::move(b));
  return set;
}

std::vector<X509Ptr> Chain(std::initializer_list<const X509*> certs) {
  std::vector<X509Ptr> out;
  for (const X509* c : certs) out.push_back(CopyCert(c));
  return out;
}

int ExtCount(const X509* cert, int nid) {
  int n = 0;
  for (int i = X509_get_ext_by_NID(cert, nid, -1); i >= 0; i = X509_get_ext_by_NID(cert, nid, i)) {
    ++n;
  }
  return n;
}

bool ExtCritical(const X509* cert, int nid) {
  int i = X509_get_ext_by_NID(cert, nid, -1);
  return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, i)) == 1;
}

uint32_t Flags(const X509* cert) { return X509_get_extension_flags(const_cast<X509*>(cert)); }

std::string NameEntry(const X509_NAME* name, int nid) {
  char buf[256];
  int n = X509_NAME_get_text_by_NID(name, nid, buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

bool SerialPositive(const X509* cert) {
  const ASN1_INTEGER* s = X509_get0_serialNumber(cert);
  BignumPtr bn(ASN1_INTEGER_to_BN(s, nullptr));
  return ASN1_STRING_type(s) == V_ASN1_INTEGER && bn != nullptr && !BN_is_negative(bn.get()) &&
         !BN_is_zero(bn.get());
}

// ---------------------------------------------------------------------------
// Test-only builder for certificates with arbitrary (possibly invalid)
// extensions, written in openssl.cnf syntax.
struct CustomCert {
  std::vector<std::pair<int, std::string>> extensions;  // (nid, "critical,...")
  absl::Time not_before = kNow - absl::Seconds(10);
  absl::Time not_after = kNow + absl::Hours(1);
};

X509Ptr BuildCustomCert(const TestCa& ca, const EVP_PKEY* subject_key, const CustomCert& spec) {
  X509Ptr cert(X509_new());
  EXPECT_EQ(X509_set_version(cert.get(), X509_VERSION_3), 1);
  Asn1IntegerPtr serial(ASN1_INTEGER_new());
  ASN1_INTEGER_set_int64(serial.get(), 4242);
  X509_set_serialNumber(cert.get(), serial.get());
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(spec.not_after));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("SPIFFE"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get()));
  X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(subject_key));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : spec.extensions) {
    X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
    EXPECT_NE(ext, nullptr) << OBJ_nid2sn(nid) << " = " << value;
    if (ext != nullptr) X509_add_ext(cert.get(), ext.get(), -1);
  }
  EXPECT_GT(X509_sign(cert.get(), ca.key.get(), EVP_sha256()), 0);
  return cert;
}

// GoodLeafExtensions is a valid X.509-SVID extension set for `uri_sans`
// (e.g. "URI:spiffe://td/x"); tests change one thing at a time.
std::vector<std::pair<int, std::string>> GoodLeafExtensions(const std::string& sans) {
  return {{NID_basic_constraints, "critical,CA:FALSE"},
          {NID_key_usage, "critical,digitalSignature,keyAgreement"},
          {NID_ext_key_usage, "serverAuth,clientAuth"},
          {NID_subject_key_identifier, "hash"},
          {NID_authority_key_identifier, "keyid:always"},
          {NID_subject_alt_name, sans}};
}

void Replace(std::vector<std::pair<int, std::string>>* exts, int nid, const std::string& value) {
  for (auto& e : *exts) {
    if (e.first == nid) e.second = value;
  }
}

class VerifyTest : public ::testing::Test {
 protected:
  TestCa root_ = MakeRoot("example.org");
  EvpPkeyPtr leaf_key_ = Key();
  BundleSet bundles_ = Bundles({{"example.org", root_.cert.get()}});

  absl::StatusOr<SpiffeId> VerifyCustom(const CustomCert& spec) {
    X509Ptr cert = BuildCustomCert(root_, leaf_key_.get(), spec);
    return VerifyX509Svid(Chain({cert.get()}), bundles_, kNow);
  }
};

// ---------------------------------------------------------------------------
// CA certificates.

TEST(CaTest, SelfSignedCaHasRequiredExtensions) {
  TestCa ca = MakeRoot("example.org", kNow, absl::Hours(24));
  X509* c = ca.cert.get();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(X509_get_version(c), X509_VERSION_3);
  EXPECT_TRUE(CertIsCa(c));
  EXPECT_EQ(ExtCount(c, NID_basic_constraints), 1);
  EXPECT_TRUE(ExtCritical(c, NID_basic_constraints));
  EXPECT_EQ(ExtCount(c, NID_key_usage), 1);
  EXPECT_TRUE(ExtCritical(c, NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(c),
            static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(ExtCount(c, NID_subject_key_identifier), 1);
  EXPECT_NE(X509_get0_subject_key_id(c), nullptr);
  EXPECT_EQ(ExtCount(c, NID_subject_alt_name), 1);
  EXPECT_EQ(Flags(c) & EXFLAG_SS, static_cast<uint32_t>(EXFLAG_SS));
  EXPECT_EQ(Flags(c) & EXFLAG_INVALID, 0u);
  absl::StatusOr<SpiffeId> id = SpiffeIdFromCert(c);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org");
  EXPECT_EQ(NameEntry(X509_get_subject_name(c), NID_organizationName), "SPIFFE");
  EXPECT_EQ(NameEntry(X509_get_subject_name(c), NID_commonName), "Signet CA");
  EXPECT_TRUE(SerialPositive(c));
  EXPECT_EQ(CertNotBefore(c), kNow - absl::Seconds(10));
  EXPECT_EQ(CertNotAfter(c), kNow + absl::Hours(24));
  EXPECT_EQ(X509_verify(c, X509_get0_pubkey(c)), 1);
}

TEST(CaTest, SignatureDigestFollowsIssuerKey) {
  TestCa p256 = MakeRoot("example.org", kNow, absl::Hours(1), KeyType::kEcP256);
  TestCa p384 = MakeRoot("example.org", kNow, absl::Hours(1), KeyType::kEcP384);
  TestCa rsa = MakeRoot("example.org", kNow, absl::Hours(1), KeyType::kRsa2048);
  EXPECT_EQ(X509_get_signature_nid(p256.cert.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_get_signature_nid(p384.cert.get()), NID_ecdsa_with_SHA384);
  EXPECT_EQ(X509_get_signature_nid(rsa.cert.get()), NID_sha256WithRSAEncryption);
  X509Ptr leaf = MakeLeaf(p384, "spiffe://example.org/w");
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA384);
}

TEST(CaTest, IntermediateCaIsCappedAndHasAki) {
  TestCa root = MakeRoot("example.org", kNow, absl::Hours(2));
  EvpPkeyPtr key = Key();
  CaParams p = CaP("example.org");
  p.now = kNow;
  p.ttl = absl::Hours(10);
  p.common_name = "Intermediate";
  absl::StatusOr<X509Ptr> inter =
      CreateIntermediateCa(root.cert.get(), root.key.get(), key.get(), p);
  ASSERT_TRUE(inter.ok()) << inter.status();
  X509* c = inter->get();
  EXPECT_TRUE(CertIsCa(c));
  EXPECT_EQ(CertNotAfter(c), CertNotAfter(root.cert.get()));
  ASSERT_NE(X509_get0_authority_key_id(c), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(c),
                                  X509_get0_subject_key_id(root.cert.get())),
            0);
  EXPECT_EQ(X509_check_issued(root.cert.get(), c), X509_V_OK);
  EXPECT_EQ(NameEntry(X509_get_subject_name(c), NID_commonName), "Intermediate");
}

TEST(CaTest, RejectsZeroTtl) {
  EvpPkeyPtr key = Key();
  CaParams p = CaP("example.org");
  p.now = kNow;
  p.ttl = absl::ZeroDuration();
  absl::StatusOr<X509Ptr> c = CreateSelfSignedCa(key.get(), p);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "ttl must be positive");
}

// ---------------------------------------------------------------------------
// Leaves.

TEST(LeafTest, HasSvidExtensions) {
  TestCa ca = MakeRoot("example.org");
  EvpPkeyPtr key = Key();
  LeafParams p = LeafP("spiffe://example.org/ns/prod/web");
  p.now = kNow;
  p.ttl = absl::Hours(1);
  p.dns_names = {"web.example.org", "web"};
  absl::StatusOr<X509Ptr> leaf = IssueLeaf(ca.cert.get(), ca.key.get(), key.get(), p);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  X509* c = leaf->get();

  // Exactly one URI SAN (B1), DNS SANs kept, SAN non-critical with a subject.
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(c, NID_subject_alt_name, nullptr, nullptr)));
  ASSERT_NE(names, nullptr);
  std::vector<std::string> uris, dns;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    const ASN1_IA5STRING* s = gn->type == GEN_URI   ? gn->d.uniformResourceIdentifier
                              : gn->type == GEN_DNS ? gn->d.dNSName
                                                    : nullptr;
    ASSERT_NE(s, nullptr);
    std::string v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                  static_cast<size_t>(ASN1_STRING_length(s)));
    (gn->type == GEN_URI ? uris : dns).push_back(v);
  }
  EXPECT_THAT(uris, ElementsAre("spiffe://example.org/ns/prod/web"));
  EXPECT_THAT(dns, ElementsAre("web.example.org", "web"));
  EXPECT_FALSE(ExtCritical(c, NID_subject_alt_name));
  EXPECT_EQ(NameEntry(X509_get_subject_name(c), NID_organizationName), "SPIFFE");
  EXPECT_EQ(NameEntry(X509_get_subject_name(c), NID_commonName), "web.example.org");

  // keyUsage critical, digitalSignature, never keyCertSign/cRLSign (B5, B6).
  EXPECT_TRUE(ExtCritical(c, NID_key_usage));
  uint32_t ku = X509_get_key_usage(c);
  EXPECT_NE(ku & KU_DIGITAL_SIGNATURE, 0u);
  EXPECT_NE(ku & KU_KEY_AGREEMENT, 0u);
  EXPECT_EQ(ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_KEY_ENCIPHERMENT), 0u);
  // EKU serverAuth + clientAuth (B7).
  EXPECT_EQ(X509_get_extended_key_usage(c), static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  // basicConstraints critical CA:FALSE (B4).
  EXPECT_EQ(ExtCount(c, NID_basic_constraints), 1);
  EXPECT_TRUE(ExtCritical(c, NID_basic_constraints));
  EXPECT_FALSE(CertIsCa(c));
  // AKI = issuer SKI, SKI present.
  ASSERT_NE(X509_get0_subject_key_id(c), nullptr);
  ASSERT_NE(X509_get0_authority_key_id(c), nullptr);
  EXPECT_EQ(
      ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(c), X509_get0_subject_key_id(ca.cert.get())),
      0);
  // Strict DER: every extension once.
  for (int i = 0; i < X509_get_ext_count(c); ++i) {
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(c, i)));
    EXPECT_EQ(ExtCount(c, nid), 1) << OBJ_nid2sn(nid);
  }
  EXPECT_EQ(Flags(c) & EXFLAG_INVALID, 0u);
  EXPECT_TRUE(SerialPositive(c));
  EXPECT_FALSE(CertSerialHex(c).empty());
  EXPECT_NE(CertSerialHex(c)[0], '-');
  EXPECT_EQ(CertNotBefore(c), kNow - absl::Seconds(10));
  EXPECT_EQ(CertNotAfter(c), kNow + absl::Hours(1));
  EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(c), key.get()));
  EXPECT_EQ(X509_verify(c, X509_get0_pubkey(ca.cert.get())), 1);

  absl::StatusOr<SpiffeId> id =
      VerifyX509Svid(Chain({c}), Bundles({{"example.org", ca.cert.get()}}), kNow);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/ns/prod/web");
}

TEST(LeafTest, RsaLeafHasKeyEncipherment) {
  TestCa ca = MakeRoot("example.org", kNow, absl::Hours(24), KeyType::kRsa2048);
  EvpPkeyPtr key = Key(KeyType::kRsa2048);
  X509Ptr leaf = MakeLeaf(ca, "spiffe://example.org/rsa", kNow, absl::Hours(1), key.get());
  ASSERT_NE(leaf, nullptr);
  uint32_t ku = X509_get_key_usage(leaf.get());
  EXPECT_EQ(ku, static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_sha256WithRSAEncryption);
}

TEST(LeafTest, SerialsAreRandom) {
  TestCa ca = MakeRoot("example.org");
  X509Ptr a = MakeLeaf(ca, "spiffe://example.org/a");
  X509Ptr b = MakeLeaf(ca, "spiffe://example.org/a");
  EXPECT_NE(CertSerialHex(a.get()), CertSerialHex(b.get()));
  EXPECT_LE(CertSerialHex(a.get()).size(), 32u);
}

TEST(LeafTest, NotAfterCappedAtIssuerNotAfter) {
  TestCa ca = MakeRoot("example.org", kNow, absl::Hours(2));
  X509Ptr leaf = MakeLeaf(ca, "spiffe://example.org/w", kNow, absl::Hours(10));
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(CertNotAfter(leaf.get()), CertNotAfter(ca.cert.get()));
  EXPECT_EQ(CertNotAfter(leaf.get()), kNow + absl::Hours(2));
}

TEST(LeafTest, LongDnsNameIsNotTheCommonName) {
  TestCa ca = MakeRoot("example.org");
  EvpPkeyPtr key = Key();
  LeafParams p = LeafP("spiffe://example.org/w");
  p.now = kNow;
  p.dns_names = {std::string(70, 'a') + ".example.org"};
  absl::StatusOr<X509Ptr> leaf = IssueLeaf(ca.cert.get(), ca.key.get(), key.get(), p);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(NameEntry(X509_get_subject_name(leaf->get()), NID_commonName), "");
  EXPECT_EQ(NameEntry(X509_get_subject_name(leaf->get()), NID_organizationName), "SPIFFE");
}

TEST(LeafTest, RejectsRootPathId) {
  TestCa ca = MakeRoot("example.org");
  EvpPkeyPtr key = Key();
  LeafParams p = LeafP("spiffe://example.org");
  p.now = kNow;
  absl::StatusOr<X509Ptr> leaf = IssueLeaf(ca.cert.get(), ca.key.get(), key.get(), p);
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(leaf.status().message()), HasSubstr("must have a non-root path"));
}

TEST(LeafTest, RejectsExpiredIssuer) {
  TestCa ca = MakeRoot("example.org", kNow, absl::Hours(1));
  EvpPkeyPtr key = Key();
  LeafParams p = LeafP("spiffe://example.org/w");
  p.now = kNow + absl::Hours(2);
  absl::StatusOr<X509Ptr> leaf = IssueLeaf(ca.cert.get(), ca.key.get(), key.get(), p);
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(leaf.status().message(), "issuer certificate has expired");
}

TEST(LeafTest, RejectsMismatchedIssuerKey) {
  TestCa ca = MakeRoot("example.org");
  EvpPkeyPtr other = Key();
  LeafParams p = LeafP("spiffe://example.org/w");
  p.now = kNow;
  absl::StatusOr<X509Ptr> leaf = IssueLeaf(ca.cert.get(), other.get(), other.get(), p);
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(leaf.status().message(), "issuer key does not match the issuer certificate");
}

TEST(LeafTest, RejectsNonCaIssuer) {
  TestCa ca = MakeRoot("example.org");
  EvpPkeyPtr key = Key();
  X509Ptr leaf = MakeLeaf(ca, "spiffe://example.org/w", kNow, absl::Hours(1), key.get());
  LeafParams p = LeafP("spiffe://example.org/x");
  p.now = kNow;
  absl::StatusOr<X509Ptr> bad = IssueLeaf(leaf.get(), key.get(), key.get(), p);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "issuer certificate is not a CA");
}

// ---------------------------------------------------------------------------
// CSRs.

TEST(CsrTest, RoundTripWithUriSan) {
  EvpPkeyPtr key = Key();
  SpiffeId id = Id("spiffe://example.org/agent");
  absl::StatusOr<std::string> der = CreateCsrDer(key.get(), &id);
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<X509ReqPtr> csr = ParseCsrDer(*der);
  ASSERT_TRUE(csr.ok()) << csr.status();
  absl::StatusOr<std::vector<std::string>> uris = CsrUriSans(csr->get());
  ASSERT_TRUE(uris.ok()) << uris.status();
  EXPECT_THAT(*uris, ElementsAre("spiffe://example.org/agent"));
  absl::StatusOr<EvpPkeyPtr> pub = CsrPublicKey(csr->get());
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_TRUE(PublicKeysEqual(pub->get(), key.get()));
}

TEST(CsrTest, WithoutIdHasNoUriSans) {
  EvpPkeyPtr key = Key(KeyType::kRsa2048);
  absl::StatusOr<std::string> der = CreateCsrDer(key.get());
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<X509ReqPtr> csr = ParseCsrDer(*der);
  ASSERT_TRUE(csr.ok()) << csr.status();
  absl::StatusOr<std::vector<std::string>> uris = CsrUriSans(csr->get());
  ASSERT_TRUE(uris.ok()) << uris.status();
  EXPECT_TRUE(uris->empty());
}

TEST(CsrTest, BadSignatureIsInvalidArgument) {
  EvpPkeyPtr key = Key();
  absl::StatusOr<std::string> der = CreateCsrDer(key.get());
  ASSERT_TRUE(der.ok()) << der.status();
  // Swap in another key: the signature no longer matches the public key.
  absl::StatusOr<X509ReqPtr> csr = ParseCsrDer(*der);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EvpPkeyPtr other = Key();
  ASSERT_EQ(X509_REQ_set_pubkey(csr->get(), other.get()), 1);
  unsigned char* out = nullptr;
  int len = i2d_X509_REQ(csr->get(), &out);
  ASSERT_GT(len, 0);
  std::string tampered(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  absl::StatusOr<X509ReqPtr> bad = ParseCsrDer(tampered);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "CSR signature is invalid");
}

TEST(CsrTest, GarbageIsInvalidArgument) {
  absl::StatusOr<X509ReqPtr> bad = ParseCsrDer("garbage");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("CSR does not parse"));
}

TEST(CsrTest, IssueLeafFromCsrIgnoresCsrSans) {
  TestCa ca = MakeRoot("example.org");
  EvpPkeyPtr key = Key(KeyType::kEcP384);
  SpiffeId evil = Id("spiffe://example.org/admin");
  absl::StatusOr<std::string> der = CreateCsrDer(key.get(), &evil);
  ASSERT_TRUE(der.ok()) << der.status();
  LeafParams p = LeafP("spiffe://example.org/workload");
  p.now = kNow;
  absl::StatusOr<X509Ptr> leaf = IssueLeafFromCsr(ca.cert.get(), ca.key.get(), *der, p);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  absl::StatusOr<SpiffeId> id = SpiffeIdFromCert(leaf->get());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/workload");
  EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(leaf->get()), key.get()));
}

TEST(CsrTest, IssueLeafFromBadCsrIsInvalidArgument) {
  TestCa ca = MakeRoot("example.org");
  LeafParams p = LeafP("spiffe://example.org/workload");
  p.now = kNow;
  absl::StatusOr<X509Ptr> leaf = IssueLeafFromCsr(ca.cert.get(), ca.key.get(), "\x30\x00", p);
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Encoding.

TEST(EncodingTest, DerAndPemRoundTrip) {
  TestCa ca = MakeRoot("example.org");
  X509Ptr leaf = MakeLeaf(ca, "spiffe://example.org/w");
  absl::StatusOr<std::string> d1 = CertToDer(leaf.get());
  absl::StatusOr<std::string> d2 = CertToDer(ca.cert.get());
  ASSERT_TRUE(d1.ok() && d2.ok());
  absl::StatusOr<X509Ptr> one = ParseCertDer(*d1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(X509_cmp(one->get(), leaf.get()), 0);

  absl::StatusOr<std::vector<X509Ptr>> both = ParseCertsDer(*d1 + *d2);
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ(X509_cmp((*both)[1].get(), ca.cert.get()), 0);

  absl::StatusOr<std::string> p1 = CertToPem(leaf.get());
  absl::StatusOr<std::string> p2 = CertToPem(ca.cert.get());
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_THAT(*p1, ::testing::StartsWith("-----BEGIN CERTIFICATE-----\n"));
  absl::StatusOr<std::vector<X509Ptr>> pems = ParseCertsPem(*p1 + *p2);
  ASSERT_TRUE(pems.ok()) << pems.status();
  ASSERT_EQ(pems->size(), 2u);
  EXPECT_EQ(X509_cmp((*pems)[0].get(), leaf.get()), 0);
  EXPECT_EQ(CertSerialHex((*pems)[0].get()), CertSerialHex(leaf.get()));
}

TEST(EncodingTest, BadDerIsInvalidArgument) {
  absl::StatusOr<X509Ptr> c = ParseCertDer("\x30\x03\x02\x01\x01");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("certificate DER does not parse"));
}

TEST(EncodingTest, TrailingDerIsInvalidArgument) {
  TestCa ca = MakeRoot("example.org");
  absl::StatusOr<std::string> der = CertToDer(ca.cert.get());
  ASSERT_TRUE(der.ok());
  absl::StatusOr<X509Ptr> c = ParseCertDer(*der + "z");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "certificate DER has trailing data");
  absl::StatusOr<std::vector<X509Ptr>> cs = ParseCertsDer(*der + "z");
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(cs.status().message()), HasSubstr("certificate 1 in DER does not parse"));
}

TEST(EncodingTest, PemWithoutCertificateIsInvalidArgument) {
  absl::StatusOr<std::vector<X509Ptr>> c = ParseCertsPem("no pem here");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "no CERTIFICATE block in PEM");
}

TEST(EncodingTest, CorruptPemIsInvalidArgument) {
  absl::StatusOr<std::vector<X509Ptr>> c =
      ParseCertsPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("certificate 0 in PEM does not parse"));
}

// ---------------------------------------------------------------------------
// VerifyX509Svid: successes.

TEST_F(VerifyTest, AcceptsLeafIssuedByRoot) {
  X509Ptr leaf = MakeLeaf(root_, "spiffe://example.org/w");
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({leaf.get()}), bundles_, kNow);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/w");
}

TEST_F(VerifyTest, AcceptsChainThroughIntermediate) {
  EvpPkeyPtr inter_key = Key(KeyType::kEcP384);
  CaParams p = CaP("example.org");
  p.now = kNow;
  absl::StatusOr<X509Ptr> inter =
      CreateIntermediateCa(root_.cert.get(), root_.key.get(), inter_key.get(), p);
  ASSERT_TRUE(inter.ok()) << inter.status();
  TestCa inter_ca{std::move(inter_key), *std::move(inter)};
  X509Ptr leaf = MakeLeaf(inter_ca, "spiffe://example.org/w");
  absl::StatusOr<SpiffeId> id =
      VerifyX509Svid(Chain({leaf.get(), inter_ca.cert.get()}), bundles_, kNow);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/w");

  // Without the intermediate the path cannot be built.
  absl::StatusOr<SpiffeId> missing = VerifyX509Svid(Chain({leaf.get()}), bundles_, kNow);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("unable to get local issuer certificate"));
}

TEST_F(VerifyTest, CustomBuilderGoodLeafIsAccepted) {
  // Sanity check for the rejection tests below: the builder's baseline
  // extension set verifies, so each rejection is due to the one change.
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  ASSERT_TRUE(id.ok()) << id.status();
}

// ---------------------------------------------------------------------------
// VerifyX509Svid: one TEST per rejection (B1, B2, B4, B6, B10, B12-B14).

TEST_F(VerifyTest, RejectsLeafWithoutUriSan) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("DNS:w.example.org");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "certificate must have exactly one URI SAN, found 0");
}

TEST_F(VerifyTest, RejectsLeafWithoutSanExtension) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w");
  spec.extensions.pop_back();
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "certificate must have exactly one URI SAN, found 0");
}

TEST_F(VerifyTest, RejectsLeafWithTwoUriSans) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w,URI:spiffe://example.org/other");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "certificate must have exactly one URI SAN, found 2");
}

TEST_F(VerifyTest, RejectsLeafWithDuplicateSanExtension) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w");
  spec.extensions.emplace_back(NID_subject_alt_name, "URI:spiffe://example.org/w");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "certificate has more than one subjectAltName extension");
}

TEST_F(VerifyTest, RejectsLeafWithNonSpiffeUri) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:https://example.org/w");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()),
              HasSubstr("certificate URI SAN is not a valid SPIFFE ID"));
}

TEST_F(VerifyTest, RejectsLeafWithRootPath) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(),
            "leaf certificate SPIFFE ID must have a non-root path: \"spiffe://example.org\"");
}

TEST_F(VerifyTest, RejectsCaCertificateAsLeaf) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w");
  Replace(&spec.extensions, NID_basic_constraints, "critical,CA:TRUE");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "leaf certificate must not be a CA");
}

TEST_F(VerifyTest, RejectsRootCaPresentedAsLeaf) {
  // Our real CA: it carries the trust domain ID, so it fails the path check.
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({root_.cert.get()}), bundles_, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("must have a non-root path"));
}

TEST_F(VerifyTest, RejectsLeafWithKeyCertSign) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w");
  Replace(&spec.extensions, NID_key_usage, "critical,digitalSignature,keyCertSign");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "leaf certificate must not have 'keyCertSign' set as key usage");
}

TEST_F(VerifyTest, RejectsLeafWithCrlSign) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w");
  Replace(&spec.extensions, NID_key_usage, "critical,digitalSignature,cRLSign");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "leaf certificate must not have 'cRLSign' set as key usage");
}

TEST_F(VerifyTest, RejectsLeafWithoutDigitalSignature) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w");
  Replace(&spec.extensions, NID_key_usage, "critical,keyAgreement");
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(),
            "leaf certificate must have 'digitalSignature' set as key usage");
}

TEST_F(VerifyTest, RejectsLeafWithoutKeyUsage) {
  CustomCert spec;
  spec.extensions = GoodLeafExtensions("URI:spiffe://example.org/w");
  spec.extensions.erase(spec.extensions.begin() + 1);  // keyUsage
  absl::StatusOr<SpiffeId> id = VerifyCustom(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "leaf certificate must have a keyUsage extension");
}

TEST_F(VerifyTest, RejectsExpiredLeaf) {
  X509Ptr leaf = MakeLeaf(root_, "spiffe://example.org/w", kNow, absl::Hours(1));
  absl::StatusOr<SpiffeId> id =
      VerifyX509Svid(Chain({leaf.get()}), bundles_, kNow + absl::Hours(2));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "X.509-SVID verification failed: certificate has expired");
}

TEST_F(VerifyTest, RejectsNotYetValidLeaf) {
  TestCa old_root = MakeRoot("example.org", kNow - absl::Hours(240), absl::Hours(24 * 100));
  X509Ptr leaf = MakeLeaf(old_root, "spiffe://example.org/w", kNow, absl::Hours(1));
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(
      Chain({leaf.get()}), Bundles({{"example.org", old_root.cert.get()}}), kNow - absl::Hours(1));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "X.509-SVID verification failed: certificate is not yet valid");
}

TEST_F(VerifyTest, AcceptsLeafWithinBackdate) {
  // NotBefore is now-10s: a verifier whose clock is 5 s behind accepts it.
  X509Ptr leaf = MakeLeaf(root_, "spiffe://example.org/w", kNow, absl::Hours(1));
  absl::StatusOr<SpiffeId> id =
      VerifyX509Svid(Chain({leaf.get()}), bundles_, kNow - absl::Seconds(5));
  EXPECT_TRUE(id.ok()) << id.status();
}

TEST_F(VerifyTest, RejectsLeafChainedToOtherTrustDomainRoot) {
  // B14: spiffe://a/x issued by b's root, b trusted too: a's bundle is used.
  TestCa a = MakeRoot("a");
  TestCa b = MakeRoot("b");
  X509Ptr leaf = MakeLeaf(b, "spiffe://a/x");
  BundleSet both = Bundles({{"a", a.cert.get()}, {"b", b.cert.get()}});
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({leaf.get()}), both, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "X.509-SVID verification failed: unable to get local issuer certificate");
}

TEST_F(VerifyTest, RejectsLeafWhoseTrustDomainHasNoBundle) {
  TestCa b = MakeRoot("b");
  X509Ptr leaf = MakeLeaf(b, "spiffe://a/x");
  absl::StatusOr<SpiffeId> id =
      VerifyX509Svid(Chain({leaf.get()}), Bundles({{"b", b.cert.get()}}), kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "no bundle for trust domain \"a\"");
}

TEST_F(VerifyTest, RejectsLeafFromUntrustedRoot) {
  TestCa rogue = MakeRoot("example.org");
  X509Ptr leaf = MakeLeaf(rogue, "spiffe://example.org/w");
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({leaf.get()}), bundles_, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "X.509-SVID verification failed: unable to get local issuer certificate");
}

TEST_F(VerifyTest, RejectsLeafWithBadSignature) {
  X509Ptr leaf = MakeLeaf(root_, "spiffe://example.org/w");
  absl::StatusOr<std::string> der = CertToDer(leaf.get());
  ASSERT_TRUE(der.ok());
  std::string bad = *der;
  bad[bad.size() - 5] ^= 0x01;  // inside the signature value
  absl::StatusOr<X509Ptr> tampered = ParseCertDer(bad);
  ASSERT_TRUE(tampered.ok()) << tampered.status();
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({tampered->get()}), bundles_, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("X.509-SVID verification failed"));
}

TEST_F(VerifyTest, RejectsEmptyChain) {
  absl::StatusOr<SpiffeId> id = VerifyX509Svid({}, bundles_, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "certificate chain is empty");
}

TEST_F(VerifyTest, RejectsBundleWithoutAuthorities) {
  X509Ptr leaf = MakeLeaf(root_, "spiffe://example.org/w");
  BundleSet set;
  set.Put(Bundle(Td("example.org")));
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({leaf.get()}), set, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "bundle for trust domain \"example.org\" has no X.509 authorities");
}

// ---------------------------------------------------------------------------
// A third-party verifier (the openssl CLI) accepts our CA and leaf.

std::string RunCommand(const std::string& cmd, int* status) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  if (f == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  *status = pclose(f);
  return out;
}

TEST(OpensslCliTest, VerifiesAndPrintsOurLeaf) {
  char tmpl[] = "/tmp/sg-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  TestCa root = MakeRoot("example.org", now, absl::Hours(24));
  EvpPkeyPtr inter_key = Key();
  CaParams p = CaP("example.org");
  p.now = now;
  absl::StatusOr<X509Ptr> inter =
      CreateIntermediateCa(root.cert.get(), root.key.get(), inter_key.get(), p);
  ASSERT_TRUE(inter.ok()) << inter.status();
  TestCa inter_ca{std::move(inter_key), *std::move(inter)};
  EvpPkeyPtr key = Key();
  LeafParams lp = LeafP("spiffe://example.org/web");
  lp.now = now;
  lp.dns_names = {"web.example.org"};
  absl::StatusOr<X509Ptr> leaf = IssueLeaf(inter_ca.cert.get(), inter_ca.key.get(), key.get(), lp);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  auto write = [&](const std::string& name, const X509* cert) {
    absl::StatusOr<std::string> pem = CertToPem(cert);
    ASSERT_TRUE(pem.ok());
    std::ofstream(dir + "/" + name) << *pem;
  };
  write("ca.pem", root.cert.get());
  write("inter.pem", inter_ca.cert.get());
  write("leaf.pem", leaf->get());
  // The root alone also verifies a leaf issued directly by it.
  X509Ptr direct = MakeLeaf(root, "spiffe://example.org/direct", now);
  write("direct.pem", direct.get());

  int status = 0;
  std::string out = RunCommand(
      "openssl verify -x509_strict -CAfile " + dir + "/ca.pem " + dir + "/direct.pem", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("direct.pem: OK"));

  out = RunCommand("openssl verify -x509_strict -purpose sslclient -CAfile " + dir +
                       "/ca.pem -untrusted " + dir + "/inter.pem " + dir + "/leaf.pem",
                   &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("leaf.pem: OK"));
  out = RunCommand("openssl verify -x509_strict -purpose sslserver -CAfile " + dir +
                       "/ca.pem -untrusted " + dir + "/inter.pem " + dir + "/leaf.pem",
                   &status);
  EXPECT_EQ(status, 0) << out;

  out = RunCommand("openssl x509 -noout -text -in " + dir + "/leaf.pem", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("URI:spiffe://example.org/web"));
  EXPECT_THAT(out, HasSubstr("CA:FALSE"));
  EXPECT_THAT(out, HasSubstr("TLS Web Server Authentication, TLS Web Client Authentication"));

  RunCommand("rm -rf " + dir, &status);
}

// --- X509Issuer, ParseCsrPublicKey, VerifyIssuedX509Svid (fast signing path) ---

BundleSet BundleOf(absl::string_view td, const X509* ca) {
  Bundle b(Td(td));
  b.AddX509Authority(CopyCert(ca));
  BundleSet set;
  set.Put(std::move(b));
  return set;
}

std::unique_ptr<X509Issuer> IssuerOf(const TestCa& ca) {
  absl::StatusOr<std::unique_ptr<X509Issuer>> is = X509Issuer::Create(ca.cert.get(), ca.key.get());
  EXPECT_TRUE(is.ok()) << is.status();
  return *std::move(is);
}

TEST(X509IssuerTest, LeafHasTheIssueLeafProfileAndVerifiesThroughTheChainBuilder) {
  TestCa ca = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  EvpPkeyPtr key = Key();
  absl::StatusOr<std::string> csr = CreateCsrDer(key.get());
  ASSERT_TRUE(csr.ok()) << csr.status();
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(*csr);
  ASSERT_TRUE(pub.ok()) << pub.status();
  LeafParams p = LeafP("spiffe://example.org/w");
  p.dns_names = {"a.example.org", "b.example.org"};
  absl::StatusOr<X509Ptr> fast = is->IssueLeaf(pub->get(), p);
  ASSERT_TRUE(fast.ok()) << fast.status();
  absl::StatusOr<X509Ptr> slow = IssueLeaf(ca.cert.get(), ca.key.get(), key.get(), p);
  ASSERT_TRUE(slow.ok()) << slow.status();
  // Same extensions (DER), names, validity and key as the reference issuer.
  // A leaf issued for an encoded key keeps it encoded: parse its DER.
  EXPECT_EQ(X509_get0_pubkey(fast->get()), nullptr);
  X509Ptr fast_parsed = ParseCertDer(CertToDer(fast->get()).value()).value();
  X509* f = fast_parsed.get();
  X509* s = slow->get();
  ASSERT_EQ(X509_get_ext_count(f), X509_get_ext_count(s));
  for (int i = 0; i < X509_get_ext_count(s); ++i) {
    unsigned char* a = nullptr;
    unsigned char* b = nullptr;
    int la = i2d_X509_EXTENSION(X509_get_ext(f, i), &a);
    int lb = i2d_X509_EXTENSION(X509_get_ext(s, i), &b);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(a), la),
              std::string(reinterpret_cast<char*>(b), lb))
        << "extension " << i;
    OPENSSL_free(a);
    OPENSSL_free(b);
  }
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(f), X509_get_subject_name(s)), 0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(f), X509_get_issuer_name(s)), 0);
  EXPECT_EQ(CertNotBefore(f), CertNotBefore(s));
  EXPECT_EQ(CertNotAfter(f), CertNotAfter(s));
  EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(f), key.get()));
  EXPECT_EQ(X509_get_signature_nid(f), X509_get_signature_nid(s));
  EXPECT_NE(CertSerialHex(f), CertSerialHex(s));
  std::vector<X509Ptr> chain;
  chain.push_back(CopyCert(f));
  BundleSet set = BundleOf("example.org", ca.cert.get());
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(chain, set, kNow);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/w");
  absl::StatusOr<SpiffeId> id2 = VerifyIssuedX509Svid(fast->get(), *is, set, kNow);
  ASSERT_TRUE(id2.ok()) << id2.status();
}

TEST(X509IssuerTest, RsaSubjectKeyGetsKeyEncipherment) {
  TestCa ca = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  EvpPkeyPtr key = Key(KeyType::kRsa2048);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(key.get()).value());
  ASSERT_TRUE(pub.ok()) << pub.status();
  absl::StatusOr<X509Ptr> leaf = is->IssueLeaf(pub->get(), LeafP("spiffe://example.org/w"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_NE(X509_get_key_usage(leaf->get()) & KU_KEY_ENCIPHERMENT, 0u);
  EXPECT_EQ(X509_get_key_usage(leaf->get()) & KU_KEY_AGREEMENT, 0u);
  X509Ptr parsed = ParseCertDer(CertToDer(leaf->get()).value()).value();
  EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(parsed.get()), key.get()));
}

TEST(X509IssuerTest, DecodedKeyGivesACompleteCertificate) {
  TestCa ca = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  EvpPkeyPtr key = Key();
  absl::StatusOr<X509Ptr> leaf =
      is->IssueLeaf(static_cast<const EVP_PKEY*>(key.get()), LeafP("spiffe://example.org/w"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(leaf->get()), key.get()));
  std::vector<X509Ptr> chain;
  chain.push_back(CopyCert(leaf->get()));
  BundleSet set = BundleOf("example.org", ca.cert.get());
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(chain, set, kNow);
  EXPECT_TRUE(id.ok()) << id.status();
}

TEST(X509IssuerTest, RejectsRootPathId) {
  TestCa ca = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(Key().get()).value());
  ASSERT_TRUE(pub.ok());
  absl::StatusOr<X509Ptr> leaf = is->IssueLeaf(pub->get(), LeafP("spiffe://example.org"));
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(leaf.status().message(), HasSubstr("must have a non-root path"));
}

TEST(X509IssuerTest, ExpiredIssuerIsFailedPrecondition) {
  TestCa ca = MakeRoot("example.org", kNow, absl::Hours(24));
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(Key().get()).value());
  ASSERT_TRUE(pub.ok());
  absl::StatusOr<X509Ptr> leaf =
      is->IssueLeaf(pub->get(), LeafP("spiffe://example.org/w", kNow + absl::Hours(25)));
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(leaf.status().message(), "issuer certificate has expired");
}

TEST(X509IssuerTest, CreateRejectsMismatchedKey) {
  TestCa ca = MakeRoot("example.org");
  EvpPkeyPtr other = Key();
  absl::StatusOr<std::unique_ptr<X509Issuer>> is = X509Issuer::Create(ca.cert.get(), other.get());
  EXPECT_EQ(is.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(is.status().message(), "issuer key does not match the issuer certificate");
}

TEST(ParseCsrPublicKeyTest, P384CsrParses) {
  EvpPkeyPtr key = Key(KeyType::kEcP384);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(key.get()).value());
  ASSERT_TRUE(pub.ok()) << pub.status();
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(pub->get(), &der);
  ASSERT_GT(len, 0);
  std::string spki(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  EXPECT_EQ(spki, PublicKeyToDer(key.get()).value());
}

TEST(ParseCsrPublicKeyTest, TamperedCsrSignatureIsInvalid) {
  std::string csr = CreateCsrDer(Key().get()).value();
  // Flip a bit inside the CertificationRequestInfo (the subject O=SPIFFE).
  size_t pos = csr.find("SPIFFE");
  ASSERT_NE(pos, std::string::npos);
  csr[pos] ^= 0x01;
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(csr);
  EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pub.status().message(), "CSR signature is invalid");
}

TEST(ParseCsrPublicKeyTest, GarbageIsInvalidArgument) {
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey("garbage");
  EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pub.status().message(), HasSubstr("CSR does not parse"));
}

TEST(ParseCsrPublicKeyTest, TrailingDataIsInvalidArgument) {
  std::string csr = CreateCsrDer(Key().get()).value() + "x";
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(csr);
  EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pub.status().message(), "CSR has trailing data");
}

// CsrWithPointOffCurve returns a CSR by `key` whose public point is not on
// its curve (the last byte of Y in the uncompressed point 04||X||Y changed);
// empty if the key is not found in the CSR.
std::string CsrWithPointOffCurve(EVP_PKEY* key) {
  std::string csr = CreateCsrDer(key).value();
  std::string spki = PublicKeyToDer(key).value();
  size_t pos = csr.find(spki);
  if (pos == std::string::npos) return "";
  csr[pos + spki.size() - 1] ^= 0x01;
  return csr;
}

TEST(ParseCsrPublicKeyTest, PointNotOnCurveIsInvalidArgument) {
  EvpPkeyPtr key = Key();
  std::string csr = CsrWithPointOffCurve(key.get());
  ASSERT_FALSE(csr.empty());
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(csr);
  EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pub.status().message(), HasSubstr("CSR public key does not parse"));
}

// After the first request on a thread the CSR's point is put into a key
// kept per thread and curve: every request must still be verified with its
// own point, also after a request whose point was refused.
TEST(ParseCsrPublicKeyTest, EveryCsrIsVerifiedWithItsOwnKey) {
  auto run = [] {
    for (int i = 0; i < 6; ++i) {
      EvpPkeyPtr key = Key(i % 2 == 0 ? KeyType::kEcP256 : KeyType::kEcP384);
      absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(key.get()).value());
      ASSERT_TRUE(pub.ok()) << i << ": " << pub.status();
      // The returned key is the CSR's SubjectPublicKeyInfo, still encoded.
      unsigned char* der = nullptr;
      const int len = i2d_X509_PUBKEY(pub->get(), &der);
      ASSERT_GT(len, 0);
      EXPECT_EQ(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)),
                PublicKeyToDer(key.get()).value())
          << i;
      OPENSSL_free(der);
    }
    // A CSR signed by `a` that carries `b`'s key (same curve) is refused.
    for (KeyType t : {KeyType::kEcP256, KeyType::kEcP384}) {
      EvpPkeyPtr a = Key(t), b = Key(t);
      std::string csr = CreateCsrDer(a.get()).value();
      std::string spki_a = PublicKeyToDer(a.get()).value();
      std::string spki_b = PublicKeyToDer(b.get()).value();
      ASSERT_EQ(spki_a.size(), spki_b.size());
      size_t pos = csr.find(spki_a);
      ASSERT_NE(pos, std::string::npos);
      csr.replace(pos, spki_a.size(), spki_b);
      absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(csr);
      EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(pub.status().message(), "CSR signature is invalid");
    }
    // A point off the curve is refused with a template in place too.
    EvpPkeyPtr key = Key();
    std::string csr = CsrWithPointOffCurve(key.get());
    ASSERT_FALSE(csr.empty());
    std::string spki = PublicKeyToDer(key.get()).value();
    absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(csr);
    EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(pub.status().message(), HasSubstr("CSR public key does not parse"));
    // ... and the next request is verified with its own key again.
    EvpPkeyPtr next = Key();
    EXPECT_TRUE(ParseCsrPublicKey(CreateCsrDer(next.get()).value()).ok());
    std::string signed_by_key = CreateCsrDer(key.get()).value();
    std::string next_spki = PublicKeyToDer(next.get()).value();
    signed_by_key.replace(signed_by_key.find(spki), spki.size(), next_spki);
    EXPECT_EQ(ParseCsrPublicKey(signed_by_key).status().message(), "CSR signature is invalid");
  };
  run();
  std::thread fresh(run);  // a thread without templates yet
  fresh.join();
}

TEST(VerifyIssuedX509SvidTest, SignatureIsCheckedOverTheGivenDer) {
  TestCa ca = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(Key().get()).value());
  ASSERT_TRUE(pub.ok());
  X509Ptr leaf = is->IssueLeaf(pub->get(), LeafP("spiffe://example.org/w")).value();
  std::string der = CertToDer(leaf.get()).value();
  BundleSet set = BundleOf("example.org", ca.cert.get());
  absl::StatusOr<SpiffeId> id = VerifyIssuedX509Svid(leaf.get(), *is, set, kNow, der);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/w");
  // One bit of the serial flipped in the DER only: the object still
  // verifies, the DER does not.
  const ASN1_INTEGER* sn = X509_get0_serialNumber(leaf.get());
  std::string sn_bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(sn)),
                       static_cast<size_t>(ASN1_STRING_length(sn)));
  size_t pos = der.find(sn_bytes);
  ASSERT_NE(pos, std::string::npos);
  std::string bad = der;
  bad[pos + sn_bytes.size() - 1] ^= 0x01;
  EXPECT_TRUE(VerifyIssuedX509Svid(leaf.get(), *is, set, kNow).ok());
  id = VerifyIssuedX509Svid(leaf.get(), *is, set, kNow, bad);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "X.509-SVID verification failed: certificate signature failure");
  id = VerifyIssuedX509Svid(leaf.get(), *is, set, kNow, der.substr(0, der.size() - 1));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "X.509-SVID DER does not parse");
}

TEST(VerifyIssuedX509SvidTest, IssuerNotInBundleIsPermissionDenied) {
  TestCa ca = MakeRoot("example.org");
  TestCa other = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(Key().get()).value());
  ASSERT_TRUE(pub.ok());
  X509Ptr leaf = is->IssueLeaf(pub->get(), LeafP("spiffe://example.org/w")).value();
  BundleSet set = BundleOf("example.org", other.cert.get());
  absl::StatusOr<SpiffeId> id = VerifyIssuedX509Svid(leaf.get(), *is, set, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "X.509-SVID verification failed: issuer is not an authority of the bundle");
}

TEST(VerifyIssuedX509SvidTest, NoBundleForTrustDomainIsPermissionDenied) {
  TestCa ca = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(Key().get()).value());
  ASSERT_TRUE(pub.ok());
  X509Ptr leaf = is->IssueLeaf(pub->get(), LeafP("spiffe://example.org/w")).value();
  BundleSet set = BundleOf("other.org", ca.cert.get());
  absl::StatusOr<SpiffeId> id = VerifyIssuedX509Svid(leaf.get(), *is, set, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "no bundle for trust domain \"example.org\"");
}

TEST(VerifyIssuedX509SvidTest, LeafFromAnotherIssuerIsPermissionDenied) {
  TestCa ca = MakeRoot("example.org");
  TestCa other = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  std::unique_ptr<X509Issuer> other_is = IssuerOf(other);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(Key().get()).value());
  ASSERT_TRUE(pub.ok());
  X509Ptr leaf = other_is->IssueLeaf(pub->get(), LeafP("spiffe://example.org/w")).value();
  BundleSet set = BundleOf("example.org", ca.cert.get());
  absl::StatusOr<SpiffeId> id = VerifyIssuedX509Svid(leaf.get(), *is, set, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(id.status().message(), HasSubstr("X.509-SVID verification failed: "));
}

TEST(VerifyIssuedX509SvidTest, ExpiredLeafIsPermissionDenied) {
  TestCa ca = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(Key().get()).value());
  ASSERT_TRUE(pub.ok());
  X509Ptr leaf = is->IssueLeaf(pub->get(), LeafP("spiffe://example.org/w")).value();
  BundleSet set = BundleOf("example.org", ca.cert.get());
  absl::StatusOr<SpiffeId> id = VerifyIssuedX509Svid(leaf.get(), *is, set, kNow + absl::Hours(2));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "X.509-SVID verification failed: certificate has expired");
}

TEST(VerifyIssuedX509SvidTest, TamperedSignatureIsPermissionDenied) {
  TestCa ca = MakeRoot("example.org");
  std::unique_ptr<X509Issuer> is = IssuerOf(ca);
  absl::StatusOr<X509PubkeyPtr> pub = ParseCsrPublicKey(CreateCsrDer(Key().get()).value());
  ASSERT_TRUE(pub.ok());
  X509Ptr leaf = is->IssueLeaf(pub->get(), LeafP("spiffe://example.org/w")).value();
  // Re-parse with one bit of the serial flipped: the signature no longer matches.
  std::string der = CertToDer(leaf.get()).value();
  std::string serial = CertSerialHex(leaf.get());
  ASSERT_FALSE(serial.empty());
  // The serial starts right after "02 <len>" in the TBS; flip its last byte.
  const ASN1_INTEGER* sn = X509_get0_serialNumber(leaf.get());
  std::string sn_bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(sn)),
                       static_cast<size_t>(ASN1_STRING_length(sn)));
  size_t pos = der.find(sn_bytes);
  ASSERT_NE(pos, std::string::npos);
  der[pos + sn_bytes.size() - 1] ^= 0x01;
  X509Ptr bad = ParseCertDer(der).value();
  BundleSet set = BundleOf("example.org", ca.cert.get());
  absl::StatusOr<SpiffeId> id = VerifyIssuedX509Svid(bad.get(), *is, set, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "X.509-SVID verification failed: certificate signature failure");
}

}  // namespace
}  // namespace signet
