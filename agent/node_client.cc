#include "agent/node_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/nodeattestor/registry.h"
#include "common/bundle.h"
#include "common/bundle_proto.h"
#include "common/grpc_status.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::agent {
namespace {

// ServerIdVerifier accepts only a server certificate that chains to the
// trust bundle (when there is one) and whose URI SAN is exactly the expected
// server SPIFFE ID. The chain is verified here rather than by gRPC so that a
// server clock up to kServerClockSkewLeeway ahead of ours is tolerated: a
// chain rejected at `now` is tried again at `now + leeway`, which accepts a
// NotBefore that is still (by our clock) in the future but never an expired
// certificate (one expired at `now` is expired later too).
//
// Without a bundle (insecure bootstrap) only the URI SAN is compared: that
// catches a server_address that points at another trust domain's server,
// but anyone can put that SAN in a certificate, so it authenticates nothing.
// A refusal reaches the caller as Unavailable whose message ends with this
// verifier's reason.
class ServerIdVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  ServerIdVerifier(std::string expected, std::shared_ptr<const BundleSet> bundles)
      : expected_(std::move(expected)), bundles_(std::move(bundles)) {}
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    *sync_status = Check(request);
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  grpc::Status Check(grpc::experimental::TlsCustomVerificationCheckRequest* request) const {
    std::vector<grpc::string_ref> uris = request->uri_names();
    if (uris.size() != 1 || std::string(uris[0].data(), uris[0].size()) != expected_) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "server certificate does not carry " + expected_);
    }
    if (!bundles_) return grpc::Status::OK;  // insecure bootstrap: no bundle yet
    grpc::string_ref pem = request->peer_cert_full_chain();
    absl::StatusOr<std::vector<X509Ptr>> chain =
        ParseCertsPem(absl::string_view(pem.data(), pem.size()));
    if (!chain.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "server certificate chain: " + std::string(chain.status().message()));
    }
    absl::Time now = absl::Now();
    absl::StatusOr<SpiffeId> id = VerifyX509Svid(*chain, *bundles_, now);
    if (!id.ok() && VerifyX509Svid(*chain, *bundles_, now + kServerClockSkewLeeway).ok()) {
      LogWarn(
          "server certificate is not yet valid by this node's clock; accepted within the "
          "clock skew leeway: check NTP on this node and the server",
          {{"not_before", absl::FormatTime(CertNotBefore((*chain)[0].get()))},
           {"leeway", absl::FormatDuration(kServerClockSkewLeeway)}});
      return grpc::Status::OK;
    }
    if (!id.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "server certificate: " + std::string(id.status().message()));
    }
    return grpc::Status::OK;
  }

  const std::string expected_;
  const std::shared_ptr<const BundleSet> bundles_;
};

}  // namespace

std::string ServerSpiffeId(const TrustDomain& td) { return td.IdString() + "/spire/server"; }

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ServerChannelCredentials(
    const TrustDomain& td, const Bundle* bundle, const AgentIdentity* identity) {
  // gRPC aborts the process (an assertion, not an error) when a certificate
  // provider holds neither roots nor an identity, and fails handshakes
  // obscurely on an empty chain: refuse both here with a Status.
  std::string roots;
  if (bundle != nullptr) {
    if (bundle->x509_authorities().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the trust bundle of ", td.name(), " holds no X.509 authority to verify the server"));
    }
    roots = bundle->X509AuthoritiesPem();
    if (roots.empty()) return absl::InternalError("cannot encode the trust bundle");
  }
  std::vector<grpc::experimental::IdentityKeyCertPair> pairs;
  if (identity != nullptr) {
    if (identity->chain.empty() || identity->key == nullptr) {
      return absl::InvalidArgumentError("the agent identity has no certificate or no key");
    }
    grpc::experimental::IdentityKeyCertPair p;
    ASSIGN_OR_RETURN(p.private_key, PrivateKeyToPkcs8Pem(identity->key.get()));
    for (const X509Ptr& c : identity->chain) {
      ASSIGN_OR_RETURN(std::string pem, CertToPem(c.get()));
      p.certificate_chain += pem;
    }
    pairs.push_back(std::move(p));
  }
  grpc::experimental::TlsChannelCredentialsOptions opts;
  // Without a bundle (insecure bootstrap) and without an identity (node
  // attestation) there is nothing to provide: no provider at all, which
  // gRPC allows on the client side.
  if (!roots.empty() || !pairs.empty()) {
    opts.set_certificate_provider(
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(roots, pairs));
  }
  if (!roots.empty()) opts.watch_root_certs();
  if (!pairs.empty()) opts.watch_identity_key_cert_pairs();
  // Chain verification is ServerIdVerifier's (with the clock skew leeway);
  // none at all in an insecure bootstrap.
  opts.set_verify_server_certs(false);
  opts.set_check_call_host(false);
  std::shared_ptr<BundleSet> bundles;
  if (bundle != nullptr) {
    bundles = std::make_shared<BundleSet>();
    bundles->Put(*bundle);
  }
  opts.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<ServerIdVerifier>(
          ServerSpiffeId(td), std::move(bundles)));
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::experimental::TlsCredentials(opts);
  if (!creds) return absl::InternalError("could not build TLS channel credentials");
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewServerChannel(const std::string& target,
                                                                const TrustDomain& td,
                                                                const Bundle* bundle,
                                                                const AgentIdentity* identity) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                   ServerChannelCredentials(td, bundle, identity));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  // A fresh subchannel per channel: credentials differ between channels.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, creds, args);
}

absl::StatusOr<std::vector<X509Ptr>> ChainFromProto(const signet::types::X509Svid& svid) {
  std::vector<X509Ptr> chain;
  for (const std::string& der : svid.cert_chain()) {
    ASSIGN_OR_RETURN(X509Ptr c, ParseCertDer(der));
    chain.push_back(std::move(c));
  }
  if (chain.empty()) return absl::InternalError("server returned an empty certificate chain");
  return chain;
}

absl::StatusOr<AttestOutcome> AttestAgent(signet::agent::Node::Stub* stub,
                                          const AgentConfig& config, const EVP_PKEY* agent_key) {
  ASSIGN_OR_RETURN(std::string csr, CreateCsrDer(agent_key));
  signet::agent::AttestRequest req;
  auto* params = req.mutable_params();
  params->set_csr(csr);
  const NodeAttestorPlugin* plugin = NodeAttestors().Find(config.node_attestor);
  if (plugin == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("unsupported node attestor \"", config.node_attestor, "\""));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<NodeAttestor> attestor, plugin->create(config));
  params->mutable_data()->set_type(plugin->name);
  ASSIGN_OR_RETURN(*params->mutable_data()->mutable_payload(), attestor->Payload());

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->Attest(&ctx);
  if (!stream->Write(req)) return FromGrpcStatus(stream->Finish());
  signet::agent::AttestResponse resp;
  for (;;) {
    if (!stream->Read(&resp)) {
      grpc::Status s = stream->Finish();
      if (s.ok()) return absl::InternalError("attestation ended without a result");
      return FromGrpcStatus(s);
    }
    if (resp.has_challenge()) {
      ASSIGN_OR_RETURN(std::string sig, attestor->AnswerChallenge(resp.challenge()));
      signet::agent::AttestRequest cr;
      cr.set_challenge_response(sig);
      if (!stream->Write(cr)) return FromGrpcStatus(stream->Finish());
      continue;
    }
    if (resp.has_result()) break;
  }
  stream->WritesDone();
  (void)stream->Finish();
  ASSIGN_OR_RETURN(std::vector<X509Ptr> chain, ChainFromProto(resp.result().svid()));
  ASSIGN_OR_RETURN(Bundle bundle, BundleFromProto(resp.result().bundle()));
  return AttestOutcome{std::move(chain), std::move(bundle)};
}

}  // namespace signet::agent
