// BundleSource: the X.509 and JWT bundles of every trust domain the workload
// trusts, kept current from FetchX509Bundles and FetchJWTBundles.
#ifndef SIGNET_CLIENT_BUNDLE_SOURCE_H_
#define SIGNET_CLIENT_BUNDLE_SOURCE_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/workload_api.h"

namespace signet::client {

namespace internal {
template <typename T>
class SourceCore;
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
  explicit BundleSource(std::unique_ptr<internal::SourceCore<BundleSet>> core);

  // The watchers of FetchX509Bundles (slot 0) and FetchJWTBundles (slot 1),
  // the latest bundles, the errors and the callbacks
  // (client/internal/source_core.h).
  const std::unique_ptr<internal::SourceCore<BundleSet>> core_;
};

}  // namespace signet::client

#endif  // SIGNET_CLIENT_BUNDLE_SOURCE_H_
