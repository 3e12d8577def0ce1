// X.509 issuance (checklist B): CA certificates, X.509-SVIDs and CSR
// signing. Server-side (and test) code; the client library does not link it.
#ifndef SIGNET_COMMON_ISSUANCE_X509_ISSUER_H_
#define SIGNET_COMMON_ISSUANCE_X509_ISSUER_H_

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/openssl_util.h"
#include "common/spiffe_id.h"
#include "common/x509.h"

namespace signet {

class BundleSet;

struct CaParams {
  TrustDomain trust_domain;  // URI SAN "spiffe://<td>" (no path, B9)
  std::string common_name = "Signet CA";
  std::string organization = "SPIFFE";
  absl::Time now;  // NotBefore = now - kNotBeforeBackdate
  absl::Duration ttl = absl::Hours(24);
};

// CreateSelfSignedCa returns a self-signed CA certificate for `key`: cA=true
// (critical basicConstraints), critical keyUsage keyCertSign|cRLSign|
// digitalSignature, SKI, URI SAN spiffe://<td>, positive random serial.
[[nodiscard]] absl::StatusOr<X509Ptr> CreateSelfSignedCa(const EVP_PKEY* key, const CaParams& p);

// CreateIntermediateCa returns a CA certificate for `subject_key` signed by
// `issuer`/`issuer_key`; NotAfter is capped at the issuer's NotAfter.
[[nodiscard]] absl::StatusOr<X509Ptr> CreateIntermediateCa(const X509* issuer,
                                                           const EVP_PKEY* issuer_key,
                                                           const EVP_PKEY* subject_key,
                                                           const CaParams& p);

struct LeafParams {
  SpiffeId id;                         // must have a non-root path (B2)
  std::vector<std::string> dns_names;  // optional DNS SANs; the first is also the CN
  absl::Time now;
  absl::Duration ttl = absl::Hours(1);
};

// IssueLeaf returns an X.509-SVID for `subject_key`'s public part: exactly one
// URI SAN, critical keyUsage digitalSignature|keyEncipherment|keyAgreement
// (keyEncipherment only for RSA keys, keyAgreement only for EC keys), EKU
// serverAuth+clientAuth, critical basicConstraints CA:FALSE, AKI/SKI,
// positive random serial, NotBefore backdated kNotBeforeBackdate, NotAfter
// capped at the issuer's NotAfter. Subject is O=SPIFFE plus CN=<first DNS
// name> when it fits (so the SAN extension is non-critical, B3). The
// signature digest is SHA-384 for a P-384 issuer key, SHA-256 otherwise.
// InvalidArgument for a root-path ID, a non-CA issuer or a key that does not
// match the issuer; FailedPrecondition when the issuer has expired at `now`.
[[nodiscard]] absl::StatusOr<X509Ptr> IssueLeaf(const X509* issuer, const EVP_PKEY* issuer_key,
                                                const EVP_PKEY* subject_key, const LeafParams& p);

// ParseCsrDer parses a DER PKCS#10 request and verifies its self-signature.
// InvalidArgument when it does not parse or the signature is wrong.
[[nodiscard]] absl::StatusOr<X509ReqPtr> ParseCsrDer(absl::string_view der);

// ParseCsrPublicKey parses a DER PKCS#10 request, verifies its self-signature
// and returns its SubjectPublicKeyInfo in encoded form (the key is not
// decoded into an EVP_PKEY; X509_PUBKEY_get0 would decode it on demand).
// Same checks and errors as ParseCsrDer. Requests with an EC P-256/P-384 key
// signed with ECDSA/SHA-2 are split with the ASN.1 TLV reader and verified
// with a key imported from its curve and point, which skips OpenSSL 3.0's
// generic key decoder (built per call, it costs more than the signature
// check); every other request goes through ParseCsrDer.
[[nodiscard]] absl::StatusOr<X509PubkeyPtr> ParseCsrPublicKey(absl::string_view der);

// CsrPublicKey returns the (owned) public key of a parsed CSR.
[[nodiscard]] absl::StatusOr<EvpPkeyPtr> CsrPublicKey(const X509_REQ* csr);

// CsrUriSans returns the URI SANs requested in a CSR's extensionRequest.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> CsrUriSans(const X509_REQ* csr);

// IssueLeafFromCsr verifies the CSR signature and issues a leaf for its key
// using `p` (the CSR's own subject and SANs are not trusted).
[[nodiscard]] absl::StatusOr<X509Ptr> IssueLeafFromCsr(const X509* issuer,
                                                       const EVP_PKEY* issuer_key,
                                                       absl::string_view csr_der,
                                                       const LeafParams& p);

// X509Issuer is an issuing CA (certificate + private key) with everything in
// an X.509-SVID that does not depend on the leaf prepared once: the issuer
// name, the AKI, the constant extensions, the fetched digest and a signing
// context. Issuing with it gives the same profile as IssueLeaf without name
// lookups or key encode/decode round trips per certificate. Immutable after
// Create; every method is thread-safe.
class X509Issuer {
 public:
  // Create returns an issuer for `cert`/`key` (both are referenced, not
  // copied). InvalidArgument when `cert` is not a CA, has no SKI or `key`
  // does not match it; Internal on OpenSSL failures.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<X509Issuer>> Create(const X509* cert,
                                                                          const EVP_PKEY* key);
  X509Issuer(const X509Issuer&) = delete;
  X509Issuer& operator=(const X509Issuer&) = delete;
  ~X509Issuer();

  // IssueLeaf issues an X.509-SVID with exactly the profile of the free
  // function IssueLeaf for the public key `subject_key` (for example a CSR's,
  // from ParseCsrPublicKey). Its encoded form is copied and never decoded, so
  // X509_get0_pubkey returns nullptr on the result (OpenSSL 3.0 decodes keys
  // only when parsing); parse its DER for a fully decoded certificate. Same
  // errors as IssueLeaf.
  [[nodiscard]] absl::StatusOr<X509Ptr> IssueLeaf(const X509_PUBKEY* subject_key,
                                                  const LeafParams& p) const;
  // IssueLeaf for a decoded key: the result is a complete certificate
  // object (X509_get0_pubkey works), at the cost of one key encoding.
  [[nodiscard]] absl::StatusOr<X509Ptr> IssueLeaf(const EVP_PKEY* subject_key,
                                                  const LeafParams& p) const;

  // VerifyLeafSignature checks that `leaf` was signed by this issuer's key
  // (signature algorithm and signature over the TBSCertificate).
  // PermissionDenied when not. With `leaf_der` (the DER encoding of `leaf`,
  // as CertToDer returns it) the signature is checked over the
  // TBSCertificate bytes in it, exactly as a relying party sees them, and
  // `leaf` is not re-encoded; InvalidArgument when it does not parse.
  [[nodiscard]] absl::Status VerifyLeafSignature(const X509* leaf,
                                                 absl::string_view leaf_der = {}) const;

  const X509* cert() const { return cert_.get(); }
  absl::Time not_after() const { return not_after_; }

 private:
  X509Issuer() = default;
  absl::StatusOr<X509Ptr> IssueLeafImpl(const X509_PUBKEY* encoded, const EVP_PKEY* decoded,
                                        const LeafParams& p) const;

  X509Ptr cert_;
  EvpPkeyPtr key_;
  absl::Time not_after_;
  EVP_MD* sha1_ = nullptr;       // owned (EVP_MD_fetch); SKI
  EvpMdCtxPtr sign_template_;    // EVP_DigestSignInit_ex done, no data
  EvpMdCtxPtr verify_template_;  // EVP_DigestVerifyInit_ex done, no data
  int sig_nid_ = NID_undef;      // signature algorithm of the leaves
  X509NamePtr spiffe_subject_;   // O=SPIFFE
  X509ExtensionPtr basic_constraints_, key_usage_ec_, key_usage_rsa_, ext_key_usage_, aki_;
};

// VerifyIssuedX509Svid re-verifies an X.509-SVID that `issuer` has just
// issued, against `bundles` at `now`, without building a chain: the leaf
// checks of VerifyX509Svid (B1, B2, B4/B10, B6/B13), the issuer certificate
// is an X.509 authority of the leaf's trust-domain bundle, the leaf names the
// issuer (X509_check_issued: name, AKI, key usage), both are valid at `now`,
// the leaf's validity lies within the issuer's, and the signature verifies
// with the issuer's key. Returns the leaf's SPIFFE ID, or
// InvalidArgument/PermissionDenied naming the defect (as VerifyX509Svid).
// `leaf_der`, when given, is the DER of `leaf`: see VerifyLeafSignature.
[[nodiscard]] absl::StatusOr<SpiffeId> VerifyIssuedX509Svid(const X509* leaf,
                                                            const X509Issuer& issuer,
                                                            const BundleSet& bundles,
                                                            absl::Time now,
                                                            absl::string_view leaf_der = {});

}  // namespace signet

#endif  // SIGNET_COMMON_ISSUANCE_X509_ISSUER_H_
