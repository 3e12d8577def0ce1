// Fuzzes the server's CSR handling: ParseCsrDer, ParseCsrPublicKey (the
// fast path server/ca.cc uses) and IssueLeafFromCsr with a
// test CA. Whatever the CSR asks for, an issued leaf carries exactly the ID
// the server chose.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"

namespace {

struct Ca {
  signet::EvpPkeyPtr key;
  signet::X509Ptr cert;
};

const Ca& GetCa() {
  static const Ca* ca = [] {
    auto* c = new Ca;
    c->key = *signet::GenerateKey(signet::KeyType::kEcP256);
    signet::CaParams p{*signet::TrustDomain::FromString("example.org"), "Fuzz CA", "SPIFFE",
                       absl::FromUnixSeconds(1700000000), absl::Hours(24)};
    c->cert = *signet::CreateSelfSignedCa(c->key.get(), p);
    return c;
  }();
  return *ca;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string der(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<signet::X509ReqPtr> csr = signet::ParseCsrDer(der);
  if (csr.ok()) {
    (void)signet::CsrPublicKey(csr->get());
    (void)signet::CsrUriSans(csr->get());
  }
  // The server's fast path (its own DER walk plus signature check) must never
  // accept a request that OpenSSL's full parser rejects.
  absl::StatusOr<signet::X509PubkeyPtr> fast = signet::ParseCsrPublicKey(der);
  if (fast.ok() && !csr.ok()) abort();
  const Ca& ca = GetCa();
  signet::SpiffeId id = *signet::SpiffeId::FromString("spiffe://example.org/workload");
  signet::LeafParams p{id, {}, absl::FromUnixSeconds(1700000100), absl::Hours(1)};
  absl::StatusOr<signet::X509Ptr> leaf =
      signet::IssueLeafFromCsr(ca.cert.get(), ca.key.get(), der, p);
  if (leaf.ok()) {
    if (!csr.ok()) abort();  // issued for a CSR that does not parse
    absl::StatusOr<signet::SpiffeId> got = signet::SpiffeIdFromCert(leaf->get());
    if (!got.ok() || !(*got == id)) abort();
  }
  return 0;
}
