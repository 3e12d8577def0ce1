#include "client/grpc_credentials.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/tls.h"
#include "common/file.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/x509.h"

namespace signet::client {
namespace {

namespace fs = std::filesystem;
using grpc::experimental::TlsCustomVerificationCheckRequest;

constexpr char kKeyFile[] = "svid_key.pem";
constexpr char kCertFile[] = "svid.pem";
// Generations kept on disk (the file watcher may still be reading the
// previous one).
constexpr int kKeepGenerations = 3;

// SpiffeVerifier runs VerifyPeer on the peer chain gRPC hands us.
class SpiffeVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  SpiffeVerifier(const X509BundleSource* bundles, Authorizer authorizer)
      : bundles_(bundles), authorizer_(std::move(authorizer)) {}

  bool Verify(TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    grpc::string_ref chain_pem = request->peer_cert_full_chain();
    if (chain_pem.empty()) chain_pem = request->peer_cert();
    absl::StatusOr<std::vector<X509Ptr>> chain =
        ParseCertsPem(absl::string_view(chain_pem.data(), chain_pem.size()));
    if (!chain.ok()) {
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no peer certificate");
      return true;
    }
    absl::StatusOr<SpiffeId> id = VerifyPeer(*chain, *bundles_, authorizer_, absl::Now());
    if (!id.ok()) {
      LogWarn("gRPC TLS peer refused", {{"error", id.status().ToString()}});
      *sync_status = ToGrpcStatus(id.status());
      return true;
    }
    *sync_status = grpc::Status::OK;
    return true;
  }
  void Cancel(TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const X509BundleSource* bundles_;
  const Authorizer authorizer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcTlsCredentials>> GrpcTlsCredentials::Create(
    X509Source* source, Authorizer authorizer, const X509BundleSource* bundles,
    unsigned int refresh_interval_sec) {
  std::unique_ptr<GrpcTlsCredentials> c(new GrpcTlsCredentials());
  c->source_ = source;
  char tmpl[] = "/tmp/signet-grpc-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("cannot create a private directory");
  c->dir_ = tmpl;  // mkdtemp creates it 0700
  std::shared_ptr<const X509Svid> svid = source->GetX509Svid();
  if (svid == nullptr) return absl::FailedPreconditionError("source has no X.509-SVID");
  absl::Status s = c->WriteGeneration(*svid);
  if (!s.ok()) return s;
  GrpcTlsCredentials* self = c.get();
  c->callback_id_ = source->AddUpdateCallback([self](const X509Context& ctx) {
    absl::Status w = self->WriteGeneration(*ctx.svids[0]);
    if (!w.ok()) LogError("cannot store rotated SVID for gRPC", {{"error", w.ToString()}});
  });
  std::string current = c->dir_ + "/current/";
  c->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      current + kKeyFile, current + kCertFile, refresh_interval_sec);
  c->verifier_ = grpc::experimental::ExternalCertificateVerifier::Create<SpiffeVerifier>(
      bundles != nullptr ? bundles : static_cast<const X509BundleSource*>(source),
      std::move(authorizer));
  return c;
}

GrpcTlsCredentials::~GrpcTlsCredentials() {
  if (source_ != nullptr && callback_id_ >= 0) source_->RemoveUpdateCallback(callback_id_);
  provider_.reset();
  verifier_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

absl::Status GrpcTlsCredentials::WriteGeneration(const X509Svid& svid) {
  absl::MutexLock l(&mu_);
  int gen = ++generation_;
  std::string gen_dir = absl::StrCat(dir_, "/gen-", gen);
  if (mkdir(gen_dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("cannot create ", gen_dir));
  }
  std::string key = svid.KeyPem();
  std::string chain = svid.ChainPem();
  if (key.empty() || chain.empty()) return absl::InternalError("cannot encode the SVID");
  absl::Status s = WriteFileAtomic(gen_dir + "/" + kKeyFile, key, 0600);
  if (s.ok()) s = WriteFileAtomic(gen_dir + "/" + kCertFile, chain, 0644);
  if (!s.ok()) return s;
  // Swap "current" atomically: symlink under a temporary name, then rename.
  std::string tmp_link = absl::StrCat(dir_, "/current.tmp");
  unlink(tmp_link.c_str());
  if (symlink(absl::StrCat("gen-", gen).c_str(), tmp_link.c_str()) != 0 ||
      rename(tmp_link.c_str(), (dir_ + "/current").c_str()) != 0) {
    return absl::InternalError("cannot switch the current SVID link");
  }
  if (gen > kKeepGenerations) {
    std::error_code ec;
    fs::remove_all(absl::StrCat(dir_, "/gen-", gen - kKeepGenerations), ec);
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ChannelCredentials> GrpcTlsCredentials::ChannelCredentials() const {
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(provider_);
  opts.watch_identity_key_cert_pairs();
  opts.set_verify_server_certs(false);  // our verifier decides
  opts.set_check_call_host(false);      // SPIFFE IDs, not host names
  opts.set_certificate_verifier(verifier_);
  return grpc::experimental::TlsCredentials(opts);
}

std::shared_ptr<grpc::ServerCredentials> GrpcTlsCredentials::ServerCredentials() const {
  grpc::experimental::TlsServerCredentialsOptions opts(provider_);
  opts.watch_identity_key_cert_pairs();
  opts.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  opts.set_certificate_verifier(verifier_);
  return grpc::experimental::TlsServerCredentials(opts);
}

absl::StatusOr<SpiffeId> PeerSpiffeIdFromAuthContext(const grpc::AuthContext& ctx) {
  std::vector<grpc::string_ref> pem = ctx.FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return absl::UnauthenticatedError("peer presented no certificate");
  absl::StatusOr<std::vector<X509Ptr>> certs =
      ParseCertsPem(absl::string_view(pem[0].data(), pem[0].size()));
  if (!certs.ok()) return absl::UnauthenticatedError("peer certificate does not parse");
  return SpiffeIdFromCert((*certs)[0].get());
}

}  // namespace signet::client
