// Unit tests: the server side of the x509pop node attestor (chain to the
// configured CA bundle, proof of possession, fingerprint and selectors).
#include "server/nodeattestor/x509pop/x509pop.h"

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gtest/gtest.h"

namespace signet::server {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// Pki is a root -> intermediate -> leaf chain for x509pop, minted in the test.
struct Pki {
  EvpPkeyPtr root_key, inter_key, leaf_key;
  X509Ptr root, inter, leaf;
};

TrustDomain Td(const std::string& name) { return TrustDomain::FromString(name).value(); }

Pki MakePki(const std::string& cn, KeyType leaf_type = KeyType::kEcP256) {
  Pki p;
  p.root_key = GenerateKey(KeyType::kEcP256).value();
  p.inter_key = GenerateKey(KeyType::kEcP256).value();
  p.leaf_key = GenerateKey(leaf_type).value();
  p.root = CreateSelfSignedCa(p.root_key.get(), CaParams{Td("x509pop.test"), "Node Root", "Test",
                                                         kNow, absl::Hours(24)})
               .value();
  p.inter = CreateIntermediateCa(
                p.root.get(), p.root_key.get(), p.inter_key.get(),
                CaParams{Td("x509pop.test"), "Node Intermediate", "Test", kNow, absl::Hours(12)})
                .value();
  LeafParams lp{
      SpiffeId::FromString("spiffe://x509pop.test/node").value(), {cn}, kNow, absl::Hours(1)};
  p.leaf = IssueLeaf(p.inter.get(), p.inter_key.get(), p.leaf_key.get(), lp).value();
  return p;
}

std::string Der(const X509Ptr& c) { return CertToDer(c.get()).value(); }

std::vector<X509Ptr> Roots(const X509Ptr& root) {
  X509_up_ref(root.get());
  std::vector<X509Ptr> out;
  out.emplace_back(root.get());
  return out;
}

// Sign returns the agent's challenge response: a SHA-256 signature (DER ECDSA
// or RSA PKCS#1 v1.5) over `data` with `key`.
std::string Sign(const EVP_PKEY* key, const std::string& data) {
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  EXPECT_EQ(
      EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, const_cast<EVP_PKEY*>(key)), 1);
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  EXPECT_EQ(EVP_DigestSign(md.get(), nullptr, &len, in, data.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(
      EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()),
      1);
  sig.resize(len);
  return sig;
}

std::vector<std::string> Values(const std::vector<signet::types::Selector>& sels) {
  std::vector<std::string> out;
  for (const auto& s : sels) {
    EXPECT_EQ(s.type(), "x509pop");
    out.push_back(s.value());
  }
  return out;
}

TEST(X509PopTest, ValidChainGivesFingerprintAndSpireSelectors) {
  Pki p = MakePki("node1.example.org");
  absl::StatusOr<X509PopIdentity> id =
      VerifyX509PopChain(Der(p.leaf) + Der(p.inter), Roots(p.root), kNow);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->fingerprint, Sha1Hex(Der(p.leaf)));
  EXPECT_EQ(id->fingerprint.size(), 40u);
  EXPECT_EQ(Values(id->selectors),
            (std::vector<std::string>{"subject:cn:node1.example.org",
                                      "ca:fingerprint:" + Sha1Hex(Der(p.inter)),
                                      "ca:fingerprint:" + Sha1Hex(Der(p.root))}));
  EXPECT_TRUE(PublicKeysEqual(id->leaf_key.get(), p.leaf_key.get()));
}

TEST(X509PopTest, Sha1HexIsLowercaseHex) {
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(X509PopTest, ChainToAnotherCaIsPermissionDenied) {
  Pki p = MakePki("node1.example.org");
  Pki other = MakePki("node2.example.org");
  absl::StatusOr<X509PopIdentity> id =
      VerifyX509PopChain(Der(p.leaf) + Der(p.inter), Roots(other.root), kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "x509pop: certificate chain verification failed: unable to get local issuer "
            "certificate");
}

TEST(X509PopTest, MissingIntermediateIsPermissionDenied) {
  Pki p = MakePki("node1.example.org");
  absl::StatusOr<X509PopIdentity> id = VerifyX509PopChain(Der(p.leaf), Roots(p.root), kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "x509pop: certificate chain verification failed: unable to get local issuer "
            "certificate");
}

TEST(X509PopTest, ExpiredLeafIsPermissionDenied) {
  Pki p = MakePki("node1.example.org");
  absl::StatusOr<X509PopIdentity> id =
      VerifyX509PopChain(Der(p.leaf) + Der(p.inter), Roots(p.root), kNow + absl::Hours(2));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "x509pop: certificate chain verification failed: certificate has expired");
}

TEST(X509PopTest, GarbageChainIsInvalidArgument) {
  Pki p = MakePki("node1.example.org");
  absl::StatusOr<X509PopIdentity> id = VerifyX509PopChain("not DER", Roots(p.root), kNow);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message().rfind("x509pop: invalid certificate chain: ", 0), 0u)
      << id.status();
}

TEST(X509PopTest, CorrectChallengeSignatureAccepted) {
  for (KeyType t : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    Pki p = MakePki("node1.example.org", t);
    absl::StatusOr<X509PopIdentity> id =
        VerifyX509PopChain(Der(p.leaf) + Der(p.inter), Roots(p.root), kNow);
    ASSERT_TRUE(id.ok()) << id.status();
    std::string challenge = RandomBytes(32).value();
    absl::Status st =
        VerifyChallengeSignature(id->leaf_key.get(), challenge, Sign(p.leaf_key.get(), challenge));
    EXPECT_TRUE(st.ok()) << KeyTypeName(t) << ": " << st;
  }
}

TEST(X509PopTest, SignatureByAnotherKeyIsPermissionDenied) {
  Pki p = MakePki("node1.example.org");
  EvpPkeyPtr other = GenerateKey(KeyType::kEcP256).value();
  std::string challenge = RandomBytes(32).value();
  absl::Status st =
      VerifyChallengeSignature(p.leaf_key.get(), challenge, Sign(other.get(), challenge));
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "x509pop: challenge response verification failed");
}

TEST(X509PopTest, SignatureOverAnotherChallengeIsPermissionDenied) {
  Pki p = MakePki("node1.example.org");
  std::string challenge = RandomBytes(32).value();
  absl::Status st = VerifyChallengeSignature(p.leaf_key.get(), challenge,
                                             Sign(p.leaf_key.get(), challenge + "x"));
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "x509pop: challenge response verification failed");
}

TEST(X509PopTest, GarbageSignatureIsPermissionDenied) {
  Pki p = MakePki("node1.example.org");
  absl::Status st = VerifyChallengeSignature(p.leaf_key.get(), "challenge", "");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "x509pop: challenge response verification failed");
}

}  // namespace
}  // namespace signet::server
