#include "client/x509_source.h"

#include <utility>

#include "client/internal/source_core.h"
#include "client/internal/workload_conn.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace signet::client {

namespace {

// ParseAndLog parses a FetchX509SVID message, logging an accepted one.
absl::StatusOr<X509Context> ParseAndLog(const X509SVIDResponse& resp) {
  absl::StatusOr<X509Context> ctx = internal::ParseX509SvidResponse(resp);
  if (ctx.ok()) LogDebug("X.509 context updated", {{"spiffe_id", ctx->svids[0]->id.ToString()}});
  return ctx;
}

}  // namespace

absl::StatusOr<std::unique_ptr<X509Source>> X509Source::Create(const WorkloadApiOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<internal::SourceCore<X509Context>> core,
                   internal::SourceCore<X509Context>::Create(options, {"X.509 context"}));
  core->Watch(0, "FetchX509SVID", &SpiffeWorkloadAPI::Stub::FetchX509SVID, ParseAndLog);
  RETURN_IF_ERROR(core->Start());
  return std::unique_ptr<X509Source>(new X509Source(std::move(core)));
}

X509Source::X509Source(std::unique_ptr<internal::SourceCore<X509Context>> core)
    : core_(std::move(core)) {}

X509Source::~X509Source() = default;

void X509Source::Close() { core_->Close(); }

std::shared_ptr<const X509Context> X509Source::GetX509Context() const { return core_->Get(0); }

std::shared_ptr<const X509Svid> X509Source::GetX509Svid() const {
  std::shared_ptr<const X509Context> ctx = GetX509Context();
  return ctx == nullptr ? nullptr : ctx->svids[0];
}

std::shared_ptr<const BundleSet> X509Source::GetX509Bundles() const {
  std::shared_ptr<const X509Context> ctx = GetX509Context();
  return ctx == nullptr ? nullptr : ctx->bundles;
}

int X509Source::AddUpdateCallback(UpdateCallback cb) {
  return core_->AddUpdateCallback(std::move(cb));
}

void X509Source::RemoveUpdateCallback(int id) { core_->RemoveUpdateCallback(id); }

absl::Status X509Source::last_error() const { return core_->last_error(); }

}  // namespace signet::client
