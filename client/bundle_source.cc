#include "client/bundle_source.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/internal/source_core.h"
#include "client/internal/workload_conn.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::client {

namespace {

// The slots of the source's core.
constexpr size_t kX509Slot = 0;
constexpr size_t kJwtSlot = 1;

}  // namespace

absl::StatusOr<std::unique_ptr<BundleSource>> BundleSource::Create(
    const WorkloadApiOptions& options) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<internal::SourceCore<BundleSet>> core,
      internal::SourceCore<BundleSet>::Create(options, {"X.509 bundles", "JWT bundles"}));
  core->Watch(kX509Slot, "FetchX509Bundles", &SpiffeWorkloadAPI::Stub::FetchX509Bundles,
              internal::ParseX509BundlesResponse);
  core->Watch(kJwtSlot, "FetchJWTBundles", &SpiffeWorkloadAPI::Stub::FetchJWTBundles,
              internal::ParseJwtBundlesResponse);
  absl::Status started = core->Start();
  // Unlike the single-stream sources, a stream that stopped fails Create
  // even when both kinds of bundles arrived first.
  if (started.ok()) started = core->stop_status();
  if (!started.ok()) return started;
  return std::unique_ptr<BundleSource>(new BundleSource(std::move(core)));
}

BundleSource::BundleSource(std::unique_ptr<internal::SourceCore<BundleSet>> core)
    : core_(std::move(core)) {}

BundleSource::~BundleSource() = default;

void BundleSource::Close() { core_->Close(); }

std::shared_ptr<const BundleSet> BundleSource::GetX509Bundles() const {
  return core_->Get(kX509Slot);
}

std::shared_ptr<const BundleSet> BundleSource::GetJwtBundles() const {
  return core_->Get(kJwtSlot);
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
  return core_->AddUpdateCallback([cb = std::move(cb)](const BundleSet&) { cb(); });
}

void BundleSource::RemoveUpdateCallback(int id) { core_->RemoveUpdateCallback(id); }

absl::Status BundleSource::last_error() const { return core_->last_error(); }

}  // namespace signet::client
