// ServerDeps: the shared pieces the server's API handlers work with.
#ifndef SIGNET_SERVER_DEPS_H_
#define SIGNET_SERVER_DEPS_H_

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/spiffe_id.h"
#include "server/audit_log.h"
#include "server/ca.h"
#include "server/clock.h"
#include "server/config.h"
#include "server/datastore/datastore.h"
#include "server/entry_cache.h"
#include "server/sync_hub.h"

namespace signet::server {

// ServerDeps borrows everything; the Server owns it all and outlives the
// handlers.
struct ServerDeps {
  const ServerConfig* config;
  TrustDomain trust_domain;
  Datastore* ds;
  ServerCa* ca;
  EntryCache* entries;
  SyncHub* hub;
  Clock* clock;
  AuditLog* audit;
};

// EntryStore applies entry changes to the datastore, then the cache, then
// wakes the affected Sync streams. Thread-safe (serialises writers so the
// cache follows the datastore's order).
class EntryStore {
 public:
  explicit EntryStore(ServerDeps* d) : d_(d) {}
  // Create/Update/Delete return the datastore's errors.
  [[nodiscard]] absl::StatusOr<signet::types::RegistrationEntry> Create(
      const signet::types::RegistrationEntry& e);
  [[nodiscard]] absl::StatusOr<signet::types::RegistrationEntry> Update(
      const signet::types::RegistrationEntry& e);
  [[nodiscard]] absl::StatusOr<signet::types::RegistrationEntry> Delete(const std::string& id);

 private:
  ServerDeps* const d_;
  absl::Mutex mu_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_DEPS_H_
