#include "client/jwt_source.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/internal/workload_conn.h"
#include "common/log.h"
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
  if (!st.ok()) return internal::FromGrpcStatus(st);
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
  ASSIGN_OR_RETURN(std::shared_ptr<internal::WorkloadConn> conn,
                   internal::WorkloadConn::Create(options));
  std::unique_ptr<JwtSource> src(new JwtSource());
  src->conn_ = std::move(conn);
  JwtSource* self = src.get();
  src->watcher_ = std::make_unique<internal::StreamWatcher>(
      "FetchJWTBundles", options.backoff_unit,
      [self](grpc::ClientContext* ctx) {
        auto reader = self->conn_->stub()->FetchJWTBundles(ctx, JWTBundlesRequest());
        JWTBundlesResponse resp;
        while (reader->Read(&resp)) {
          self->watcher_->ResetBackoff();
          self->OnJwt(resp);
        }
        return reader->Finish();
      },
      [self](const absl::Status& s) {
        absl::MutexLock l(&self->mu_);
        self->last_error_ = s;
      },
      [self](const absl::Status& s) {
        absl::MutexLock l(&self->mu_);
        self->last_error_ = s;
        self->stop_status_ = s;
        self->stopped_ = true;
      });
  src->watcher_->Start();

  absl::Status failure;
  {
    absl::MutexLock l(&src->mu_);
    // Evaluated by absl::Condition with mu_ held.
    auto ready = [s = src.get()]()
                     ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->jwt_ != nullptr || s->stopped_; };
    src->mu_.AwaitWithTimeout(absl::Condition(&ready), options.initial_timeout);
    if (src->jwt_ == nullptr) {
      failure =
          src->stopped_
              ? src->stop_status_
              : absl::DeadlineExceededError(absl::StrCat(
                    "timed out waiting for the first JWT bundles",
                    src->last_error_.ok() ? "" : absl::StrCat(": ", src->last_error_.ToString())));
    }
  }
  if (!failure.ok()) {
    src->Close();
    return failure;
  }
  return src;
}

JwtSource::~JwtSource() { Close(); }

void JwtSource::Close() {
  if (watcher_ != nullptr) watcher_->Stop();
}

void JwtSource::OnJwt(const JWTBundlesResponse& resp) {
  absl::StatusOr<BundleSet> parsed = internal::ParseJwtBundlesResponse(resp);
  absl::MutexLock l(&mu_);
  if (!parsed.ok()) {
    LogWarn("skipping invalid JWTBundlesResponse", {{"error", parsed.status().ToString()}});
    last_error_ = parsed.status();
    return;
  }
  jwt_ = std::make_shared<const BundleSet>(*std::move(parsed));
}

std::shared_ptr<const BundleSet> JwtSource::GetJwtBundles() const {
  absl::MutexLock l(&mu_);
  return jwt_;
}

absl::StatusOr<JwtSvidToken> JwtSource::FetchJwtSvid(
    const std::string& audience, const std::string& subject,
    const std::vector<std::string>& extra_audiences) const {
  std::vector<std::string> auds{audience};
  auds.insert(auds.end(), extra_audiences.begin(), extra_audiences.end());
  ASSIGN_OR_RETURN(std::vector<JwtSvidToken> tokens, FetchJwtSvidsOn(*conn_, auds, subject));
  return std::move(tokens[0]);
}

absl::StatusOr<JwtSvid> JwtSource::ValidateJwtSvid(absl::string_view token,
                                                   absl::string_view audience) const {
  return client::ValidateJwtSvid(token, audience, *this);
}

absl::Status JwtSource::last_error() const {
  absl::MutexLock l(&mu_);
  return last_error_;
}

}  // namespace signet::client
