// SPIFFE conformance tests for common/ (checklist sections A-D): the lines
// that the per-file tests (spiffe_id_test, x509_test, bundle_test, jwt_test,
// keys_test) do not check, or check only weakly. docs/CONFORMANCE.md maps
// every checklist line to its test. Each TEST name starts with the line id.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <limits>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/bundle.h"
#include "common/issuance/x509_issuer.h"
#include "common/jwt.h"
#include "common/keys.h"
#include "common/spiffe_id.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using ::testing::HasSubstr;

// A fixed "now" keeps validity arithmetic exact.
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

// QuickKey generates keys KeyType does not cover ("EC" with "P-521",
// "ED25519").
EvpPkeyPtr QuickKey(const char* type, const char* curve = nullptr) {
  EVP_PKEY* k = curve != nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve)
                                 : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  EXPECT_NE(k, nullptr) << type;
  return EvpPkeyPtr(k);
}

EvpPkeyPtr PublicOnly(const EVP_PKEY* key) {
  absl::StatusOr<std::string> der = PublicKeyToDer(key);
  EXPECT_TRUE(der.ok()) << der.status();
  absl::StatusOr<EvpPkeyPtr> pub = ParsePublicKeyDer(der.value_or(""));
  EXPECT_TRUE(pub.ok()) << pub.status();
  return pub.ok() ? *std::move(pub) : nullptr;
}

struct TestCa {
  EvpPkeyPtr key;
  X509Ptr cert;
};

TestCa MakeRoot(absl::string_view td, KeyType t = KeyType::kEcP256) {
  TestCa ca{Key(t), nullptr};
  CaParams p{Td(td), "Signet CA", "SPIFFE", kNow, absl::Hours(24 * 100)};
  absl::StatusOr<X509Ptr> cert = CreateSelfSignedCa(ca.key.get(), p);
  EXPECT_TRUE(cert.ok()) << cert.status();
  if (cert.ok()) ca.cert = *std::move(cert);
  return ca;
}

TestCa MakeIntermediate(const TestCa& issuer, absl::string_view td) {
  TestCa ca{Key(), nullptr};
  CaParams p{Td(td), "Intermediate", "SPIFFE", kNow, absl::Hours(24)};
  absl::StatusOr<X509Ptr> cert =
      CreateIntermediateCa(issuer.cert.get(), issuer.key.get(), ca.key.get(), p);
  EXPECT_TRUE(cert.ok()) << cert.status();
  if (cert.ok()) ca.cert = *std::move(cert);
  return ca;
}

X509Ptr MakeLeaf(const TestCa& ca, absl::string_view id, const EVP_PKEY* key = nullptr,
                 std::vector<std::string> dns = {}) {
  EvpPkeyPtr own;
  if (key == nullptr) {
    own = Key();
    key = own.get();
  }
  LeafParams p{Id(id), std::move(dns), kNow, absl::Hours(1)};
  absl::StatusOr<X509Ptr> leaf = IssueLeaf(ca.cert.get(), ca.key.get(), key, p);
  EXPECT_TRUE(leaf.ok()) << leaf.status();
  return leaf.ok() ? *std::move(leaf) : nullptr;
}

BundleSet OneBundle(absl::string_view td, const X509* root) {
  Bundle b(Td(td));
  b.AddX509Authority(CopyCert(root));
  BundleSet set;
  set.Put(std::move(b));
  return set;
}

std::vector<X509Ptr> Chain(std::initializer_list<const X509*> certs) {
  std::vector<X509Ptr> out;
  for (const X509* c : certs) out.push_back(CopyCert(c));
  return out;
}

bool ExtCritical(const X509* cert, int nid) {
  int i = X509_get_ext_by_NID(cert, nid, -1);
  return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, i)) == 1;
}

int ExtCount(const X509* cert, int nid) {
  int n = 0;
  for (int i = X509_get_ext_by_NID(cert, nid, -1); i >= 0; i = X509_get_ext_by_NID(cert, nid, i)) {
    ++n;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Test-only certificate builder: any issuer, any extensions (openssl.cnf
// syntax), any validity, optionally an empty subject.
struct CertSpec {
  std::vector<std::pair<int, std::string>> extensions;
  absl::Time not_before = kNow - absl::Seconds(10);
  absl::Time not_after = kNow + absl::Hours(1);
  std::string organization = "SPIFFE";  // empty: empty subject
  int64_t serial = 4242;
};

X509Ptr BuildCert(const X509* issuer, const EVP_PKEY* issuer_key, const EVP_PKEY* subject_key,
                  const CertSpec& spec) {
  X509Ptr cert(X509_new());
  EXPECT_EQ(X509_set_version(cert.get(), X509_VERSION_3), 1);
  Asn1IntegerPtr serial(ASN1_INTEGER_new());
  ASN1_INTEGER_set_int64(serial.get(), spec.serial);
  X509_set_serialNumber(cert.get(), serial.get());
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(spec.not_after));
  if (!spec.organization.empty()) {
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(spec.organization.c_str()),
                               -1, -1, 0);
    // A distinct CN per serial keeps subject != issuer for CA certificates.
    const std::string cn = absl::StrCat("cert-", spec.serial);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  }
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(subject_key));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : spec.extensions) {
    X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
    EXPECT_NE(ext, nullptr) << OBJ_nid2sn(nid) << " = " << value;
    if (ext != nullptr) X509_add_ext(cert.get(), ext.get(), -1);
  }
  EXPECT_GT(X509_sign(cert.get(), const_cast<EVP_PKEY*>(issuer_key), EVP_sha256()), 0);
  return cert;
}

std::vector<std::pair<int, std::string>> LeafExts(const std::string& sans) {
  return {
      {NID_basic_constraints, "critical,CA:FALSE"},   {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},   {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}, {NID_subject_alt_name, sans}};
}

std::vector<std::pair<int, std::string>> CaExts(const std::string& basic_constraints,
                                                const std::string& key_usage) {
  return {{NID_basic_constraints, basic_constraints},
          {NID_key_usage, key_usage},
          {NID_subject_key_identifier, "hash"},
          {NID_authority_key_identifier, "keyid:always"},
          {NID_subject_alt_name, "URI:spiffe://example.org"}};
}

// ===========================================================================
// B. X.509-SVID
// ===========================================================================

// B1: other SAN types (DNS, IP, email) may sit beside the one URI SAN.
TEST(ConformanceX509, B1_AcceptsOtherSanTypesBesideOneUriSan) {
  TestCa root = MakeRoot("example.org");
  EvpPkeyPtr key = Key();
  CertSpec spec;
  spec.extensions =
      LeafExts("URI:spiffe://example.org/w,DNS:w.example.org,IP:10.0.0.1,email:w@example.org");
  X509Ptr leaf = BuildCert(root.cert.get(), root.key.get(), key.get(), spec);
  absl::StatusOr<SpiffeId> id =
      VerifyX509Svid(Chain({leaf.get()}), OneBundle("example.org", root.cert.get()), kNow);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/w");
}

// B3: every SVID we issue has a non-empty subject or a critical SAN.
TEST(ConformanceX509, B3_IssuedLeavesHaveSubjectOrCriticalSan) {
  TestCa root = MakeRoot("example.org");
  for (const std::vector<std::string>& dns :
       {std::vector<std::string>{}, std::vector<std::string>{"w.example.org"},
        std::vector<std::string>{std::string(80, 'a') + ".example.org"}}) {
    X509Ptr leaf = MakeLeaf(root, "spiffe://example.org/w", nullptr, dns);
    ASSERT_NE(leaf, nullptr);
    const bool empty_subject = X509_NAME_entry_count(X509_get_subject_name(leaf.get())) == 0;
    EXPECT_TRUE(!empty_subject || ExtCritical(leaf.get(), NID_subject_alt_name))
        << "dns=" << absl::StrJoin(dns, ",");
  }
}

// B3: the same holds for CA certificates (root and intermediate), even when
// the caller leaves both subject fields empty or gives a common_name longer
// than 64 bytes (which BuildName drops): AddCaExtensions then marks the URI
// SAN critical (RFC 5280 4.1.2.6 / X509-SVID 3.1).
TEST(ConformanceX509, B3_CaWithEmptySubjectHasCriticalSan) {
  EvpPkeyPtr key = Key();
  EvpPkeyPtr sub_key = Key();
  for (const std::string& cn : {std::string(), std::string(70, 'c')}) {
    CaParams p{Td("example.org"), cn, "", kNow, absl::Hours(1)};
    absl::StatusOr<X509Ptr> ca = CreateSelfSignedCa(key.get(), p);
    ASSERT_TRUE(ca.ok()) << ca.status();
    EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(ca->get())), 0);
    EXPECT_TRUE(ExtCritical(ca->get(), NID_subject_alt_name)) << "cn size " << cn.size();
    absl::StatusOr<X509Ptr> inter = CreateIntermediateCa(ca->get(), key.get(), sub_key.get(), p);
    ASSERT_TRUE(inter.ok()) << inter.status();
    EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(inter->get())), 0);
    EXPECT_TRUE(ExtCritical(inter->get(), NID_subject_alt_name)) << "cn size " << cn.size();
  }
}

// B3: a CA with a subject keeps its SAN non-critical.
TEST(ConformanceX509, B3_CaWithSubjectHasNonCriticalSan) {
  EvpPkeyPtr key = Key();
  CaParams p{Td("example.org"), "Signet CA", "", kNow, absl::Hours(1)};
  absl::StatusOr<X509Ptr> ca = CreateSelfSignedCa(key.get(), p);
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_GT(X509_NAME_entry_count(X509_get_subject_name(ca->get())), 0);
  EXPECT_FALSE(ExtCritical(ca->get(), NID_subject_alt_name));
}

// B5, B8, B9, A16, B18: intermediate CAs (not only the root) carry critical
// cA=true, critical keyUsage with keyCertSign, the trust domain ID with no
// path, each extension once and a positive serial.
TEST(ConformanceX509, B8_IntermediateCaIsASigningSvid) {
  TestCa root = MakeRoot("example.org");
  TestCa inter = MakeIntermediate(root, "example.org");
  const X509* c = inter.cert.get();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(CertIsCa(c));
  EXPECT_TRUE(ExtCritical(c, NID_basic_constraints));
  EXPECT_TRUE(ExtCritical(c, NID_key_usage));  // B5
  EXPECT_NE(X509_get_key_usage(const_cast<X509*>(c)) & KU_KEY_CERT_SIGN, 0u);
  absl::StatusOr<SpiffeId> id = SpiffeIdFromCert(c);  // B9 / A16
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org");
  EXPECT_TRUE(id->path().empty());
  EXPECT_EQ(X509_get_ext_count(c), 5);
  for (int i = 0; i < X509_get_ext_count(c); ++i) {
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(c, i)));
    EXPECT_EQ(ExtCount(c, nid), 1) << OBJ_nid2sn(nid);
  }
  EXPECT_EQ(ExtCount(c, NID_ext_key_usage), 0);
  EXPECT_NE(CertSerialHex(c)[0], '-');
}

// B5: the keyUsage extension is critical on every SVID we issue, leaf and CA,
// for every key type.
TEST(ConformanceX509, B5_KeyUsagePresentAndCriticalForEveryKeyType) {
  for (KeyType t : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    TestCa root = MakeRoot("example.org", t);
    EvpPkeyPtr leaf_key = Key(t);
    X509Ptr leaf = MakeLeaf(root, "spiffe://example.org/w", leaf_key.get());
    ASSERT_NE(leaf, nullptr);
    for (const X509* c :
         {static_cast<const X509*>(root.cert.get()), static_cast<const X509*>(leaf.get())}) {
      EXPECT_EQ(ExtCount(c, NID_key_usage), 1) << KeyTypeName(t);
      EXPECT_TRUE(ExtCritical(c, NID_key_usage)) << KeyTypeName(t);
    }
    uint32_t ku = X509_get_key_usage(leaf.get());
    EXPECT_NE(ku & KU_DIGITAL_SIGNATURE, 0u);
    EXPECT_EQ(ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN), 0u);
  }
}

class ConformanceChain : public ::testing::Test {
 protected:
  TestCa root_ = MakeRoot("example.org");
  BundleSet bundles_ = OneBundle("example.org", root_.cert.get());
  EvpPkeyPtr inter_key_ = Key();
  EvpPkeyPtr inter2_key_ = Key();
  EvpPkeyPtr leaf_key_ = Key();

  // Leaf for spiffe://example.org/w signed by `issuer`.
  X509Ptr LeafUnder(const X509* issuer, const EVP_PKEY* issuer_key,
                    absl::Time not_after = kNow + absl::Hours(1)) {
    CertSpec spec;
    spec.extensions = LeafExts("URI:spiffe://example.org/w");
    spec.not_after = not_after;
    spec.serial = 9001;
    return BuildCert(issuer, issuer_key, leaf_key_.get(), spec);
  }

  void ExpectDenied(const std::vector<X509Ptr>& chain, const std::string& message) {
    absl::StatusOr<SpiffeId> id = VerifyX509Svid(chain, bundles_, kNow);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied) << id.status();
    EXPECT_EQ(id.status().message(), message);
  }
};

// B12: a custom intermediate built with the test builder verifies (baseline
// for the rejections below).
TEST_F(ConformanceChain, B12_BaselineCustomIntermediateAccepted) {
  CertSpec spec;
  spec.extensions = CaExts("critical,CA:TRUE", "critical,keyCertSign,cRLSign");
  X509Ptr inter = BuildCert(root_.cert.get(), root_.key.get(), inter_key_.get(), spec);
  X509Ptr leaf = LeafUnder(inter.get(), inter_key_.get());
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({leaf.get(), inter.get()}), bundles_, kNow);
  ASSERT_TRUE(id.ok()) << id.status();
}

// B12: an intermediate with cA=false cannot issue.
TEST_F(ConformanceChain, B12_RejectsNonCaIntermediate) {
  CertSpec spec;
  spec.extensions = CaExts("critical,CA:FALSE", "critical,digitalSignature");
  X509Ptr inter = BuildCert(root_.cert.get(), root_.key.get(), inter_key_.get(), spec);
  X509Ptr leaf = LeafUnder(inter.get(), inter_key_.get());
  ExpectDenied(Chain({leaf.get(), inter.get()}),
               "X.509-SVID verification failed: invalid CA certificate");
}

// B12/B8: an intermediate CA without keyCertSign cannot issue.
TEST_F(ConformanceChain, B12_RejectsIntermediateWithoutKeyCertSign) {
  CertSpec spec;
  spec.extensions = CaExts("critical,CA:TRUE", "critical,digitalSignature");
  X509Ptr inter = BuildCert(root_.cert.get(), root_.key.get(), inter_key_.get(), spec);
  X509Ptr leaf = LeafUnder(inter.get(), inter_key_.get());
  ExpectDenied(Chain({leaf.get(), inter.get()}),
               "X.509-SVID verification failed: invalid CA certificate");
}

// B12: pathLenConstraint is enforced.
TEST_F(ConformanceChain, B12_RejectsPathLengthViolation) {
  CertSpec spec1;
  spec1.extensions = CaExts("critical,CA:TRUE,pathlen:0", "critical,keyCertSign,cRLSign");
  spec1.serial = 1;
  X509Ptr inter1 = BuildCert(root_.cert.get(), root_.key.get(), inter_key_.get(), spec1);
  CertSpec spec2;
  spec2.extensions = CaExts("critical,CA:TRUE", "critical,keyCertSign,cRLSign");
  spec2.serial = 2;
  X509Ptr inter2 = BuildCert(inter1.get(), inter_key_.get(), inter2_key_.get(), spec2);
  X509Ptr leaf = LeafUnder(inter2.get(), inter2_key_.get());
  ExpectDenied(Chain({leaf.get(), inter2.get(), inter1.get()}),
               "X.509-SVID verification failed: path length constraint exceeded");
}

// B12: an expired intermediate invalidates the chain even when the leaf is
// within its own validity.
TEST_F(ConformanceChain, B12_RejectsExpiredIntermediate) {
  CertSpec spec;
  spec.extensions = CaExts("critical,CA:TRUE", "critical,keyCertSign,cRLSign");
  spec.not_before = kNow - absl::Hours(3);
  spec.not_after = kNow - absl::Hours(1);
  X509Ptr inter = BuildCert(root_.cert.get(), root_.key.get(), inter_key_.get(), spec);
  X509Ptr leaf = LeafUnder(inter.get(), inter_key_.get());
  ExpectDenied(Chain({leaf.get(), inter.get()}),
               "X.509-SVID verification failed: certificate has expired");
}

// B11/B12: URI name constraints on a signing certificate are honoured.
TEST_F(ConformanceChain, B12_RejectsUriNameConstraintViolation) {
  CertSpec spec;
  spec.extensions = CaExts("critical,CA:TRUE", "critical,keyCertSign,cRLSign");
  spec.extensions.emplace_back(NID_name_constraints, "critical,permitted;URI:other.org");
  X509Ptr inter = BuildCert(root_.cert.get(), root_.key.get(), inter_key_.get(), spec);
  X509Ptr leaf = LeafUnder(inter.get(), inter_key_.get());
  ExpectDenied(Chain({leaf.get(), inter.get()}),
               "X.509-SVID verification failed: permitted subtree violation");
}

TEST_F(ConformanceChain, B11_AcceptsSatisfiedUriNameConstraint) {
  CertSpec spec;
  spec.extensions = CaExts("critical,CA:TRUE", "critical,keyCertSign,cRLSign");
  spec.extensions.emplace_back(NID_name_constraints, "critical,permitted;URI:example.org");
  X509Ptr inter = BuildCert(root_.cert.get(), root_.key.get(), inter_key_.get(), spec);
  X509Ptr leaf = LeafUnder(inter.get(), inter_key_.get());
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({leaf.get(), inter.get()}), bundles_, kNow);
  EXPECT_TRUE(id.ok()) << id.status();
}

// B12: a leaf valid for longer than its (valid) issuer is checked at `now`,
// and rejected once the issuer has expired.
TEST_F(ConformanceChain, B12_RejectsChainOnceIssuerExpired) {
  CertSpec spec;
  spec.extensions = CaExts("critical,CA:TRUE", "critical,keyCertSign,cRLSign");
  spec.not_after = kNow + absl::Hours(1);
  X509Ptr inter = BuildCert(root_.cert.get(), root_.key.get(), inter_key_.get(), spec);
  X509Ptr leaf = LeafUnder(inter.get(), inter_key_.get(), kNow + absl::Hours(5));
  EXPECT_TRUE(VerifyX509Svid(Chain({leaf.get(), inter.get()}), bundles_, kNow).ok());
  absl::StatusOr<SpiffeId> later =
      VerifyX509Svid(Chain({leaf.get(), inter.get()}), bundles_, kNow + absl::Hours(2));
  EXPECT_EQ(later.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(later.status().message(), "X.509-SVID verification failed: certificate has expired");
}

// B15: the Workload API encodings built from common/: x509_svid is
// concatenated DER with the leaf first and only CA certificates (cA=true +
// keyCertSign) after it; x509_svid_key is PKCS#8 DER matching the leaf;
// bundle is concatenated DER CA certificates. go-spiffe's ParseRaw checks.
TEST(ConformanceX509, B15_WorkloadApiEncodingsAreDerLeafFirstPkcs8) {
  for (KeyType t : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    TestCa root = MakeRoot("example.org");
    TestCa inter = MakeIntermediate(root, "example.org");
    EvpPkeyPtr key = Key(t);
    X509Ptr leaf = MakeLeaf(inter, "spiffe://example.org/w", key.get());
    ASSERT_NE(leaf, nullptr);
    std::string svid = *CertToDer(leaf.get()) + *CertToDer(inter.cert.get());
    EXPECT_EQ(svid.find("-----BEGIN"), std::string::npos);
    absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertsDer(svid);
    ASSERT_TRUE(certs.ok()) << certs.status();
    ASSERT_EQ(certs->size(), 2u);
    EXPECT_EQ(X509_cmp((*certs)[0].get(), leaf.get()), 0);
    EXPECT_FALSE(CertIsCa((*certs)[0].get()));
    for (size_t i = 1; i < certs->size(); ++i) {
      EXPECT_TRUE(CertIsCa((*certs)[i].get()));
      EXPECT_NE(X509_get_key_usage((*certs)[i].get()) & KU_KEY_CERT_SIGN, 0u);
    }

    absl::StatusOr<std::string> pkcs8 = PrivateKeyToPkcs8Der(key.get());
    ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
    const unsigned char* p = reinterpret_cast<const unsigned char*>(pkcs8->data());
    PKCS8_PRIV_KEY_INFO* info =
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(pkcs8->size()));
    ASSERT_NE(info, nullptr) << "not unencrypted PKCS#8";
    EXPECT_EQ(p, reinterpret_cast<const unsigned char*>(pkcs8->data()) + pkcs8->size());
    PKCS8_PRIV_KEY_INFO_free(info);
    absl::StatusOr<EvpPkeyPtr> back = ParsePrivateKeyDer(*pkcs8);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(PublicKeysEqual(back->get(), X509_get0_pubkey((*certs)[0].get())));

    Bundle bundle(Td("example.org"));
    bundle.AddX509Authority(CopyCert(root.cert.get()));
    std::string bundle_der = bundle.X509AuthoritiesDer();
    EXPECT_EQ(bundle_der, *CertToDer(root.cert.get()));
    absl::StatusOr<Bundle> parsed = Bundle::FromX509Der(Td("example.org"), bundle_der);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    BundleSet set;
    set.Put(*std::move(parsed));
    absl::StatusOr<SpiffeId> id = VerifyX509Svid(*std::move(certs), set, kNow);
    ASSERT_TRUE(id.ok()) << id.status();
  }
}

// B18: serials are positive, at most 20 octets, minimally encoded (strict
// DER) across many issuances; no extension appears twice on any cert.
TEST(ConformanceX509, B18_SerialsPositiveAndDerStrictAcrossManyCerts) {
  TestCa root = MakeRoot("example.org");
  EvpPkeyPtr key = Key();
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    X509Ptr leaf = MakeLeaf(root, "spiffe://example.org/w", key.get(), {"w.example.org"});
    ASSERT_NE(leaf, nullptr);
    const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf.get());
    unsigned char* der = nullptr;
    int len = i2d_ASN1_INTEGER(serial, &der);
    ASSERT_GT(len, 2);
    OpensslBytesPtr owned(der);
    // INTEGER tag, short length, content of 1..20 octets, sign bit clear,
    // no superfluous leading zero.
    ASSERT_EQ(der[0], 0x02);
    const int content = der[1];
    EXPECT_EQ(len, content + 2);
    EXPECT_GE(content, 1);
    EXPECT_LE(content, 20);
    EXPECT_EQ(der[2] & 0x80, 0);
    if (content > 1) {
      EXPECT_FALSE(der[2] == 0 && (der[3] & 0x80) == 0);
    }
    EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);
    EXPECT_TRUE(seen.insert(CertSerialHex(leaf.get())).second);
    // Strict DER round trip: re-encoding gives the same bytes.
    absl::StatusOr<std::string> der_cert = CertToDer(leaf.get());
    ASSERT_TRUE(der_cert.ok());
    absl::StatusOr<X509Ptr> back = ParseCertDer(*der_cert);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*CertToDer(back->get()), *der_cert);
  }
  for (int i = 0; i < X509_get_ext_count(root.cert.get()); ++i) {
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(root.cert.get(), i)));
    EXPECT_EQ(ExtCount(root.cert.get(), nid), 1) << OBJ_nid2sn(nid);
  }
}

// ===========================================================================
// C. JWT-SVID
// ===========================================================================

std::string B64(absl::string_view s) { return absl::WebSafeBase64Escape(s); }

class ConformanceJwt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    p256_ = Key(KeyType::kEcP256).release();
    p384_ = Key(KeyType::kEcP384).release();
    p521_ = QuickKey("EC", "P-521").release();
    rsa_ = Key(KeyType::kRsa2048).release();
  }
  static void TearDownTestSuite() {
    for (EVP_PKEY* k : {p256_, p384_, p521_, rsa_}) EVP_PKEY_free(k);
  }

  ConformanceJwt() {
    Bundle b(Td("example.org"));
    b.AddJwtAuthority("k256", PublicOnly(p256_));
    b.AddJwtAuthority("k384", PublicOnly(p384_));
    b.AddJwtAuthority("k521", PublicOnly(p521_));
    b.AddJwtAuthority("krsa", PublicOnly(rsa_));
    bundles_.Put(std::move(b));
  }

  std::string Payload() const {
    return absl::StrCat(R"({"sub":"spiffe://example.org/w","aud":["svc"],"exp":)",
                        absl::ToUnixSeconds(kNow) + 300, "}");
  }

  std::string Sign(const EVP_PKEY* key, const std::string& alg, const std::string& header,
                   const std::string& payload) {
    absl::StatusOr<std::string> t = SignCompactJws(key, alg, header, payload);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.value_or("");
  }

  // ExpectBothReject: both the insecure parse and validation reject `token`
  // with InvalidArgument and exactly `message`.
  void ExpectBothReject(const std::string& token, const std::string& message) {
    absl::StatusOr<JwtSvid> v = ValidateJwtSvid(token, bundles_, "svc", kNow);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << v.status();
    EXPECT_EQ(v.status().message(), message);
    absl::StatusOr<JwtSvid> i = ParseJwtSvidInsecure(token, {"svc"}, kNow);
    EXPECT_EQ(i.status().code(), absl::StatusCode::kInvalidArgument) << i.status();
    EXPECT_EQ(i.status().message(), message);
  }

  static EVP_PKEY* p256_;
  static EVP_PKEY* p384_;
  static EVP_PKEY* p521_;
  static EVP_PKEY* rsa_;
  BundleSet bundles_;
};

EVP_PKEY* ConformanceJwt::p256_ = nullptr;
EVP_PKEY* ConformanceJwt::p384_ = nullptr;
EVP_PKEY* ConformanceJwt::p521_ = nullptr;
EVP_PKEY* ConformanceJwt::rsa_ = nullptr;

// C2: header members other than alg/kid/typ are refused (jku, x5c and crit
// are in jwt_test).
TEST_F(ConformanceJwt, C2_RejectsJwkHeader) {
  ExpectBothReject(
      Sign(p256_, "ES256", R"({"alg":"ES256","kid":"k256","jwk":{"kty":"EC"}})", Payload()),
      "token header contains unsupported member \"jwk\"");
}
TEST_F(ConformanceJwt, C2_RejectsCtyHeader) {
  ExpectBothReject(Sign(p256_, "ES256", R"({"alg":"ES256","kid":"k256","cty":"JWT"})", Payload()),
                   "token header contains unsupported member \"cty\"");
}
TEST_F(ConformanceJwt, C2_RejectsPrivateHeader) {
  ExpectBothReject(Sign(p256_, "ES256", R"({"alg":"ES256","kid":"k256","zzz":1})", Payload()),
                   "token header contains unsupported member \"zzz\"");
}

// C2/C5/C6: tokens we mint have exactly {alg, kid, typ:"JWT"} for every key
// type, with kid equal to the bundle kid, and validate against the bundle
// after a JWKS round trip (what a peer receives).
TEST_F(ConformanceJwt, C5_MintedTokensValidateAgainstPublishedJwks) {
  const std::vector<std::pair<const EVP_PKEY*, std::string>> keys = {
      {p256_, "k256"}, {p384_, "k384"}, {p521_, "k521"}, {rsa_, "krsa"}};
  absl::StatusOr<Bundle> published =
      Bundle::ParseJwks(Td("example.org"), bundles_.Find(Td("example.org"))->ToJwks());
  ASSERT_TRUE(published.ok()) << published.status();
  BundleSet peer;
  peer.Put(*std::move(published));
  for (const auto& [key, kid] : keys) {
    JwtSvidParams p{Id("spiffe://example.org/w"), {"svc"}, kNow, kNow + absl::Minutes(5), ""};
    absl::StatusOr<std::string> token = SignJwtSvid(key, kid, p);
    ASSERT_TRUE(token.ok()) << token.status();
    std::vector<std::string> parts = absl::StrSplit(*token, '.');
    ASSERT_EQ(parts.size(), 3u);
    std::string header_json;
    ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header_json));
    Struct header;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(header_json, &header).ok());
    EXPECT_EQ(header.fields().size(), 3u) << header_json;
    EXPECT_EQ(header.fields().at("kid").string_value(), kid);
    EXPECT_EQ(header.fields().at("typ").string_value(), "JWT");
    absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(*token, peer, "svc", kNow);
    ASSERT_TRUE(svid.ok()) << kid << ": " << svid.status();
    EXPECT_EQ(svid->key_id, kid);
  }
}

// C3: every allowed algorithm validates with a fitting key.
TEST_F(ConformanceJwt, C3_AcceptsEveryAllowedAlgorithm) {
  const std::vector<std::tuple<std::string, const EVP_PKEY*, std::string>> algs = {
      {"RS256", rsa_, "krsa"},  {"RS384", rsa_, "krsa"},  {"RS512", rsa_, "krsa"},
      {"PS256", rsa_, "krsa"},  {"PS384", rsa_, "krsa"},  {"PS512", rsa_, "krsa"},
      {"ES256", p256_, "k256"}, {"ES384", p384_, "k384"}, {"ES512", p521_, "k521"}};
  for (const auto& [alg, key, kid] : algs) {
    std::string header = absl::StrCat(R"({"alg":")", alg, R"(","kid":")", kid, R"("})");
    std::string token = Sign(key, alg, header, Payload());
    absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles_, "svc", kNow);
    ASSERT_TRUE(svid.ok()) << alg << ": " << svid.status();
    EXPECT_EQ(svid->algorithm, alg);
  }
}

// C3: anything else is refused, compared case-sensitively.
TEST_F(ConformanceJwt, C3_RejectsOtherAlgorithms) {
  for (const char* alg :
       {"HS384", "HS512", "RS1", "NONE", "es256", "ES256 ", "PS256K", "RSA-OAEP", ""}) {
    std::string token = absl::StrCat(B64(absl::StrCat(R"({"alg":")", alg, R"(","kid":"k256"})")),
                                     ".", B64(Payload()), ".", B64(std::string(64, 'x')));
    ExpectBothReject(token, absl::StrCat("unsupported token signature algorithm \"", alg, "\""));
  }
}

// C6: typ is compared exactly; non-string typ is refused.
TEST_F(ConformanceJwt, C6_RejectsLowercaseTyp) {
  ExpectBothReject(Sign(p256_, "ES256", R"({"alg":"ES256","kid":"k256","typ":"jwt"})", Payload()),
                   "token header typ \"jwt\" is not \"JWT\" or \"JOSE\"");
}
TEST_F(ConformanceJwt, C6_RejectsNonStringTyp) {
  ExpectBothReject(Sign(p256_, "ES256", R"({"alg":"ES256","kid":"k256","typ":1})", Payload()),
                   "token header typ (not a string) is not \"JWT\" or \"JOSE\"");
}

// C10: only sub, aud and exp are required.
TEST_F(ConformanceJwt, C10_MinimalClaimsAccepted) {
  std::string token = Sign(p256_, "ES256", R"({"alg":"ES256","kid":"k256"})", Payload());
  absl::StatusOr<JwtSvid> v = ValidateJwtSvid(token, bundles_, "svc", kNow);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->claims.fields().size(), 3u);
  EXPECT_TRUE(ParseJwtSvidInsecure(token, {"svc"}, kNow).ok());
}

// C10: minted tokens carry iat = issue time and no nbf, so they are not
// "in the future" for a verifier at the issue time.
TEST_F(ConformanceJwt, C10_MintedTokensHaveNoFutureTimes) {
  JwtSvidParams p{Id("spiffe://example.org/w"), {"svc"}, kNow, kNow + absl::Minutes(5), ""};
  absl::StatusOr<std::string> token = SignJwtSvid(p256_, "k256", p);
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<JwtSvid> svid = ParseJwtSvidInsecure(*token, {"svc"}, kNow);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->claims.fields().count("nbf"), 0u);
  EXPECT_EQ(svid->claims.fields().at("iat").number_value(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(svid->claims.fields().at("exp").number_value(),
            absl::ToUnixSeconds(kNow + absl::Minutes(5)));
}

// C12/D2: a trust domain whose bundle has no JWT authorities trusts no
// JWT-SVID.
TEST_F(ConformanceJwt, C12_BundleWithoutJwtKeysTrustsNothing) {
  BundleSet set;
  set.Put(Bundle(Td("example.org")));
  std::string token = Sign(p256_, "ES256", R"({"alg":"ES256","kid":"k256"})", Payload());
  absl::StatusOr<JwtSvid> v = ValidateJwtSvid(token, set, "svc", kNow);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "no JWT authority found with key ID \"k256\"");
}

// ===========================================================================
// D. Trust bundle (JWKS)
// ===========================================================================

Struct ParseJson(const std::string& json) {
  Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok()) << json;
  return s;
}

std::set<std::string> MemberNames(const Struct& s) {
  std::set<std::string> out;
  for (const auto& [name, value] : s.fields()) out.insert(name);
  return out;
}

// D2: "keys" present but nothing usable -> the bundle trusts no SVID.
TEST(ConformanceBundle, D2_BundleWithNothingUsableTrustsNothing) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"),
      R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","use":"x509-svid","x5c":["AAAA"]},
                  {"kty":"EC","use":"wit-svid","kid":"w"},
                  {"kty":"EC","use":"x509-svid"}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->x509_authorities().empty());
  EXPECT_TRUE(parsed->jwt_authorities().empty());
  TestCa root = MakeRoot("example.org");
  X509Ptr leaf = MakeLeaf(root, "spiffe://example.org/w");
  BundleSet set;
  set.Put(*std::move(parsed));
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({leaf.get()}), set, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "bundle for trust domain \"example.org\" has no X.509 authorities");
}

// D3: spiffe_sequence is a uint64 and must round-trip exactly, also above
// 2^53 where a double (google.protobuf.Struct's number) would round it
// (9007199254740993 -> ...992) and up to 2^64-1 (which rounds to 2^64).
TEST(ConformanceBundle, D3_SequenceRoundTripsFullUint64) {
  for (uint64_t seq : {9007199254740993ull, 18446744073709551614ull, 18446744073709551615ull}) {
    Bundle b(Td("example.org"));
    b.set_sequence_number(seq);
    absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), b.ToJwks());
    ASSERT_TRUE(parsed.ok()) << seq << ": " << parsed.status();
    EXPECT_EQ(parsed->sequence_number(), seq);
  }
}

// D3: spiffe_refresh_hint is an int64 and round-trips exactly at both ends.
TEST(ConformanceBundle, D3_RefreshHintRoundTripsFullInt64) {
  for (int64_t hint : {std::numeric_limits<int64_t>::min(), int64_t{-9007199254740993},
                       int64_t{9007199254740993}, std::numeric_limits<int64_t>::max()}) {
    Bundle b(Td("example.org"));
    b.set_refresh_hint_seconds(hint);
    absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), b.ToJwks());
    ASSERT_TRUE(parsed.ok()) << hint << ": " << parsed.status();
    EXPECT_EQ(parsed->refresh_hint_seconds(), hint);
  }
}

// D3: the exact read takes the top-level member, not a same-named member
// nested inside a key.
TEST(ConformanceBundle, D3_NestedSequenceIgnored) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"),
      R"({"keys":[{"use":"x","spiffe_sequence":7,"spiffe_refresh_hint":8}],)"
      R"("spiffe_sequence":9007199254740993,"spiffe_refresh_hint":-9007199254740993})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->sequence_number(), 9007199254740993ull);
  EXPECT_EQ(parsed->refresh_hint_seconds(), int64_t{-9007199254740993});
}

// D3: a sequence of 2^64 does not fit a uint64.
TEST(ConformanceBundle, D3_SequenceAboveUint64Rejected) {
  absl::StatusOr<Bundle> parsed =
      Bundle::ParseJwks(Td("example.org"), R"({"keys":[],"spiffe_sequence":18446744073709551616})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("\"spiffe_sequence\" must be an integer in [0, 2^64)"));
}

// D3: a refresh hint of 2^63 does not fit an int64.
TEST(ConformanceBundle, D3_RefreshHintAboveInt64Rejected) {
  absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(
      Td("example.org"), R"({"keys":[],"spiffe_refresh_hint":9223372036854775808})");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("\"spiffe_refresh_hint\" must be an integer in [-2^63, 2^63)"));
}

// D3: within the exactly representable range the sequence round-trips.
TEST(ConformanceBundle, D3_SequenceRoundTripsUpTo2To53) {
  for (uint64_t seq : {0ull, 1ull, 4294967296ull, 9007199254740992ull}) {
    Bundle b(Td("example.org"));
    b.set_sequence_number(seq);
    absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), b.ToJwks());
    ASSERT_TRUE(parsed.ok()) << seq << ": " << parsed.status();
    EXPECT_EQ(parsed->sequence_number(), seq);
  }
}

// D6: a producer never emits a JWK whose kty a consumer may not know; keys
// Signet cannot express as EC/RSA JWKs are left out instead.
TEST(ConformanceBundle, D6_ProducerEmitsOnlyEcAndRsaKty) {
  EvpPkeyPtr ed = QuickKey("ED25519");
  EvpPkeyPtr ec = Key();
  Bundle b(Td("example.org"));
  b.AddJwtAuthority("ed", PublicOnly(ed.get()));
  b.AddJwtAuthority("ec", PublicOnly(ec.get()));
  for (const std::string& json : {b.ToJwks(), b.ToJwtJwks()}) {
    Struct root = ParseJson(json);
    const auto& keys = root.fields().at("keys").list_value().values();
    ASSERT_EQ(keys.size(), 1) << json;
    EXPECT_EQ(keys[0].struct_value().fields().at("kty").string_value(), "EC");
    EXPECT_EQ(keys[0].struct_value().fields().at("kid").string_value(), "ec");
  }
}

// D7: "wit-svid" keys (a use Signet does not consume) and case variants of
// known uses are ignored without failing the bundle.
TEST(ConformanceBundle, D7_WitSvidAndCaseVariantUsesIgnored) {
  TestCa root = MakeRoot("example.org");
  Bundle src(Td("example.org"));
  src.AddX509Authority(CopyCert(root.cert.get()));
  Struct jwk = ParseJson(src.ToJwks()).fields().at("keys").list_value().values(0).struct_value();
  std::string good, wit, upper;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(jwk, &good).ok());
  (*jwk.mutable_fields())["use"].set_string_value("wit-svid");
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(jwk, &wit).ok());
  (*jwk.mutable_fields())["use"].set_string_value("X509-SVID");
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(jwk, &upper).ok());
  absl::StatusOr<Bundle> parsed =
      Bundle::ParseJwks(Td("example.org"), absl::StrCat(R"({"keys":[)", wit, ",", upper, "]}"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->x509_authorities().empty());
  parsed = Bundle::ParseJwks(Td("example.org"),
                             absl::StrCat(R"({"keys":[)", wit, ",", good, ",", upper, "]}"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->x509_authorities().size(), 1u);
}

// D8 (+B16, C11, D13): the exact member set of every JWK and of the top level.
TEST(ConformanceBundle, D8_ProducerEmitsOnlyDefinedMembers) {
  TestCa ec_root = MakeRoot("example.org", KeyType::kEcP256);
  TestCa rsa_root = MakeRoot("example.org", KeyType::kRsa2048);
  EvpPkeyPtr jwt_ec = Key(KeyType::kEcP384);
  EvpPkeyPtr jwt_rsa = Key(KeyType::kRsa2048);
  Bundle b(Td("example.org"));
  b.AddX509Authority(CopyCert(ec_root.cert.get()));
  b.AddX509Authority(CopyCert(rsa_root.cert.get()));
  b.AddJwtAuthority("e", PublicOnly(jwt_ec.get()));
  b.AddJwtAuthority("r", PublicOnly(jwt_rsa.get()));
  b.set_sequence_number(1);
  b.set_refresh_hint_seconds(60);
  Struct root = ParseJson(b.ToJwks());
  EXPECT_EQ(MemberNames(root),
            (std::set<std::string>{"keys", "spiffe_sequence", "spiffe_refresh_hint"}));
  const std::set<std::set<std::string>> allowed = {
      {"kty", "use", "crv", "x", "y", "x5c"},  // x509-svid EC
      {"kty", "use", "n", "e", "x5c"},         // x509-svid RSA
      {"kty", "kid", "use", "crv", "x", "y"},  // jwt-svid EC
      {"kty", "kid", "use", "n", "e"},         // jwt-svid RSA
  };
  std::set<std::set<std::string>> seen;
  for (const Value& k : root.fields().at("keys").list_value().values()) {
    std::set<std::string> names = MemberNames(k.struct_value());
    EXPECT_EQ(allowed.count(names), 1u) << absl::StrJoin(names, ",");
    seen.insert(names);
  }
  EXPECT_EQ(seen, allowed);
  // The JWT-only JWKS (F15) has only "keys".
  EXPECT_EQ(MemberNames(ParseJson(b.ToJwtJwks())), (std::set<std::string>{"keys"}));
}

// D13: P-521 coordinates are 66 bytes (P-256/P-384 are in bundle_test).
TEST(ConformanceBundle, D13_P521CoordinatesAreFullLength) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    EvpPkeyPtr key = QuickKey("EC", "P-521");
    Bundle b(Td("example.org"));
    b.AddJwtAuthority("k", PublicOnly(key.get()));
    Struct jwk = ParseJson(b.ToJwks()).fields().at("keys").list_value().values(0).struct_value();
    EXPECT_EQ(jwk.fields().at("crv").string_value(), "P-521");
    std::string x, y;
    ASSERT_TRUE(absl::WebSafeBase64Unescape(jwk.fields().at("x").string_value(), &x));
    ASSERT_TRUE(absl::WebSafeBase64Unescape(jwk.fields().at("y").string_value(), &y));
    EXPECT_EQ(x.size(), 66u);
    EXPECT_EQ(y.size(), 66u);
    EXPECT_EQ(jwk.fields().at("x").string_value().find('='), std::string::npos);
    absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td("example.org"), b.ToJwks());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(PublicKeysEqual(parsed->FindJwtAuthority("k"), key.get()));
  }
}

// D13: a short P-384 coordinate is refused like a short P-256 one.
TEST(ConformanceBundle, D13_ShortP384CoordinateRejected) {
  EvpPkeyPtr key = Key(KeyType::kEcP384);
  Bundle b(Td("example.org"));
  b.AddJwtAuthority("k", PublicOnly(key.get()));
  Struct jwk = ParseJson(b.ToJwks()).fields().at("keys").list_value().values(0).struct_value();
  std::string y;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(jwk.fields().at("y").string_value(), &y));
  (*jwk.mutable_fields())["y"].set_string_value(B64(y.substr(1)));
  std::string text;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(jwk, &text).ok());
  absl::StatusOr<Bundle> parsed =
      Bundle::ParseJwks(Td("example.org"), absl::StrCat(R"({"keys":[)", text, "]}"));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(),
            "bundle key 0 (kid \"k\"): EC JWK coordinates must be 48 bytes for P-384");
}

// D10: bundles of two trust domains stay separate after a JWKS round trip;
// each verifies only its own trust domain's SVIDs.
TEST(ConformanceBundle, D10_BundlesOfTwoTrustDomainsStaySeparate) {
  TestCa a = MakeRoot("a.org");
  TestCa b = MakeRoot("b.org");
  BundleSet set;
  for (const auto& [td, ca] : {std::pair<const char*, const TestCa*>{"a.org", &a},
                               std::pair<const char*, const TestCa*>{"b.org", &b}}) {
    Bundle bundle(Td(td));
    bundle.AddX509Authority(CopyCert(ca->cert.get()));
    absl::StatusOr<Bundle> parsed = Bundle::ParseJwks(Td(td), bundle.ToJwks());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    set.Put(*std::move(parsed));
  }
  X509Ptr good = MakeLeaf(a, "spiffe://a.org/w");
  X509Ptr cross = MakeLeaf(b, "spiffe://a.org/w");
  EXPECT_TRUE(VerifyX509Svid(Chain({good.get()}), set, kNow).ok());
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(Chain({cross.get()}), set, kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(set.Find(Td("a.org"))->x509_authorities().size(), 1u);
  EXPECT_EQ(set.Find(Td("b.org"))->x509_authorities().size(), 1u);
}

}  // namespace
}  // namespace signet
