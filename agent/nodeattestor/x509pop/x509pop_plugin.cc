#include "agent/nodeattestor/x509pop/x509pop_plugin.h"

#include <openssl/evp.h>

#include <memory>
#include <utility>
#include <vector>

#include "common/keys.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::agent {
namespace {

class X509PopAttestor final : public NodeAttestor {
 public:
  X509PopAttestor(EvpPkeyPtr key, std::string chain_der)
      : key_(std::move(key)), chain_der_(std::move(chain_der)) {}

  absl::StatusOr<std::string> Payload() override { return chain_der_; }
  absl::StatusOr<std::string> AnswerChallenge(absl::string_view challenge) override {
    return SignChallenge(key_.get(), challenge);
  }

 private:
  const EvpPkeyPtr key_;
  const std::string chain_der_;  // concatenated DER, leaf first
};

void ReadConfig(ConfigSection& d, AgentConfig& c) {
  c.x509pop_private_key_path = d.String("private_key_path");
  c.x509pop_certificate_path = d.String("certificate_path");
  c.x509pop_intermediates_path = d.String("intermediates_path");
  if (c.x509pop_private_key_path.empty()) d.Error("private_key_path", "is required");
  if (c.x509pop_certificate_path.empty()) d.Error("certificate_path", "is required");
}

bool HasCredentials(const AgentConfig&) { return true; }

absl::StatusOr<std::unique_ptr<NodeAttestor>> Create(const AgentConfig& config) {
  ASSIGN_OR_RETURN(std::string key_pem, ReadAttestationFile(config.x509pop_private_key_path));
  ASSIGN_OR_RETURN(EvpPkeyPtr pop_key, ParsePrivateKeyPem(key_pem));
  ASSIGN_OR_RETURN(std::string cert_pem, ReadAttestationFile(config.x509pop_certificate_path));
  ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ParseCertsPem(cert_pem));
  if (!config.x509pop_intermediates_path.empty()) {
    ASSIGN_OR_RETURN(std::string ipem, ReadAttestationFile(config.x509pop_intermediates_path));
    ASSIGN_OR_RETURN(std::vector<X509Ptr> inter, ParseCertsPem(ipem));
    for (auto& c : inter) certs.push_back(std::move(c));
  }
  std::string payload;
  for (const X509Ptr& c : certs) {
    ASSIGN_OR_RETURN(std::string der, CertToDer(c.get()));
    payload += der;
  }
  return std::make_unique<X509PopAttestor>(std::move(pop_key), std::move(payload));
}

}  // namespace

NodeAttestorPlugin X509PopNodeAttestor() { return {"x509pop", ReadConfig, HasCredentials, Create}; }

absl::StatusOr<std::string> SignChallenge(const EVP_PKEY* key, absl::string_view challenge) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return OpensslError("EVP_MD_CTX_new");
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, const_cast<EVP_PKEY*>(key)) !=
      1) {
    return OpensslError("EVP_DigestSignInit");
  }
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(challenge.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, challenge.size()) != 1) {
    return OpensslError("EVP_DigestSign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     challenge.size()) != 1) {
    return OpensslError("EVP_DigestSign");
  }
  sig.resize(len);
  return sig;
}

}  // namespace signet::agent
