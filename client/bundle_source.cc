#include "client/bundle_source.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/internal/workload_conn.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::client {

absl::StatusOr<std::unique_ptr<BundleSource>> BundleSource::Create(
    const WorkloadApiOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<internal::WorkloadConn> conn,
                   internal::WorkloadConn::Create(options));
  std::unique_ptr<BundleSource> src(new BundleSource());
  src->conn_ = std::move(conn);
  BundleSource* self = src.get();
  auto on_error = [self](const absl::Status& s) {
    absl::MutexLock l(&self->mu_);
    self->last_error_ = s;
  };
  auto on_stop = [self](const absl::Status& s) { self->OnStop(s); };
  src->x509_watcher_ = std::make_unique<internal::StreamWatcher>(
      "FetchX509Bundles", options.backoff_unit,
      [self](grpc::ClientContext* ctx) {
        auto reader = self->conn_->stub()->FetchX509Bundles(ctx, X509BundlesRequest());
        X509BundlesResponse resp;
        while (reader->Read(&resp)) {
          self->x509_watcher_->ResetBackoff();
          self->OnX509(resp);
        }
        return reader->Finish();
      },
      on_error, on_stop);
  src->jwt_watcher_ = std::make_unique<internal::StreamWatcher>(
      "FetchJWTBundles", options.backoff_unit,
      [self](grpc::ClientContext* ctx) {
        auto reader = self->conn_->stub()->FetchJWTBundles(ctx, JWTBundlesRequest());
        JWTBundlesResponse resp;
        while (reader->Read(&resp)) {
          self->jwt_watcher_->ResetBackoff();
          self->OnJwt(resp);
        }
        return reader->Finish();
      },
      on_error, on_stop);
  src->x509_watcher_->Start();
  src->jwt_watcher_->Start();

  absl::Status failure;
  {
    absl::MutexLock l(&src->mu_);
    // Evaluated by absl::Condition with mu_ held.
    auto ready = [s = src.get()]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return (s->x509_ != nullptr && s->jwt_ != nullptr) || s->stopped_;
    };
    src->mu_.AwaitWithTimeout(absl::Condition(&ready), options.initial_timeout);
    if (src->stopped_) {
      failure = src->stop_status_;
    } else if (src->x509_ == nullptr || src->jwt_ == nullptr) {
      failure = absl::DeadlineExceededError(absl::StrCat(
          "timed out waiting for the first ", src->x509_ == nullptr ? "X.509" : "JWT", " bundles",
          src->last_error_.ok() ? "" : absl::StrCat(": ", src->last_error_.ToString())));
    }
  }
  if (!failure.ok()) {
    src->Close();
    return failure;
  }
  return src;
}

BundleSource::~BundleSource() { Close(); }

void BundleSource::Close() {
  if (x509_watcher_ != nullptr) x509_watcher_->Stop();
  if (jwt_watcher_ != nullptr) jwt_watcher_->Stop();
}

void BundleSource::OnStop(const absl::Status& s) {
  absl::MutexLock l(&mu_);
  last_error_ = s;
  if (!stopped_) stop_status_ = s;
  stopped_ = true;
}

void BundleSource::OnX509(const X509BundlesResponse& resp) {
  absl::StatusOr<BundleSet> parsed = internal::ParseX509BundlesResponse(resp);
  if (!parsed.ok()) {
    LogWarn("skipping invalid X509BundlesResponse", {{"error", parsed.status().ToString()}});
    absl::MutexLock l(&mu_);
    last_error_ = parsed.status();
    return;
  }
  absl::MutexLock cl(&cb_mu_);
  {
    absl::MutexLock l(&mu_);
    x509_ = std::make_shared<const BundleSet>(*std::move(parsed));
  }
  NotifyUpdate();
}

void BundleSource::OnJwt(const JWTBundlesResponse& resp) {
  absl::StatusOr<BundleSet> parsed = internal::ParseJwtBundlesResponse(resp);
  if (!parsed.ok()) {
    LogWarn("skipping invalid JWTBundlesResponse", {{"error", parsed.status().ToString()}});
    absl::MutexLock l(&mu_);
    last_error_ = parsed.status();
    return;
  }
  absl::MutexLock cl(&cb_mu_);
  {
    absl::MutexLock l(&mu_);
    jwt_ = std::make_shared<const BundleSet>(*std::move(parsed));
  }
  NotifyUpdate();
}

void BundleSource::NotifyUpdate() {
  for (auto& [id, cb] : callbacks_) cb();
}

std::shared_ptr<const BundleSet> BundleSource::GetX509Bundles() const {
  absl::MutexLock l(&mu_);
  return x509_;
}

std::shared_ptr<const BundleSet> BundleSource::GetJwtBundles() const {
  absl::MutexLock l(&mu_);
  return jwt_;
}

absl::StatusOr<Bundle> BundleSource::GetBundleForTrustDomain(const TrustDomain& td) const {
  std::shared_ptr<const BundleSet> x509 = GetX509Bundles();
  std::shared_ptr<const BundleSet> jwt = GetJwtBundles();
  const Bundle* xb = x509 ? x509->Find(td) : nullptr;
  const Bundle* jb = jwt ? jwt->Find(td) : nullptr;
  if (xb == nullptr && jb == nullptr) {
    return absl::NotFoundError(absl::StrCat("no bundle for trust domain \"", td.name(), "\""));
  }
  Bundle out(td);
  if (xb != nullptr) {
    for (const X509Ptr& c : xb->x509_authorities()) {
      out.AddX509Authority(CopyCert(c.get()));
    }
  }
  if (jb != nullptr) {
    for (const auto& [kid, key] : jb->jwt_authorities()) {
      EVP_PKEY_up_ref(key.get());
      out.AddJwtAuthority(kid, EvpPkeyPtr(key.get()));
    }
  }
  return out;
}

int BundleSource::AddUpdateCallback(UpdateCallback cb) {
  absl::MutexLock l(&cb_mu_);
  int id = next_cb_id_++;
  callbacks_[id] = std::move(cb);
  return id;
}

void BundleSource::RemoveUpdateCallback(int id) {
  absl::MutexLock l(&cb_mu_);
  callbacks_.erase(id);
}

absl::Status BundleSource::last_error() const {
  absl::MutexLock l(&mu_);
  return last_error_;
}

}  // namespace signet::client
