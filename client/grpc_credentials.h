// gRPC C++ channel and server credentials backed by an X509Source, with
// SPIFFE peer verification and an Authorizer.
//
// gRPC 1.51's C++ API has no certificate provider that can be fed from
// memory and updated (only StaticDataCertificateProvider, fixed, and
// FileWatcherCertificateProvider). Rotation is therefore done through files:
// every update of the source is written into a private 0700 temporary
// directory as a new generation directory, and a "current" symlink is swapped
// atomically (the scheme the gRPC header recommends), so the file watcher
// never reads a key and certificate that do not match. gRPC picks the new SVID
// up within `refresh_interval` (new handshakes only; established connections
// keep theirs). Peer verification is entirely ours: gRPC's own chain and host
// name checks are off, and an ExternalCertificateVerifier runs VerifyPeer
// (VerifyX509Svid against the bundle of the peer's trust domain, then the
// Authorizer).
#ifndef SIGNET_CLIENT_GRPC_CREDENTIALS_H_
#define SIGNET_CLIENT_GRPC_CREDENTIALS_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/authorizer.h"
#include "client/x509_source.h"

namespace signet::client {

// GrpcTlsCredentials owns the key material directory and the certificate
// provider shared by the credentials it makes. It must outlive every channel
// and server built from them, and `source`/`bundles` must outlive it.
// Thread-safe.
class GrpcTlsCredentials {
 public:
  // Create writes the current SVID, subscribes to rotations and builds the
  // provider and verifier. `bundles` null: the source's own bundles.
  // Internal when the directory or files cannot be written.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GrpcTlsCredentials>> Create(
      X509Source* source, Authorizer authorizer, const X509BundleSource* bundles = nullptr,
      unsigned int refresh_interval_sec = 1);
  ~GrpcTlsCredentials();
  GrpcTlsCredentials(const GrpcTlsCredentials&) = delete;
  GrpcTlsCredentials& operator=(const GrpcTlsCredentials&) = delete;

  // ChannelCredentials: presents our SVID, verifies the server.
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;
  // ServerCredentials: presents our SVID, requires and verifies a client SVID.
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;

  // directory returns the private directory holding the key material.
  const std::string& directory() const { return dir_; }

 private:
  GrpcTlsCredentials() = default;
  absl::Status WriteGeneration(const X509Svid& svid);

  X509Source* source_ = nullptr;
  int callback_id_ = -1;
  std::string dir_;
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> provider_;
  std::shared_ptr<grpc::experimental::CertificateVerifier> verifier_;

  // Guarded by mu_
  absl::Mutex mu_;
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
};

// PeerSpiffeIdFromAuthContext returns the SPIFFE ID of the peer certificate
// of a gRPC call (property "x509_pem_cert"); Unauthenticated when absent.
// It was already verified and authorized by the credentials above.
[[nodiscard]] absl::StatusOr<SpiffeId> PeerSpiffeIdFromAuthContext(const grpc::AuthContext& ctx);

}  // namespace signet::client

#endif  // SIGNET_CLIENT_GRPC_CREDENTIALS_H_
