#include "client/tls.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/bundle.h"
#include "common/log.h"
#include "common/x509.h"

namespace signet::client {
namespace {

// CtxState is attached to each SSL_CTX (freed with it).
struct CtxState {
  const X509SvidSource* svids;
  const X509BundleSource* bundles;
  Authorizer authorizer;
};

// SslState is attached to each SSL whose peer we checked (freed with it).
struct SslState {
  absl::Status status;
  std::optional<SpiffeId> peer;
};

void FreeCtxState(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                  void* /*argp*/) {
  delete static_cast<CtxState*>(ptr);
}

void FreeSslState(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                  void* /*argp*/) {
  delete static_cast<SslState*>(ptr);
}

int CtxIndex() {
  static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeCtxState);
  return idx;
}

int SslIndex() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeSslState);
  return idx;
}

// CertCallback installs the source's current SVID on the SSL being
// handshaken.
int CertCallback(SSL* ssl, void* arg) {
  const auto* st = static_cast<const CtxState*>(arg);
  std::shared_ptr<const X509Svid> svid = st->svids->GetX509Svid();
  if (svid == nullptr || svid->chain.empty()) {
    LogError("TLS handshake: no X.509-SVID available");
    return 0;
  }
  if (SSL_use_certificate(ssl, svid->chain[0].get()) != 1 ||
      SSL_use_PrivateKey(ssl, svid->private_key.get()) != 1) {
    LogError("TLS handshake: cannot install X.509-SVID",
             {{"error", OpensslError("SSL_use_certificate").ToString()}});
    return 0;
  }
  X509StackPtr chain(sk_X509_new_null());
  if (chain == nullptr) return 0;
  for (size_t i = 1; i < svid->chain.size(); ++i) {
    if (sk_X509_push(chain.get(), svid->chain[i].get()) <= 0) return 0;
    X509_up_ref(svid->chain[i].get());
  }
  if (SSL_set1_chain(ssl, chain.get()) != 1) return 0;
  return 1;
}

SslState* GetOrCreateSslState(SSL* ssl) {
  auto* s = static_cast<SslState*>(SSL_get_ex_data(ssl, SslIndex()));
  if (s == nullptr) {
    s = new SslState();
    if (SSL_set_ex_data(ssl, SslIndex(), s) != 1) {
      delete s;
      return nullptr;
    }
  }
  return s;
}

// VerifyCallback replaces OpenSSL's chain verification with VerifyPeer.
int VerifyCallback(X509_STORE_CTX* store_ctx, void* arg) {
  const auto* st = static_cast<const CtxState*>(arg);
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  if (ssl == nullptr || leaf == nullptr) return 0;
  std::vector<X509Ptr> chain;
  chain.push_back(CopyCert(leaf));
  if (STACK_OF(X509)* untrusted = X509_STORE_CTX_get0_untrusted(store_ctx)) {
    for (int i = 0; i < sk_X509_num(untrusted); ++i) {
      X509* c = sk_X509_value(untrusted, i);
      if (c == leaf || X509_cmp(c, leaf) == 0) continue;
      chain.push_back(CopyCert(c));
    }
  }
  absl::StatusOr<SpiffeId> id = VerifyPeer(chain, *st->bundles, st->authorizer, absl::Now());
  SslState* state = GetOrCreateSslState(ssl);
  if (state != nullptr) {
    state->status = id.status();
    if (id.ok()) state->peer = *id;
  }
  if (!id.ok()) {
    LogWarn("TLS peer refused", {{"error", id.status().ToString()}});
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
  return 1;
}

absl::StatusOr<SslCtxPtr> MakeContext(bool server, const X509SvidSource& svids,
                                      const X509BundleSource& bundles, Authorizer authorizer) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (ctx == nullptr) return OpensslError("SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return OpensslError("SSL_CTX_set_min_proto_version");
  }
  auto* state = new CtxState{&svids, &bundles, std::move(authorizer)};
  if (SSL_CTX_set_ex_data(ctx.get(), CtxIndex(), state) != 1) {
    delete state;
    return OpensslError("SSL_CTX_set_ex_data");
  }
  SSL_CTX_set_cert_cb(ctx.get(), CertCallback, state);
  SSL_CTX_set_cert_verify_callback(ctx.get(), VerifyCallback, state);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  if (server) SSL_CTX_set_num_tickets(ctx.get(), 0);
  return ctx;
}

}  // namespace

absl::StatusOr<SpiffeId> VerifyPeer(const std::vector<X509Ptr>& chain,
                                    const X509BundleSource& bundles, const Authorizer& authorizer,
                                    absl::Time now) {
  if (chain.empty()) return absl::UnauthenticatedError("peer presented no certificate");
  std::shared_ptr<const BundleSet> set = bundles.GetX509Bundles();
  if (set == nullptr) return absl::UnavailableError("no X.509 bundles available yet");
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(chain, *set, now);
  if (!id.ok()) return id.status();
  if (!authorizer) return absl::PermissionDeniedError("no authorizer configured");
  absl::Status authz = authorizer(*id);
  if (!authz.ok()) return authz;
  return id;
}

absl::StatusOr<SslCtxPtr> MakeTlsServerContext(const X509SvidSource& svids,
                                               const X509BundleSource& bundles,
                                               Authorizer authorizer) {
  return MakeContext(true, svids, bundles, std::move(authorizer));
}

absl::StatusOr<SslCtxPtr> MakeTlsClientContext(const X509SvidSource& svids,
                                               const X509BundleSource& bundles,
                                               Authorizer authorizer) {
  return MakeContext(false, svids, bundles, std::move(authorizer));
}

absl::StatusOr<SpiffeId> PeerSpiffeId(const SSL* ssl) {
  const auto* s = static_cast<const SslState*>(SSL_get_ex_data(ssl, SslIndex()));
  if (s == nullptr || !s->peer.has_value() || !s->status.ok()) {
    return absl::FailedPreconditionError("no authenticated peer");
  }
  return *s->peer;
}

absl::Status PeerVerificationStatus(const SSL* ssl) {
  const auto* s = static_cast<const SslState*>(SSL_get_ex_data(ssl, SslIndex()));
  if (s == nullptr) return absl::FailedPreconditionError("peer certificate was not checked");
  return s->status;
}

}  // namespace signet::client
