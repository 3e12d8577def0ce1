// RAII owners for OpenSSL objects and the one helper that turns the OpenSSL
// error queue into an absl::Status.
#ifndef SIGNET_COMMON_OPENSSL_UTIL_H_
#define SIGNET_COMMON_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace signet {

template <typename T, void (*F)(T*)>
struct OpensslDeleter {
  void operator()(T* p) const { F(p); }
};

namespace internal {
inline void FreeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
inline void FreeGeneralNames(GENERAL_NAMES* n) { GENERAL_NAMES_free(n); }
inline void FreeX509ExtensionStack(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
inline void FreeOpensslString(char* p) { OPENSSL_free(p); }
inline void FreeOpensslBytes(unsigned char* p) { OPENSSL_free(p); }
}  // namespace internal

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslDeleter<X509, X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpensslDeleter<X509_REQ, X509_REQ_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpensslDeleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpensslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using X509StackPtr =
    std::unique_ptr<STACK_OF(X509), OpensslDeleter<STACK_OF(X509), internal::FreeX509Stack>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, OpensslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;
using X509ExtensionStackPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION),
                    OpensslDeleter<STACK_OF(X509_EXTENSION), internal::FreeX509ExtensionStack>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, OpensslDeleter<GENERAL_NAMES, internal::FreeGeneralNames>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<BIO, BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<BIGNUM, BN_free>>;
using Asn1IntegerPtr =
    std::unique_ptr<ASN1_INTEGER, OpensslDeleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslDeleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpensslDeleter<SSL, SSL_free>>;
using OpensslBytesPtr =
    std::unique_ptr<unsigned char, OpensslDeleter<unsigned char, internal::FreeOpensslBytes>>;
using OpensslStringPtr = std::unique_ptr<char, OpensslDeleter<char, internal::FreeOpensslString>>;

// OpensslError drains the calling thread's OpenSSL error queue and returns a
// Status with `code` whose message is "<context>: <first error>[; more...]".
[[nodiscard]] absl::Status OpensslError(absl::string_view context,
                                        absl::StatusCode code = absl::StatusCode::kInternal);

// ClearOpensslErrors empties the calling thread's error queue.
void ClearOpensslErrors();

}  // namespace signet

#endif  // SIGNET_COMMON_OPENSSL_UTIL_H_
