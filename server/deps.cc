#include "server/deps.h"

#include "common/status_macros.h"

namespace signet::server {

using signet::types::RegistrationEntry;

absl::StatusOr<RegistrationEntry> EntryStore::Create(const RegistrationEntry& e) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(RegistrationEntry stored, d_->ds->CreateEntry(e));
  std::optional<RegistrationEntry> old = d_->entries->Put(stored);
  d_->hub->EntryChanged(old, stored);
  return stored;
}

absl::StatusOr<RegistrationEntry> EntryStore::Update(const RegistrationEntry& e) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(RegistrationEntry stored, d_->ds->UpdateEntry(e));
  std::optional<RegistrationEntry> old = d_->entries->Put(stored);
  d_->hub->EntryChanged(old, stored);
  return stored;
}

absl::StatusOr<RegistrationEntry> EntryStore::Delete(const std::string& id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(RegistrationEntry deleted, d_->ds->DeleteEntry(id));
  std::optional<RegistrationEntry> old = d_->entries->Remove(id);
  d_->hub->EntryChanged(old ? old : std::optional<RegistrationEntry>(deleted), std::nullopt);
  return deleted;
}

}  // namespace signet::server
