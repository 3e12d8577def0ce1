#include "server/nodeattestor/x509pop/x509pop.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "absl/strings/str_cat.h"
#include "common/keys.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::server {
namespace {

signet::types::Selector Sel(const std::string& v) {
  signet::types::Selector s;
  s.set_type("x509pop");
  s.set_value(v);
  return s;
}

std::string SubjectCn(const X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

std::string Sha1Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr) != 1) return "";
  return HexEncode(absl::string_view(reinterpret_cast<char*>(md), len));
}

absl::StatusOr<X509PopIdentity> VerifyX509PopChain(absl::string_view chain_der,
                                                   const std::vector<X509Ptr>& roots,
                                                   absl::Time now) {
  absl::StatusOr<std::vector<X509Ptr>> chain = ParseCertsDer(chain_der);
  if (!chain.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("x509pop: invalid certificate chain: ", chain.status().message()));
  }
  X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  if (!store || !untrusted) return OpensslError("x509pop: allocating store");
  for (const X509Ptr& r : roots) X509_STORE_add_cert(store.get(), r.get());
  for (size_t i = 1; i < chain->size(); ++i) {
    X509_up_ref((*chain)[i].get());
    sk_X509_push(untrusted.get(), (*chain)[i].get());
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx ||
      X509_STORE_CTX_init(ctx.get(), store.get(), (*chain)[0].get(), untrusted.get()) != 1) {
    return OpensslError("x509pop: initialising verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(now));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ClearOpensslErrors();
    return absl::PermissionDeniedError(absl::StrCat(
        "x509pop: certificate chain verification failed: ", X509_verify_cert_error_string(err)));
  }
  X509PopIdentity id;
  const X509* leaf = (*chain)[0].get();
  ASSIGN_OR_RETURN(std::string leaf_der, CertToDer(leaf));
  id.fingerprint = Sha1Hex(leaf_der);
  std::string cn = SubjectCn(leaf);
  if (!cn.empty()) id.selectors.push_back(Sel("subject:cn:" + cn));
  STACK_OF(X509)* verified = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 1; i < sk_X509_num(verified); ++i) {
    absl::StatusOr<std::string> der = CertToDer(sk_X509_value(verified, i));
    if (der.ok()) id.selectors.push_back(Sel("ca:fingerprint:" + Sha1Hex(*der)));
  }
  EVP_PKEY* pub = X509_get0_pubkey(leaf);
  if (pub == nullptr) return absl::InvalidArgumentError("x509pop: leaf has no public key");
  EVP_PKEY_up_ref(pub);
  id.leaf_key.reset(pub);
  return id;
}

absl::Status VerifyChallengeSignature(const EVP_PKEY* key, absl::string_view challenge,
                                      absl::string_view signature) {
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr,
                                  const_cast<EVP_PKEY*>(key)) != 1) {
    ClearOpensslErrors();
    return absl::PermissionDeniedError("x509pop: challenge response verification failed");
  }
  int ok = EVP_DigestVerify(
      md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(challenge.data()), challenge.size());
  if (ok != 1) {
    ClearOpensslErrors();
    return absl::PermissionDeniedError("x509pop: challenge response verification failed");
  }
  return absl::OkStatus();
}

}  // namespace signet::server
