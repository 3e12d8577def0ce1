// JWT-SVIDs through the Workload API: JwtSource (JWT bundles kept current
// from FetchJWTBundles plus FetchJWTSVID on demand) and one-shot helpers.
#ifndef SIGNET_CLIENT_JWT_SOURCE_H_
#define SIGNET_CLIENT_JWT_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/workload_api.h"

namespace signet::client {

namespace internal {
template <typename T>
class SourceCore;
}  // namespace internal

// JwtSource watches FetchJWTBundles (keeping the last good bundles on errors
// and invalid responses) and fetches JWT-SVIDs on demand. Thread-safe.
class JwtSource final : public JwtBundleSource {
 public:
  // Create blocks until the first valid JWTBundlesResponse. Returns the
  // stream's InvalidArgument/Canceled status at once, DeadlineExceeded after
  // options.initial_timeout, or the address error.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JwtSource>> Create(
      const WorkloadApiOptions& options = {});
  ~JwtSource() override;
  JwtSource(const JwtSource&) = delete;
  JwtSource& operator=(const JwtSource&) = delete;

  std::shared_ptr<const BundleSet> GetJwtBundles() const override;

  // FetchJwtSvid returns the JWT-SVID of the default identity (or of
  // `subject` when non-empty) for `audience` (plus `extra_audiences`). The
  // RPC's status is returned as is; InvalidArgument when the response is
  // empty or the token does not parse.
  [[nodiscard]] absl::StatusOr<JwtSvidToken> FetchJwtSvid(
      const std::string& audience, const std::string& subject = "",
      const std::vector<std::string>& extra_audiences = {}) const;

  // ValidateJwtSvid validates `token` for `audience` against the current JWT
  // bundles (signature with the key of sub's trust domain). InvalidArgument
  // naming the defect.
  [[nodiscard]] absl::StatusOr<JwtSvid> ValidateJwtSvid(absl::string_view token,
                                                        absl::string_view audience) const;

  absl::Status last_error() const;
  void Close();

 private:
  explicit JwtSource(std::unique_ptr<internal::SourceCore<BundleSet>> core);

  // The watcher of FetchJWTBundles, the latest bundles, the errors and the
  // connection (client/internal/source_core.h).
  const std::unique_ptr<internal::SourceCore<BundleSet>> core_;
};

// FetchJwtSvids is a one-shot FetchJWTSVID call: every identity's token (or
// only `subject`'s) for the audiences. Returns the RPC status, or
// InvalidArgument when the response is empty or a token does not parse.
[[nodiscard]] absl::StatusOr<std::vector<JwtSvidToken>> FetchJwtSvids(
    const WorkloadApiOptions& options, const std::vector<std::string>& audiences,
    const std::string& subject = "");

// ValidateJwtSvid validates `token` for `audience` against the JWT bundles
// of `bundles` (C3-C12). InvalidArgument naming the defect, Unavailable when
// the source has no bundles yet.
[[nodiscard]] absl::StatusOr<JwtSvid> ValidateJwtSvid(absl::string_view token,
                                                      absl::string_view audience,
                                                      const JwtBundleSource& bundles);

}  // namespace signet::client

#endif  // SIGNET_CLIENT_JWT_SOURCE_H_
