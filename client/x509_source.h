// X509Source: the workload's X.509-SVIDs and bundles, kept current from the
// Workload API's FetchX509SVID stream.
#ifndef SIGNET_CLIENT_X509_SOURCE_H_
#define SIGNET_CLIENT_X509_SOURCE_H_

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

// X509Source watches FetchX509SVID on a background thread. It keeps the last
// valid X509Context: invalid responses are skipped and stream errors leave
// the material in place while it reconnects (go-spiffe's rules). Thread-safe.
class X509Source final : public X509SvidSource, public X509BundleSource {
 public:
  using UpdateCallback = std::function<void(const X509Context&)>;

  // Create connects and blocks until the first valid response. Returns the
  // stream's InvalidArgument (or Canceled) status at once when the server
  // sends it; DeadlineExceeded (with the last error) after
  // options.initial_timeout; FailedPrecondition/InvalidArgument for a missing
  // or malformed address.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<X509Source>> Create(
      const WorkloadApiOptions& options = {});
  ~X509Source() override;
  X509Source(const X509Source&) = delete;
  X509Source& operator=(const X509Source&) = delete;

  // GetX509Svid returns the default (first) SVID of the latest context.
  std::shared_ptr<const X509Svid> GetX509Svid() const override;
  std::shared_ptr<const BundleSet> GetX509Bundles() const override;
  std::shared_ptr<const X509Context> GetX509Context() const;

  // AddUpdateCallback registers `cb`, called on the watcher thread after
  // every accepted update (not for the material present at registration).
  // Returns an id for RemoveUpdateCallback, which waits for a running call.
  int AddUpdateCallback(UpdateCallback cb);
  void RemoveUpdateCallback(int id);

  // last_error returns the most recent watch error (OK when none).
  absl::Status last_error() const;
  // Close stops watching; material stays readable. Idempotent.
  void Close();

 private:
  explicit X509Source(std::unique_ptr<internal::SourceCore<X509Context>> core);

  // The watcher of FetchX509SVID, the latest context, the errors and the
  // callbacks (client/internal/source_core.h).
  const std::unique_ptr<internal::SourceCore<X509Context>> core_;
};

}  // namespace signet::client

#endif  // SIGNET_CLIENT_X509_SOURCE_H_
