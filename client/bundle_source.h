// BundleSource: the X.509 and JWT bundles of every trust domain the workload
// trusts, kept current from FetchX509Bundles and FetchJWTBundles.
#ifndef SIGNET_CLIENT_BUNDLE_SOURCE_H_
#define SIGNET_CLIENT_BUNDLE_SOURCE_H_

#include <functional>
#include <map>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/workload_api.h"

class X509BundlesResponse;
class JWTBundlesResponse;

namespace signet::client {

namespace internal {
class WorkloadConn;
class StreamWatcher;
}  // namespace internal

// BundleSource watches FetchX509Bundles and FetchJWTBundles on two
// background threads. X.509 and JWT bundles are kept apart (F17). Invalid
// responses are skipped, errors keep the last good bundles. Thread-safe.
//
// Unlike go-spiffe's BundleSource (which takes the X.509 part from
// FetchX509SVID), the X.509 part comes from FetchX509Bundles, so a workload
// with no X.509-SVID can still verify peers.
class BundleSource final : public X509BundleSource, public JwtBundleSource {
 public:
  using UpdateCallback = std::function<void()>;

  // Create blocks until both streams delivered a valid message. Returns a
  // stream's InvalidArgument/Canceled status at once, DeadlineExceeded after
  // options.initial_timeout, or the address error.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<BundleSource>> Create(
      const WorkloadApiOptions& options = {});
  ~BundleSource() override;
  BundleSource(const BundleSource&) = delete;
  BundleSource& operator=(const BundleSource&) = delete;

  std::shared_ptr<const BundleSet> GetX509Bundles() const override;
  std::shared_ptr<const BundleSet> GetJwtBundles() const override;
  // GetBundleForTrustDomain returns a bundle with both the X.509 and the JWT
  // authorities of `td`; NotFound when neither stream has one.
  [[nodiscard]] absl::StatusOr<Bundle> GetBundleForTrustDomain(const TrustDomain& td) const;

  // AddUpdateCallback: called on a watcher thread after each accepted update
  // of either kind.
  int AddUpdateCallback(UpdateCallback cb);
  void RemoveUpdateCallback(int id);

  absl::Status last_error() const;
  void Close();

 private:
  BundleSource() = default;
  void OnX509(const X509BundlesResponse& resp);
  void OnJwt(const JWTBundlesResponse& resp);
  void NotifyUpdate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cb_mu_);
  void OnStop(const absl::Status& s);

  std::shared_ptr<internal::WorkloadConn> conn_;
  std::unique_ptr<internal::StreamWatcher> x509_watcher_;
  std::unique_ptr<internal::StreamWatcher> jwt_watcher_;

  // Guarded by mu_
  mutable absl::Mutex mu_;
  std::shared_ptr<const BundleSet> x509_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const BundleSet> jwt_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status stop_status_ ABSL_GUARDED_BY(mu_);

  // Guarded by cb_mu_
  absl::Mutex cb_mu_;
  std::map<int, UpdateCallback> callbacks_ ABSL_GUARDED_BY(cb_mu_);
  int next_cb_id_ ABSL_GUARDED_BY(cb_mu_) = 0;
};

}  // namespace signet::client

#endif  // SIGNET_CLIENT_BUNDLE_SOURCE_H_
