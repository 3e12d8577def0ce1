#include "client/jwt_source.h"

#include <utility>

#include "client/internal/source_core.h"
#include "client/internal/workload_conn.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace signet::client {
namespace {

absl::StatusOr<std::vector<JwtSvidToken>> FetchJwtSvidsOn(internal::WorkloadConn& conn,
                                                          const std::vector<std::string>& audiences,
                                                          const std::string& subject) {
  if (audiences.empty() || audiences[0].empty()) {
    return absl::InvalidArgumentError("audience is required");
  }
  JWTSVIDRequest req;
  for (const std::string& a : audiences) req.add_audience(a);
  req.set_spiffe_id(subject);
  JWTSVIDResponse resp;
  std::unique_ptr<grpc::ClientContext> ctx =
      internal::WorkloadConn::NewContext(conn.options().rpc_timeout);
  grpc::Status st = conn.stub()->FetchJWTSVID(ctx.get(), req, &resp);
  if (!st.ok()) return FromGrpcStatus(st);
  return internal::ParseJwtSvidResponse(resp, audiences, absl::Now());
}

}  // namespace

absl::StatusOr<std::vector<JwtSvidToken>> FetchJwtSvids(const WorkloadApiOptions& options,
                                                        const std::vector<std::string>& audiences,
                                                        const std::string& subject) {
  ASSIGN_OR_RETURN(std::shared_ptr<internal::WorkloadConn> conn,
                   internal::WorkloadConn::Create(options));
  return FetchJwtSvidsOn(*conn, audiences, subject);
}

absl::StatusOr<JwtSvid> ValidateJwtSvid(absl::string_view token, absl::string_view audience,
                                        const JwtBundleSource& bundles) {
  std::shared_ptr<const BundleSet> set = bundles.GetJwtBundles();
  if (set == nullptr) return absl::UnavailableError("no JWT bundles available yet");
  return signet::ValidateJwtSvid(token, *set, audience, absl::Now());
}

absl::StatusOr<std::unique_ptr<JwtSource>> JwtSource::Create(const WorkloadApiOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<internal::SourceCore<BundleSet>> core,
                   internal::SourceCore<BundleSet>::Create(options, {"JWT bundles"}));
  core->Watch(0, "FetchJWTBundles", &SpiffeWorkloadAPI::Stub::FetchJWTBundles,
              internal::ParseJwtBundlesResponse);
  RETURN_IF_ERROR(core->Start());
  return std::unique_ptr<JwtSource>(new JwtSource(std::move(core)));
}

JwtSource::JwtSource(std::unique_ptr<internal::SourceCore<BundleSet>> core)
    : core_(std::move(core)) {}

JwtSource::~JwtSource() = default;

void JwtSource::Close() { core_->Close(); }

std::shared_ptr<const BundleSet> JwtSource::GetJwtBundles() const { return core_->Get(0); }

absl::StatusOr<JwtSvidToken> JwtSource::FetchJwtSvid(
    const std::string& audience, const std::string& subject,
    const std::vector<std::string>& extra_audiences) const {
  std::vector<std::string> auds{audience};
  auds.insert(auds.end(), extra_audiences.begin(), extra_audiences.end());
  ASSIGN_OR_RETURN(std::vector<JwtSvidToken> tokens, FetchJwtSvidsOn(core_->conn(), auds, subject));
  return std::move(tokens[0]);
}

absl::StatusOr<JwtSvid> JwtSource::ValidateJwtSvid(absl::string_view token,
                                                   absl::string_view audience) const {
  return client::ValidateJwtSvid(token, audience, *this);
}

absl::Status JwtSource::last_error() const { return core_->last_error(); }

}  // namespace signet::client
