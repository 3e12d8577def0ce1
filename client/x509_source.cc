#include "client/x509_source.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/internal/workload_conn.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace signet::client {

absl::StatusOr<std::unique_ptr<X509Source>> X509Source::Create(const WorkloadApiOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<internal::WorkloadConn> conn,
                   internal::WorkloadConn::Create(options));
  std::unique_ptr<X509Source> src(new X509Source());
  src->conn_ = std::move(conn);
  X509Source* self = src.get();
  src->watcher_ = std::make_unique<internal::StreamWatcher>(
      "FetchX509SVID", options.backoff_unit,
      [self](grpc::ClientContext* ctx) {
        std::unique_ptr<grpc::ClientReader<X509SVIDResponse>> reader =
            self->conn_->stub()->FetchX509SVID(ctx, X509SVIDRequest());
        X509SVIDResponse resp;
        while (reader->Read(&resp)) {
          self->watcher_->ResetBackoff();
          self->OnResponse(resp);
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
    auto ready = [s = src.get()]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return s->context_ != nullptr || s->stopped_;
    };
    src->mu_.AwaitWithTimeout(absl::Condition(&ready), options.initial_timeout);
    if (src->context_ == nullptr) {
      if (src->stopped_) {
        failure = src->stop_status_;
      } else {
        failure = absl::DeadlineExceededError(absl::StrCat(
            "timed out waiting for the first X.509 context",
            src->last_error_.ok() ? "" : absl::StrCat(": ", src->last_error_.ToString())));
      }
    }
  }
  if (!failure.ok()) {
    src->Close();
    return failure;
  }
  return src;
}

X509Source::~X509Source() { Close(); }

void X509Source::Close() {
  if (watcher_ != nullptr) watcher_->Stop();
}

void X509Source::OnResponse(const X509SVIDResponse& resp) {
  absl::StatusOr<X509Context> parsed = internal::ParseX509SvidResponse(resp);
  if (!parsed.ok()) {
    LogWarn("skipping invalid X509SVIDResponse", {{"error", parsed.status().ToString()}});
    absl::MutexLock l(&mu_);
    last_error_ = parsed.status();
    return;
  }
  auto ctx = std::make_shared<const X509Context>(*std::move(parsed));
  LogDebug("X.509 context updated", {{"spiffe_id", ctx->svids[0]->id.ToString()}});
  // cb_mu_ is held across the swap so a callback registered concurrently sees
  // either this update or none of it.
  absl::MutexLock cl(&cb_mu_);
  {
    absl::MutexLock l(&mu_);
    context_ = ctx;
  }
  for (auto& [id, cb] : callbacks_) cb(*ctx);
}

std::shared_ptr<const X509Context> X509Source::GetX509Context() const {
  absl::MutexLock l(&mu_);
  return context_;
}

std::shared_ptr<const X509Svid> X509Source::GetX509Svid() const {
  std::shared_ptr<const X509Context> ctx = GetX509Context();
  return ctx == nullptr ? nullptr : ctx->svids[0];
}

std::shared_ptr<const BundleSet> X509Source::GetX509Bundles() const {
  std::shared_ptr<const X509Context> ctx = GetX509Context();
  return ctx == nullptr ? nullptr : ctx->bundles;
}

int X509Source::AddUpdateCallback(UpdateCallback cb) {
  absl::MutexLock l(&cb_mu_);
  int id = next_cb_id_++;
  callbacks_[id] = std::move(cb);
  return id;
}

void X509Source::RemoveUpdateCallback(int id) {
  absl::MutexLock l(&cb_mu_);
  callbacks_.erase(id);
}

absl::Status X509Source::last_error() const {
  absl::MutexLock l(&mu_);
  return last_error_;
}

}  // namespace signet::client
