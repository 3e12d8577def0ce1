// TestPki: a throwaway CA minted in the test that issues TLS serving
// certificates for fake HTTPS daemons (kubelet, kube-apiserver). Header-only.
#ifndef SIGNET_TEST_FAKES_TEST_PKI_H_
#define SIGNET_TEST_FAKES_TEST_PKI_H_

#include <string>

#include "absl/time/clock.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/openssl_util.h"
#include "common/x509.h"
#include "test/fakes/http_fake_server.h"

namespace signet::testfakes {

struct TestPki {
  EvpPkeyPtr ca_key;
  X509Ptr ca;
  std::string ca_pem;

  // Make returns a fresh CA ("<name>"); aborts the test binary on failure.
  static TestPki Make(const std::string& name = "test-ca") {
    TestPki p;
    p.ca_key = GenerateKey(KeyType::kEcP256).value();
    CaParams cp{TrustDomain::FromString("cluster.local").value(), name, "SPIFFE", absl::Now(),
                absl::Hours(24)};
    p.ca = CreateSelfSignedCa(p.ca_key.get(), cp).value();
    p.ca_pem = CertToPem(p.ca.get()).value();
    return p;
  }

  // ServerContext returns a TLS server context presenting a certificate for
  // DNS name `dns` issued by this CA; nullptr on failure.
  SslCtxPtr ServerContext(const std::string& dns) const {
    EvpPkeyPtr key = GenerateKey(KeyType::kEcP256).value();
    LeafParams lp{SpiffeId::FromString("spiffe://cluster.local/server").value(),
                  {dns},
                  absl::Now(),
                  absl::Hours(1)};
    X509Ptr leaf = IssueLeaf(ca.get(), ca_key.get(), key.get(), lp).value();
    return FakeHttpServer::TlsContext(leaf.get(), key.get());
  }
};

}  // namespace signet::testfakes

#endif  // SIGNET_TEST_FAKES_TEST_PKI_H_
