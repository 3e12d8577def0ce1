// The server's certificate authority: a self-signed X.509 CA and a JWT signing
// key, each with two slots (current, next) rotated as SPIRE does, and the trust
// bundle that publishes them.
#ifndef SIGNET_SERVER_CA_H_
#define SIGNET_SERVER_CA_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/bundle.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/openssl_util.h"
#include "common/spiffe_id.h"
#include "common/worker_pool.h"
#include "common/x509.h"
#include "server/clock.h"
#include "server/datastore/datastore.h"
#include "server/key_manager.h"
#include "signet/types.pb.h"

namespace signet::server {

struct CaOptions {
  explicit CaOptions(TrustDomain td) : trust_domain(std::move(td)) {}
  TrustDomain trust_domain;
  KeyType ca_key_type = KeyType::kEcP256;
  KeyType jwt_key_type = KeyType::kEcP256;
  absl::Duration ca_ttl = absl::Hours(24);
  std::string ca_common_name = "Signet CA";
  std::string ca_organization = "SPIFFE";
  std::string jwt_issuer;
  absl::Duration default_x509_svid_ttl = absl::Hours(1);
  absl::Duration default_jwt_svid_ttl = absl::Minutes(5);
  // Threads that sign one batch of CSRs (SignX509SvidsFromCsrs), the calling
  // thread included; 0: std::thread::hardware_concurrency(). The CA starts
  // that many pool workers once (none for 1).
  int sign_threads = 0;
  // When true, Create refuses (FailedPrecondition) to replace an authority
  // recorded in the datastore whose key is unusable -- the key file exists but
  // does not parse or cannot be read, or the certificate record is invalid --
  // or, when no authority of a kind (X.509 or JWT) can be loaded, whose key
  // file is missing, instead of warning and preparing a new one (a new root
  // that agents holding the current bundle do not trust). The server sets it
  // for the disk key manager unless started with -allowNewCA.
  bool refuse_lost_keys = false;
};

// Phase of one slot pair, for observers and tests.
struct CaStatus {
  std::string current_x509_serial;  // empty when none
  absl::Time current_x509_not_after;
  std::string next_x509_serial;  // empty when no next authority is prepared
  std::string current_jwt_kid;
  std::string next_jwt_kid;
  uint64_t sequence_number = 0;
};

struct SignedX509 {
  // For SVIDs signed from a CSR the leaf's public key is held in encoded form
  // only (X509_get0_pubkey returns nullptr; see X509Issuer::IssueLeaf): parse
  // leaf_der for a fully decoded certificate. SignX509SvidForKey gives a
  // complete object.
  X509Ptr leaf;
  std::string leaf_der;
  absl::Time expires_at;
  std::string serial_hex;
};

// X509SvidRequest is one CSR to sign in a batch (see
// ServerCa::SignX509SvidsFromCsrs). Every field is borrowed for the call.
struct X509SvidRequest {
  absl::string_view csr_der;
  const SpiffeId* id = nullptr;
  const std::vector<std::string>* dns_names = nullptr;  // nullptr: none
  absl::Duration ttl;                                   // zero: default
};

struct SignedJwt {
  std::string token;
  absl::Time issued_at;
  absl::Time expires_at;
};

// ServerCa is thread-safe. Every bundle change increments the sequence
// number, is saved to the datastore and reported to the change callback.
class ServerCa {
 public:
  // Create loads the CA state (CaRecords + keys) from `ds`/`km`, then runs one
  // rotation step so a usable authority exists. `ds`, `km`, `clock` are
  // borrowed and must outlive the CA. Internal/Unavailable on storage errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ServerCa>> Create(CaOptions opts,
                                                                        Datastore* ds,
                                                                        KeyManager* km,
                                                                        Clock* clock);
  ServerCa(const ServerCa&) = delete;
  ServerCa& operator=(const ServerCa&) = delete;
  ~ServerCa();

  // SetBundleChangedCallback registers `cb`, called (outside the CA's lock)
  // after every bundle change.
  void SetBundleChangedCallback(std::function<void()> cb);

  // Rotate runs the rotation state machine at the clock's now: prepares the
  // next authorities at 1/2 of the current life (publishing them at once),
  // activates them at 5/6, and removes expired authorities from the bundle.
  // Returns whether the bundle changed. Errors on storage failures.
  [[nodiscard]] absl::StatusOr<bool> Rotate();
  // NextRotationTime returns when Rotate next has work to do.
  absl::Time NextRotationTime();

  // SignX509SvidFromCsr issues an X.509-SVID for the CSR's key (CSR signature
  // verified, its names ignored) with `id`, `dns_names`, and `ttl` (zero:
  // default), capped at the CA's NotAfter, then verifies it against the
  // bundle. InvalidArgument "invalid CSR: ..." for a bad CSR, Internal when
  // the issued SVID does not verify.
  [[nodiscard]] absl::StatusOr<SignedX509> SignX509SvidFromCsr(
      absl::string_view csr_der, const SpiffeId& id, const std::vector<std::string>& dns_names,
      absl::Duration ttl);
  // SignX509SvidsFromCsrs signs every request as SignX509SvidFromCsr does
  // (same checks, same errors; InvalidArgument "SPIFFE ID is required" for
  // a request without id) and returns one result per request, in request
  // order; a failed request fails alone. All are signed with the authority
  // active at the call. A batch of at least kParallelBatchMin requests is
  // signed by the calling thread and up to sign_threads - 1 workers of the
  // CA's pool (see CaOptions::sign_threads); smaller ones on the calling
  // thread only, so they pay no hand-off.
  [[nodiscard]] std::vector<absl::StatusOr<SignedX509>> SignX509SvidsFromCsrs(
      absl::Span<const X509SvidRequest> reqs);
  static constexpr size_t kParallelBatchMin = 3;
  // SignX509SvidForKey is the same for a public key held by the caller.
  [[nodiscard]] absl::StatusOr<SignedX509> SignX509SvidForKey(
      const EVP_PKEY* key, const SpiffeId& id, const std::vector<std::string>& dns_names,
      absl::Duration ttl);
  // SignJwtSvid mints a JWT-SVID (ttl zero: default), expiring no later than
  // the signing key, verified against the bundle after signing.
  [[nodiscard]] absl::StatusOr<SignedJwt> SignJwtSvid(const SpiffeId& id,
                                                      const std::vector<std::string>& audience,
                                                      absl::Duration ttl);

  // BundleProto returns the current bundle.
  signet::types::Bundle BundleProto();
  // GetBundle returns the current bundle as a common Bundle.
  Bundle GetBundle();
  // Status returns the current slot state.
  CaStatus Status();
  // CurrentX509CaNotAfter returns the active CA's NotAfter.
  absl::Time CurrentX509CaNotAfter();
  const CaOptions& options() const { return opts_; }

 private:
  struct X509Slot {
    std::string key_name;
    EvpPkeyPtr key;
    X509Ptr cert;
    absl::Time issued_at;
    bool empty() const { return cert == nullptr; }
  };
  struct JwtSlot {
    std::string key_name;
    std::string kid;
    EvpPkeyPtr key;
    absl::Time issued_at;
    absl::Time not_after;
    bool empty() const { return key == nullptr; }
  };

  ServerCa(CaOptions opts, Datastore* ds, KeyManager* km, Clock* clock);

  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> RotateLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<X509Slot> NewX509Slot(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<JwtSlot> NewJwtSlot(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PublishX509(const X509Slot& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishJwt(const JwtSlot& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SigningState is what signing needs, taken under mu_ and then used
  // without it: the active issuer and the bundle it is verified against.
  struct SigningState {
    std::shared_ptr<const X509Issuer> issuer;
    std::shared_ptr<const BundleSet> bundles;
    absl::Time now;
  };
  // GetSigningState returns the state for signing now; Unavailable when there
  // is no usable X.509 CA.
  absl::StatusOr<SigningState> GetSigningState();
  // SignWith issues and re-verifies one X.509-SVID for `key` (no lock held;
  // safe to call concurrently: it only reads `st` and opts_).
  // Exactly one of `encoded` and `decoded` is set.
  absl::StatusOr<SignedX509> SignWith(const SigningState& st, const X509_PUBKEY* encoded,
                                      const EVP_PKEY* decoded, const SpiffeId& id,
                                      const std::vector<std::string>& dns_names,
                                      absl::Duration ttl) const;
  // SignCsrWith parses and verifies the CSR, then calls SignWith.
  absl::StatusOr<SignedX509> SignCsrWith(const SigningState& st, absl::string_view csr_der,
                                         const SpiffeId& id,
                                         const std::vector<std::string>& dns_names,
                                         absl::Duration ttl) const;
  static absl::Duration CapTtl(absl::Duration ttl, absl::Duration def, absl::Time now,
                               absl::Time not_after);

  const CaOptions opts_;
  Datastore* const ds_;
  KeyManager* const km_;
  Clock* const clock_;
  const int sign_threads_;  // >= 1
  // Batch signing workers (nullptr when sign_threads_ is 1); thread-safe.
  const std::unique_ptr<WorkerPool> pool_;

  absl::Mutex mu_;
  // Guarded by mu_
  X509Slot x509_current_ ABSL_GUARDED_BY(mu_);
  X509Slot x509_next_ ABSL_GUARDED_BY(mu_);
  JwtSlot jwt_current_ ABSL_GUARDED_BY(mu_);
  JwtSlot jwt_next_ ABSL_GUARDED_BY(mu_);
  signet::types::Bundle bundle_ ABSL_GUARDED_BY(mu_);
  // The bundle as a BundleSet, for re-verification; replaced (never modified)
  // on change, shared with signers working outside mu_.
  std::shared_ptr<const BundleSet> bundle_set_ ABSL_GUARDED_BY(mu_);
  // Issuing context of x509_current_ (nullptr when empty); replaced with it.
  std::shared_ptr<const X509Issuer> issuer_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_change_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_CA_H_
