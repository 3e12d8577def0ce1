// SQLite implementation of the server's Datastore (server/datastore/datastore.h).
#ifndef SIGNET_SERVER_DATASTORE_SQLITE_DATASTORE_H_
#define SIGNET_SERVER_DATASTORE_SQLITE_DATASTORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/datastore/datastore.h"

namespace signet::server {

// kSqliteSchemaVersion is the newest schema version this build knows; a
// database with a higher version is refused.
inline constexpr int kSqliteSchemaVersion = 1;

// kMaxListPageSize bounds page_size of ListEntries / ListAttestedAgents;
// larger requests are clamped to it.
inline constexpr int32_t kMaxListPageSize = 1000;

// kMaxFilterSelectors bounds the selectors of one ListEntries filter.
inline constexpr int kMaxFilterSelectors = 500;

struct SqliteDatastoreOptions {
  // How long a write waits for another connection (another process sharing
  // the file) to release its lock before failing with Unavailable.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Clock for created_at; absl::Now when unset.
  std::function<absl::Time()> now;
  // When > 0, the database may not grow beyond this many pages (PRAGMA
  // max_page_count); writes beyond fail with ResourceExhausted. 0 = no limit.
  int64_t max_page_count = 0;
};

// OpenSqliteDatastoreWithOptions is OpenSqliteDatastore with explicit options.
//
// The returned datastore holds one SQLite connection guarded by a mutex: it is
// thread-safe, calls are serialized within the process. Several processes may
// share the file (WAL mode, BEGIN IMMEDIATE for every write, busy timeout).
// The database file (and its -wal/-shm files) is created with mode 0600.
//
// Failures: Unavailable naming the path when the file cannot be opened or
// created (missing or unwritable directory, busy lock), Internal for a corrupt
// file, FailedPrecondition "database schema version N is newer than this
// server supports (M)".
[[nodiscard]] absl::StatusOr<std::unique_ptr<Datastore>> OpenSqliteDatastoreWithOptions(
    const std::string& path, const SqliteDatastoreOptions& options);

}  // namespace signet::server

#endif  // SIGNET_SERVER_DATASTORE_SQLITE_DATASTORE_H_
