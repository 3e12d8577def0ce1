// SQLite datastore: one connection guarded by a mutex, WAL journal,
// synchronous=FULL, versioned migrations, BEGIN IMMEDIATE for every write.
#include "server/datastore/sqlite_datastore.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "signet/types.pb.h"

namespace signet::server {
namespace {

using signet::types::AttestedAgent;
using signet::types::Bundle;
using signet::types::JoinToken;
using signet::types::RegistrationEntry;
using signet::types::Selector;

// Number of parents bound per query by ListEntriesByParents.
constexpr size_t kParentChunk = 500;

// ---------------------------------------------------------------------------
// Schema. Each migration runs in its own transaction; migrations[i] brings the
// database from version i to version i+1. Append only.
// ---------------------------------------------------------------------------
constexpr const char* kMigrations[] = {
    // Version 1.
    R"sql(
CREATE TABLE revision (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  value INTEGER NOT NULL
);
INSERT INTO revision (id, value) VALUES (0, 0);

CREATE TABLE entries (
  id TEXT PRIMARY KEY,
  spiffe_id TEXT NOT NULL,
  parent_id TEXT NOT NULL,
  x509_svid_ttl INTEGER NOT NULL DEFAULT 0,
  jwt_svid_ttl INTEGER NOT NULL DEFAULT 0,
  hint TEXT NOT NULL DEFAULT '',
  entry_expiry INTEGER NOT NULL DEFAULT 0,
  admin INTEGER NOT NULL DEFAULT 0,
  downstream INTEGER NOT NULL DEFAULT 0,
  node INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  revision_number INTEGER NOT NULL DEFAULT 0,
  -- serialized signet.types.RegistrationEntry holding dns_names and
  -- federates_with only.
  extra BLOB NOT NULL DEFAULT x''
);
CREATE INDEX entries_parent_id ON entries (parent_id);
CREATE INDEX entries_spiffe_id ON entries (spiffe_id);

CREATE TABLE entry_selectors (
  id INTEGER PRIMARY KEY,
  entry_id TEXT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  UNIQUE (entry_id, type, value)
);
CREATE INDEX entry_selectors_type_value ON entry_selectors (type, value);

CREATE TABLE attested_agents (
  spiffe_id TEXT PRIMARY KEY,
  attestation_type TEXT NOT NULL DEFAULT '',
  x509_svid_serial TEXT NOT NULL DEFAULT '',
  x509_svid_expires_at INTEGER NOT NULL DEFAULT 0,
  banned INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL DEFAULT 0,
  last_seen_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE node_selectors (
  id INTEGER PRIMARY KEY,
  spiffe_id TEXT NOT NULL REFERENCES attested_agents (spiffe_id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  UNIQUE (spiffe_id, type, value)
);
CREATE INDEX node_selectors_type_value ON node_selectors (type, value);

CREATE TABLE join_tokens (
  token TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL,
  spiffe_id TEXT NOT NULL DEFAULT ''
);

CREATE TABLE bundles (
  trust_domain TEXT PRIMARY KEY,
  data BLOB NOT NULL
);

CREATE TABLE ca_records (
  name TEXT PRIMARY KEY,
  data BLOB NOT NULL
);
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSqliteSchemaVersion,
              "kSqliteSchemaVersion must equal the number of migrations");

// ---------------------------------------------------------------------------
// RAII wrappers and error mapping.
// ---------------------------------------------------------------------------
struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// SqliteStatus maps a SQLite result code to a Status naming the database and
// the operation: BUSY/LOCKED/CANTOPEN/IOERR -> Unavailable, FULL/NOMEM ->
// ResourceExhausted, READONLY -> FailedPrecondition, CORRUPT/NOTADB ->
// Internal, anything else -> Internal.
absl::Status SqliteStatus(int rc, sqlite3* db, const std::string& path, absl::string_view what) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = absl::StrFormat("sqlite database %s: %s: %s (code %d)", path, what,
                                     msg != nullptr ? msg : sqlite3_errstr(rc), rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(text);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(text);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::FailedPreconditionError(text);
    default:
      return absl::InternalError(text);
  }
}

// Conn is a borrowed connection plus the path used in error messages.
struct Conn {
  sqlite3* db;
  const std::string* path;
  absl::Status Error(int rc, absl::string_view what) const {
    return SqliteStatus(rc, db, *path, what);
  }
};

using BindValue = std::variant<int64_t, std::string>;

// Stmt is a prepared statement; Step returns true while rows are available.
class Stmt {
 public:
  // Prepare compiles `sql`; the SQLite error (naming the path) on failure.
  [[nodiscard]] static absl::StatusOr<Stmt> Prepare(Conn c, absl::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(c.db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return c.Error(rc, "prepare");
    return Stmt(c, std::move(stmt));
  }

  Stmt(Stmt&&) = default;
  Stmt& operator=(Stmt&&) = default;

  void Bind(int i, int64_t v) { binds_rc_ |= sqlite3_bind_int64(s_.get(), i, v); }
  void Bind(int i, absl::string_view v) {
    binds_rc_ |=
        sqlite3_bind_text(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, absl::string_view v) {
    binds_rc_ |=
        sqlite3_bind_blob(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // Reset rewinds the statement and clears its bindings for reuse.
  void Reset() {
    sqlite3_reset(s_.get());
    sqlite3_clear_bindings(s_.get());
    binds_rc_ = SQLITE_OK;
  }
  // BindAll binds `values` to parameters 1..n.
  void BindAll(const std::vector<BindValue>& values) {
    int i = 1;
    for (const BindValue& v : values) {
      if (std::holds_alternative<int64_t>(v)) {
        Bind(i++, std::get<int64_t>(v));
      } else {
        Bind(i++, absl::string_view(std::get<std::string>(v)));
      }
    }
  }

  // Step advances: true when a row is available, false when done, or the
  // SQLite error.
  [[nodiscard]] absl::StatusOr<bool> Step() {
    if (binds_rc_ != SQLITE_OK) return c_.Error(binds_rc_, "bind");
    int rc = sqlite3_step(s_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return c_.Error(rc,
                    sqlite3_sql(s_.get()) != nullptr ? FirstLine(sqlite3_sql(s_.get())) : "step");
  }
  // Run steps to completion, ignoring rows.
  [[nodiscard]] absl::Status Run() {
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step());
      if (!row) return absl::OkStatus();
    }
  }

  int64_t Int(int col) const { return sqlite3_column_int64(s_.get(), col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_.get(), col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(s_.get(), col);
    int n = sqlite3_column_bytes(s_.get(), col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
  }
  // TextView / BlobView borrow the column until the next Step.
  absl::string_view TextView(int col) const {
    const unsigned char* p = sqlite3_column_text(s_.get(), col);
    int n = sqlite3_column_bytes(s_.get(), col);
    return p == nullptr ? absl::string_view()
                        : absl::string_view(reinterpret_cast<const char*>(p), n);
  }
  absl::string_view BlobView(int col) const {
    const void* p = sqlite3_column_blob(s_.get(), col);
    int n = sqlite3_column_bytes(s_.get(), col);
    return p == nullptr ? absl::string_view() : absl::string_view(static_cast<const char*>(p), n);
  }
  std::string Blob(int col) const {
    const void* p = sqlite3_column_blob(s_.get(), col);
    int n = sqlite3_column_bytes(s_.get(), col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }

 private:
  Stmt(Conn c, StmtPtr s) : c_(c), s_(std::move(s)) {}
  static std::string FirstLine(absl::string_view sql) {
    sql = sql.substr(0, std::min<size_t>(sql.find('\n'), 60));
    return std::string(sql);
  }

  Conn c_;
  StmtPtr s_;
  int binds_rc_ = SQLITE_OK;
};

// Exec runs one or more statements without parameters.
absl::Status Exec(Conn c, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(c.db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK)
    return c.Error(rc, absl::StrCat("exec ", absl::string_view(sql).substr(0, 40)));
  return absl::OkStatus();
}

// WriteTxn is a BEGIN IMMEDIATE transaction that rolls back on destruction
// unless committed. Commit bumps the revision counter first.
class WriteTxn {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<WriteTxn>> Begin(Conn c) {
    RETURN_IF_ERROR(Exec(c, "BEGIN IMMEDIATE"));
    return std::unique_ptr<WriteTxn>(new WriteTxn(c));
  }
  ~WriteTxn() {
    // SQLite may already have rolled back (FULL, IOERR, NOMEM); only roll
    // back an open transaction.
    if (!done_ && !sqlite3_get_autocommit(c_.db)) {
      sqlite3_exec(c_.db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;

  // Commit bumps the revision and commits; on failure the transaction is
  // rolled back (by the destructor) and the SQLite error returned.
  [[nodiscard]] absl::Status Commit() {
    RETURN_IF_ERROR(Exec(c_, "UPDATE revision SET value = value + 1 WHERE id = 0"));
    RETURN_IF_ERROR(Exec(c_, "COMMIT"));
    done_ = true;
    return absl::OkStatus();
  }

 private:
  explicit WriteTxn(Conn c) : c_(c) {}
  Conn c_;
  bool done_ = false;
};

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

// NewEntryId returns 128 random bits (a version-4 UUID) formatted 8-4-4-4-12.
absl::StatusOr<std::string> NewEntryId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) return absl::InternalError("RAND_bytes failed");
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string hex =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20, 12));
}

using SelectorKey = std::pair<std::string, std::string>;

// UniqueSelectors returns `in` without duplicates, first occurrence kept.
std::vector<SelectorKey> UniqueSelectors(const google::protobuf::RepeatedPtrField<Selector>& in) {
  std::set<SelectorKey> seen;
  std::vector<SelectorKey> out;
  for (const Selector& s : in) {
    SelectorKey k(s.type(), s.value());
    if (seen.insert(k).second) out.push_back(std::move(k));
  }
  return out;
}

// SelectorSet returns the selectors of `in` as a set (for comparisons).
std::set<SelectorKey> SelectorSet(const google::protobuf::RepeatedPtrField<Selector>& in) {
  std::set<SelectorKey> out;
  for (const Selector& s : in) out.emplace(s.type(), s.value());
  return out;
}

// Columns of an entry row joined with its selectors, in ReadEntries order.
constexpr const char* kEntryColumns =
    "e.id, e.spiffe_id, e.parent_id, e.x509_svid_ttl, e.jwt_svid_ttl, e.hint, e.entry_expiry, "
    "e.admin, e.downstream, e.node, e.created_at, e.revision_number, e.extra, s.type, s.value";

// ReadEntries collects the rows of a query selecting kEntryColumns ordered by
// e.id, s.id into entries (appending to `out`).
absl::Status ReadEntries(Stmt& stmt, std::vector<RegistrationEntry>* out) {
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::OkStatus();
    if (out->empty() || out->back().id() != stmt.TextView(0)) {
      RegistrationEntry e;
      absl::string_view extra = stmt.BlobView(12);
      if (!extra.empty() && !e.ParseFromArray(extra.data(), static_cast<int>(extra.size()))) {
        return absl::InternalError(absl::StrCat("corrupt extra data of entry ", stmt.Text(0)));
      }
      e.set_id(stmt.Text(0));
      e.set_spiffe_id(stmt.Text(1));
      e.set_parent_id(stmt.Text(2));
      e.set_x509_svid_ttl(static_cast<int32_t>(stmt.Int(3)));
      e.set_jwt_svid_ttl(static_cast<int32_t>(stmt.Int(4)));
      e.set_hint(stmt.Text(5));
      e.set_entry_expiry(stmt.Int(6));
      e.set_admin(stmt.Int(7) != 0);
      e.set_downstream(stmt.Int(8) != 0);
      e.set_node(stmt.Int(9) != 0);
      e.set_created_at(stmt.Int(10));
      e.set_revision_number(stmt.Int(11));
      out->push_back(std::move(e));
    }
    if (!stmt.IsNull(13)) {
      Selector* s = out->back().add_selectors();
      s->set_type(stmt.Text(13));
      s->set_value(stmt.Text(14));
    }
  }
}

// EntryExtra serializes the fields stored in the `extra` blob.
std::string EntryExtra(const RegistrationEntry& e) {
  RegistrationEntry extra;
  *extra.mutable_dns_names() = e.dns_names();
  *extra.mutable_federates_with() = e.federates_with();
  return extra.SerializeAsString();
}

// ---------------------------------------------------------------------------
// SqliteDatastore.
// ---------------------------------------------------------------------------

// SqliteDatastore keeps one connection; mu_ serializes every call, so the
// class is thread-safe and the connection is never used concurrently.
class SqliteDatastore final : public Datastore {
 public:
  // Open opens/creates and migrates the database; see
  // OpenSqliteDatastoreWithOptions for the failures.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Datastore>> Open(
      const std::string& path, const SqliteDatastoreOptions& options);

  SqliteDatastore(const SqliteDatastore&) = delete;
  SqliteDatastore& operator=(const SqliteDatastore&) = delete;

  absl::StatusOr<RegistrationEntry> CreateEntry(const RegistrationEntry& entry) override;
  absl::StatusOr<RegistrationEntry> GetEntry(const std::string& id) override;
  absl::StatusOr<RegistrationEntry> UpdateEntry(const RegistrationEntry& entry) override;
  absl::StatusOr<RegistrationEntry> DeleteEntry(const std::string& id) override;
  absl::StatusOr<EntryPage> ListEntries(const ListEntriesFilter& f) override;
  absl::StatusOr<int64_t> CountEntries() override;
  absl::StatusOr<std::vector<RegistrationEntry>> ListEntriesByParents(
      const std::vector<std::string>& parents) override;

  absl::Status CreateAttestedAgent(const AttestedAgent& a) override;
  absl::StatusOr<AttestedAgent> GetAttestedAgent(const std::string& spiffe_id) override;
  absl::Status UpdateAttestedAgent(const AttestedAgent& a) override;
  absl::Status DeleteAttestedAgent(const std::string& spiffe_id) override;
  absl::StatusOr<std::vector<AttestedAgent>> ListAttestedAgents(
      int32_t page_size, const std::string& page_token, std::string* next_page_token) override;
  absl::StatusOr<int64_t> CountAttestedAgents() override;

  absl::Status CreateJoinToken(const JoinToken& t) override;
  absl::StatusOr<JoinToken> ConsumeJoinToken(const std::string& token, absl::Time now) override;

  absl::Status SetBundle(const Bundle& b) override;
  absl::StatusOr<Bundle> GetBundle(const std::string& trust_domain) override;
  absl::StatusOr<std::vector<Bundle>> ListBundles() override;

  absl::Status PutCaRecord(const CaRecord& r) override;
  absl::StatusOr<std::vector<CaRecord>> ListCaRecords() override;

  absl::StatusOr<int64_t> Revision() override;

 private:
  SqliteDatastore(std::string path, SqliteDatastoreOptions options, DbPtr db)
      : path_(std::move(path)), options_(std::move(options)), db_(std::move(db)) {}

  absl::Time Now() const { return options_.now ? options_.now() : absl::Now(); }
  Conn C() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Conn{db_.get(), &path_}; }

  // Migrate applies the pending migrations (one transaction each).
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SchemaVersion returns the highest applied version (0 for a new file).
  absl::StatusOr<int> SchemaVersion() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // GetEntryLocked returns the entry or NotFound "entry <id> not found".
  absl::StatusOr<RegistrationEntry> GetEntryLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // CheckNoSimilarEntry returns AlreadyExists when another entry (id !=
  // `self_id`) has the same spiffe_id, parent_id and selector set.
  absl::Status CheckNoSimilarEntry(const RegistrationEntry& e, const std::string& self_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // WriteEntrySelectors inserts the (deduplicated) selectors of `e`.
  absl::Status WriteEntrySelectors(const RegistrationEntry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // WriteNodeSelectors replaces the selectors of agent `a`.
  absl::Status WriteNodeSelectors(const AttestedAgent& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AgentExists reports whether an attested agent with this id exists.
  absl::StatusOr<bool> AgentExists(const std::string& spiffe_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ReadAgents runs an agents query (columns of kAgentColumns, ordered by
  // spiffe_id, selector id).
  absl::StatusOr<std::vector<AttestedAgent>> ReadAgents(const std::string& sql,
                                                        const std::vector<BindValue>& binds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> CountLocked(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const SqliteDatastoreOptions options_;

  // Guarded by mu_.
  absl::Mutex mu_;
  DbPtr db_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<Datastore>> SqliteDatastore::Open(
    const std::string& path, const SqliteDatastoreOptions& options) {
  if (path.empty()) return absl::InvalidArgumentError("sqlite database path is empty");
  // Create the file ourselves so that it is 0600 from the start; SQLite gives
  // the -wal and -shm files the mode of the database file.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      const size_t slash = path.find_last_of('/');
      const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
      return absl::UnavailableError(absl::StrFormat(
          "cannot create sqlite database %s: directory %s does not exist", path, dir));
    }
    return absl::UnavailableError(
        absl::StrFormat("cannot open sqlite database %s: %s", path, strerror(err)));
  }
  close(fd);

  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return SqliteStatus(rc, raw, path, "open");
  sqlite3_extended_result_codes(db.get(), 1);

  std::unique_ptr<SqliteDatastore> ds(new SqliteDatastore(path, options, std::move(db)));
  absl::MutexLock lock(&ds->mu_);
  Conn c = ds->C();
  rc =
      sqlite3_busy_timeout(c.db, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
  if (rc != SQLITE_OK) return c.Error(rc, "busy_timeout");
  // journal_mode returns a row; Exec ignores it. A database that cannot use
  // WAL (unusual filesystems) stays in its mode, still durable with FULL.
  RETURN_IF_ERROR(Exec(c, "PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(Exec(c, "PRAGMA synchronous=FULL"));
  {
    // Acknowledged writes must survive power loss: refuse to run without it.
    ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(c, "PRAGMA synchronous"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || st.Int(0) < 2) {
      return absl::InternalError(
          absl::StrFormat("sqlite database %s: cannot enable synchronous=FULL", path));
    }
  }
  RETURN_IF_ERROR(Exec(c, "PRAGMA foreign_keys=ON"));
  // Agent sync reads large parts of the entries table: cache up to 64 MiB of
  // pages. (No mmap: an I/O error under mmap is a SIGBUS, not an error.)
  RETURN_IF_ERROR(Exec(c, "PRAGMA cache_size=-65536"));
  if (options.max_page_count > 0) {
    RETURN_IF_ERROR(
        Exec(c, absl::StrCat("PRAGMA max_page_count=", options.max_page_count).c_str()));
  }
  RETURN_IF_ERROR(ds->Migrate());
  return std::unique_ptr<Datastore>(std::move(ds));
}

absl::StatusOr<int> SqliteDatastore::SchemaVersion() {
  RETURN_IF_ERROR(
      Exec(C(), "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  ASSIGN_OR_RETURN(Stmt st,
                   Stmt::Prepare(C(), "SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<int>(st.Int(0)) : 0;
}

absl::Status SqliteDatastore::Migrate() {
  while (true) {
    ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
    // Re-read inside the write lock: another process may have migrated.
    ASSIGN_OR_RETURN(int version, SchemaVersion());
    if (version > kSqliteSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "sqlite database %s: database schema version %d is newer than this server supports (%d)",
          path_, version, kSqliteSchemaVersion));
    }
    if (version == kSqliteSchemaVersion) {
      // Nothing to do; do not bump the revision for a no-op.
      return Exec(C(), "COMMIT");
    }
    RETURN_IF_ERROR(Exec(C(), kMigrations[version]));
    ASSIGN_OR_RETURN(Stmt st,
                     Stmt::Prepare(C(), "INSERT INTO schema_version (version) VALUES (?)"));
    st.Bind(1, int64_t{version + 1});
    RETURN_IF_ERROR(st.Run());
    RETURN_IF_ERROR(txn->Commit());
  }
}

// --- Entries ---------------------------------------------------------------

absl::StatusOr<RegistrationEntry> SqliteDatastore::GetEntryLocked(const std::string& id) {
  ASSIGN_OR_RETURN(
      Stmt st, Stmt::Prepare(C(), absl::StrCat("SELECT ", kEntryColumns,
                                               " FROM entries e LEFT JOIN entry_selectors s ON "
                                               "s.entry_id = e.id WHERE e.id = ? ORDER BY s.id")));
  st.Bind(1, absl::string_view(id));
  std::vector<RegistrationEntry> out;
  RETURN_IF_ERROR(ReadEntries(st, &out));
  if (out.empty()) return absl::NotFoundError(absl::StrCat("entry ", id, " not found"));
  return std::move(out.front());
}

absl::Status SqliteDatastore::CheckNoSimilarEntry(const RegistrationEntry& e,
                                                  const std::string& self_id) {
  ASSIGN_OR_RETURN(
      Stmt st,
      Stmt::Prepare(C(), absl::StrCat("SELECT ", kEntryColumns,
                                      " FROM entries e LEFT JOIN entry_selectors s ON s.entry_id = "
                                      "e.id WHERE e.spiffe_id = ? AND e.parent_id = ? AND e.id != ?"
                                      " ORDER BY e.id, s.id")));
  st.Bind(1, absl::string_view(e.spiffe_id()));
  st.Bind(2, absl::string_view(e.parent_id()));
  st.Bind(3, absl::string_view(self_id));
  std::vector<RegistrationEntry> candidates;
  RETURN_IF_ERROR(ReadEntries(st, &candidates));
  std::set<SelectorKey> want = SelectorSet(e.selectors());
  for (const RegistrationEntry& c : candidates) {
    if (SelectorSet(c.selectors()) == want) {
      return absl::AlreadyExistsError(
          absl::StrCat("similar entry already exists (id ", c.id(), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status SqliteDatastore::WriteEntrySelectors(const RegistrationEntry& e) {
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(),
                                          "INSERT INTO entry_selectors (entry_id, type, "
                                          "value) VALUES (?, ?, ?)"));
  for (const SelectorKey& k : UniqueSelectors(e.selectors())) {
    st.Reset();
    st.Bind(1, absl::string_view(e.id()));
    st.Bind(2, absl::string_view(k.first));
    st.Bind(3, absl::string_view(k.second));
    RETURN_IF_ERROR(st.Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<RegistrationEntry> SqliteDatastore::CreateEntry(const RegistrationEntry& entry) {
  absl::MutexLock lock(&mu_);
  RegistrationEntry e = entry;
  ASSIGN_OR_RETURN(std::string id, NewEntryId());
  e.set_id(id);
  e.set_created_at(absl::ToUnixSeconds(Now()));
  e.set_revision_number(0);
  e.clear_selectors();
  for (const SelectorKey& k : UniqueSelectors(entry.selectors())) {
    Selector* s = e.add_selectors();
    s->set_type(k.first);
    s->set_value(k.second);
  }

  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  RETURN_IF_ERROR(CheckNoSimilarEntry(e, ""));
  ASSIGN_OR_RETURN(
      Stmt st,
      Stmt::Prepare(C(),
                    "INSERT INTO entries (id, spiffe_id, parent_id, x509_svid_ttl, "
                    "jwt_svid_ttl, hint, entry_expiry, admin, downstream, node, created_at, "
                    "revision_number, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, absl::string_view(e.id()));
  st.Bind(2, absl::string_view(e.spiffe_id()));
  st.Bind(3, absl::string_view(e.parent_id()));
  st.Bind(4, int64_t{e.x509_svid_ttl()});
  st.Bind(5, int64_t{e.jwt_svid_ttl()});
  st.Bind(6, absl::string_view(e.hint()));
  st.Bind(7, e.entry_expiry());
  st.Bind(8, int64_t{e.admin()});
  st.Bind(9, int64_t{e.downstream()});
  st.Bind(10, int64_t{e.node()});
  st.Bind(11, e.created_at());
  st.Bind(12, e.revision_number());
  st.BindBlob(13, EntryExtra(e));
  RETURN_IF_ERROR(st.Run());
  RETURN_IF_ERROR(WriteEntrySelectors(e));
  RETURN_IF_ERROR(txn->Commit());
  return e;
}

absl::StatusOr<RegistrationEntry> SqliteDatastore::GetEntry(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return GetEntryLocked(id);
}

absl::StatusOr<RegistrationEntry> SqliteDatastore::UpdateEntry(const RegistrationEntry& entry) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(RegistrationEntry old, GetEntryLocked(entry.id()));
  RegistrationEntry e = entry;
  e.set_created_at(old.created_at());
  e.set_revision_number(old.revision_number() + 1);
  e.clear_selectors();
  for (const SelectorKey& k : UniqueSelectors(entry.selectors())) {
    Selector* s = e.add_selectors();
    s->set_type(k.first);
    s->set_value(k.second);
  }
  RETURN_IF_ERROR(CheckNoSimilarEntry(e, e.id()));
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(),
                                          "UPDATE entries SET spiffe_id = ?, parent_id = ?, "
                                          "x509_svid_ttl = ?, jwt_svid_ttl = ?, hint = ?, "
                                          "entry_expiry = ?, admin = ?, downstream = ?, node = ?, "
                                          "revision_number = ?, extra = ? WHERE id = ?"));
  st.Bind(1, absl::string_view(e.spiffe_id()));
  st.Bind(2, absl::string_view(e.parent_id()));
  st.Bind(3, int64_t{e.x509_svid_ttl()});
  st.Bind(4, int64_t{e.jwt_svid_ttl()});
  st.Bind(5, absl::string_view(e.hint()));
  st.Bind(6, e.entry_expiry());
  st.Bind(7, int64_t{e.admin()});
  st.Bind(8, int64_t{e.downstream()});
  st.Bind(9, int64_t{e.node()});
  st.Bind(10, e.revision_number());
  st.BindBlob(11, EntryExtra(e));
  st.Bind(12, absl::string_view(e.id()));
  RETURN_IF_ERROR(st.Run());
  ASSIGN_OR_RETURN(Stmt del, Stmt::Prepare(C(), "DELETE FROM entry_selectors WHERE entry_id = ?"));
  del.Bind(1, absl::string_view(e.id()));
  RETURN_IF_ERROR(del.Run());
  RETURN_IF_ERROR(WriteEntrySelectors(e));
  RETURN_IF_ERROR(txn->Commit());
  return e;
}

absl::StatusOr<RegistrationEntry> SqliteDatastore::DeleteEntry(const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(RegistrationEntry old, GetEntryLocked(id));
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(), "DELETE FROM entries WHERE id = ?"));
  st.Bind(1, absl::string_view(id));
  RETURN_IF_ERROR(st.Run());
  RETURN_IF_ERROR(txn->Commit());
  return old;
}

absl::StatusOr<EntryPage> SqliteDatastore::ListEntries(const ListEntriesFilter& f) {
  if (f.page_size < 0) {
    return absl::InvalidArgumentError("page_size must not be negative");
  }
  const int64_t page_size = std::min<int64_t>(f.page_size, kMaxListPageSize);
  const std::string match = f.match.empty() ? "superset" : f.match;
  if (match != "exact" && match != "subset" && match != "superset" && match != "any") {
    return absl::InvalidArgumentError(absl::StrCat("unknown selector match mode \"", match,
                                                   "\" (want exact, subset, superset or any)"));
  }
  std::vector<SelectorKey> sels = UniqueSelectors(
      google::protobuf::RepeatedPtrField<Selector>(f.selectors.begin(), f.selectors.end()));
  if (sels.size() > static_cast<size_t>(kMaxFilterSelectors)) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many selectors in filter (max ", kMaxFilterSelectors, ")"));
  }

  std::vector<std::string> where;
  std::vector<BindValue> binds;
  if (f.spiffe_id.has_value()) {
    where.push_back("spiffe_id = ?");
    binds.emplace_back(*f.spiffe_id);
  }
  if (f.parent_id.has_value()) {
    where.push_back("parent_id = ?");
    binds.emplace_back(*f.parent_id);
  }
  if (!f.page_token.empty()) {
    where.push_back("id > ?");
    binds.emplace_back(f.page_token);
  }
  std::string with;  // "WITH f(type, value) AS (VALUES ...) " when filtering selectors
  if (!sels.empty()) {
    // The filter's selectors become a table `f` joined with the (type, value)
    // index; its parameters come first in the statement.
    std::vector<std::string> rows(sels.size(), "(?, ?)");
    with = absl::StrCat("WITH f(type, value) AS (VALUES ", absl::StrJoin(rows, ", "), ") ");
    std::vector<BindValue> sel_binds;
    for (const SelectorKey& k : sels) {
      sel_binds.emplace_back(k.first);
      sel_binds.emplace_back(k.second);
    }
    binds.insert(binds.begin(), sel_binds.begin(), sel_binds.end());
    constexpr const char* kSharesOne =
        "SELECT es.entry_id FROM f JOIN entry_selectors es ON es.type = f.type AND es.value = "
        "f.value";
    const int64_t n = static_cast<int64_t>(sels.size());
    if (match == "any") {
      where.push_back(absl::StrCat("id IN (", kSharesOne, ")"));
    } else if (match == "superset") {
      // Entry selectors are unique per entry, so n matches = all of f.
      where.push_back(
          absl::StrCat("id IN (", kSharesOne, " GROUP BY es.entry_id HAVING COUNT(*) = ?)"));
      binds.emplace_back(n);
    } else {  // subset or exact
      where.push_back(absl::StrCat("id IN (", kSharesOne, ")"));
      where.push_back(
          "NOT EXISTS (SELECT 1 FROM entry_selectors x WHERE x.entry_id = entries.id AND "
          "(x.type, x.value) NOT IN (SELECT type, value FROM f))");
      if (match == "exact") {
        where.push_back(
            "(SELECT COUNT(*) FROM entry_selectors y WHERE y.entry_id = entries.id) = ?");
        binds.emplace_back(n);
      }
    }
  }
  std::string inner = "SELECT * FROM entries";
  if (!where.empty()) absl::StrAppend(&inner, " WHERE ", absl::StrJoin(where, " AND "));
  absl::StrAppend(&inner, " ORDER BY id");
  if (page_size > 0) {
    // One extra row tells whether another page follows.
    absl::StrAppend(&inner, " LIMIT ?");
    binds.emplace_back(page_size + 1);
  }
  const std::string sql =
      absl::StrCat(with, "SELECT ", kEntryColumns, " FROM (", inner,
                   ") e LEFT JOIN entry_selectors s ON s.entry_id = e.id ORDER BY e.id, s.id");

  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(), sql));
  st.BindAll(binds);
  EntryPage page;
  RETURN_IF_ERROR(ReadEntries(st, &page.entries));
  if (page_size > 0 && static_cast<int64_t>(page.entries.size()) > page_size) {
    page.entries.resize(page_size);
    page.next_page_token = page.entries.back().id();
  }
  return page;
}

absl::StatusOr<int64_t> SqliteDatastore::CountLocked(const char* sql) {
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(), sql));
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : 0;
}

absl::StatusOr<int64_t> SqliteDatastore::CountEntries() {
  absl::MutexLock lock(&mu_);
  return CountLocked("SELECT COUNT(*) FROM entries");
}

absl::StatusOr<std::vector<RegistrationEntry>> SqliteDatastore::ListEntriesByParents(
    const std::vector<std::string>& parents) {
  std::vector<std::string> unique = parents;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());

  std::vector<RegistrationEntry> out;
  absl::MutexLock lock(&mu_);
  for (size_t start = 0; start < unique.size(); start += kParentChunk) {
    const size_t n = std::min(kParentChunk, unique.size() - start);
    std::vector<std::string> marks(n, "?");
    ASSIGN_OR_RETURN(
        Stmt st,
        Stmt::Prepare(C(), absl::StrCat("SELECT ", kEntryColumns,
                                        " FROM entries e LEFT JOIN entry_selectors s ON "
                                        "s.entry_id = e.id WHERE e.parent_id IN (",
                                        absl::StrJoin(marks, ","), ") ORDER BY e.id, s.id")));
    for (size_t i = 0; i < n; ++i) {
      st.Bind(static_cast<int>(i + 1), absl::string_view(unique[start + i]));
    }
    // ReadEntries groups consecutive rows by id; a fresh vector per chunk
    // keeps an id of the previous chunk from absorbing this chunk's rows.
    std::vector<RegistrationEntry> chunk;
    RETURN_IF_ERROR(ReadEntries(st, &chunk));
    for (RegistrationEntry& e : chunk) out.push_back(std::move(e));
  }
  if (unique.size() > kParentChunk) {
    std::sort(out.begin(), out.end(), [](const RegistrationEntry& a, const RegistrationEntry& b) {
      return a.id() < b.id();
    });
  }
  return out;
}

// --- Attested agents -------------------------------------------------------

constexpr const char* kAgentColumns =
    "a.spiffe_id, a.attestation_type, a.x509_svid_serial, a.x509_svid_expires_at, a.banned, "
    "a.created_at, a.last_seen_at, s.type, s.value";

absl::StatusOr<std::vector<AttestedAgent>> SqliteDatastore::ReadAgents(
    const std::string& sql, const std::vector<BindValue>& binds) {
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(), sql));
  st.BindAll(binds);
  std::vector<AttestedAgent> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string id = st.Text(0);
    if (out.empty() || out.back().spiffe_id() != id) {
      AttestedAgent a;
      a.set_spiffe_id(id);
      a.set_attestation_type(st.Text(1));
      a.set_x509_svid_serial(st.Text(2));
      a.set_x509_svid_expires_at(st.Int(3));
      a.set_banned(st.Int(4) != 0);
      a.set_created_at(st.Int(5));
      a.set_last_seen_at(st.Int(6));
      out.push_back(std::move(a));
    }
    if (!st.IsNull(7)) {
      Selector* s = out.back().add_selectors();
      s->set_type(st.Text(7));
      s->set_value(st.Text(8));
    }
  }
  return out;
}

absl::StatusOr<bool> SqliteDatastore::AgentExists(const std::string& spiffe_id) {
  ASSIGN_OR_RETURN(Stmt st,
                   Stmt::Prepare(C(), "SELECT 1 FROM attested_agents WHERE spiffe_id = ?"));
  st.Bind(1, absl::string_view(spiffe_id));
  return st.Step();
}

absl::Status SqliteDatastore::WriteNodeSelectors(const AttestedAgent& a) {
  ASSIGN_OR_RETURN(Stmt del, Stmt::Prepare(C(), "DELETE FROM node_selectors WHERE spiffe_id = ?"));
  del.Bind(1, absl::string_view(a.spiffe_id()));
  RETURN_IF_ERROR(del.Run());
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(),
                                          "INSERT INTO node_selectors (spiffe_id, type, "
                                          "value) VALUES (?, ?, ?)"));
  for (const SelectorKey& k : UniqueSelectors(a.selectors())) {
    st.Reset();
    st.Bind(1, absl::string_view(a.spiffe_id()));
    st.Bind(2, absl::string_view(k.first));
    st.Bind(3, absl::string_view(k.second));
    RETURN_IF_ERROR(st.Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteDatastore::CreateAttestedAgent(const AttestedAgent& a) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(bool exists, AgentExists(a.spiffe_id()));
  if (exists) {
    return absl::AlreadyExistsError(
        absl::StrCat("attested agent ", a.spiffe_id(), " already exists"));
  }
  ASSIGN_OR_RETURN(Stmt st,
                   Stmt::Prepare(C(),
                                 "INSERT INTO attested_agents (spiffe_id, attestation_type, "
                                 "x509_svid_serial, x509_svid_expires_at, banned, created_at, "
                                 "last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, absl::string_view(a.spiffe_id()));
  st.Bind(2, absl::string_view(a.attestation_type()));
  st.Bind(3, absl::string_view(a.x509_svid_serial()));
  st.Bind(4, a.x509_svid_expires_at());
  st.Bind(5, int64_t{a.banned()});
  st.Bind(6, a.created_at());
  st.Bind(7, a.last_seen_at());
  RETURN_IF_ERROR(st.Run());
  RETURN_IF_ERROR(WriteNodeSelectors(a));
  return txn->Commit();
}

absl::StatusOr<AttestedAgent> SqliteDatastore::GetAttestedAgent(const std::string& spiffe_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::vector<AttestedAgent> agents,
                   ReadAgents(absl::StrCat("SELECT ", kAgentColumns,
                                           " FROM attested_agents a LEFT JOIN node_selectors s ON "
                                           "s.spiffe_id = a.spiffe_id WHERE a.spiffe_id = ? "
                                           "ORDER BY s.id"),
                              {spiffe_id}));
  if (agents.empty()) {
    return absl::NotFoundError(absl::StrCat("attested agent ", spiffe_id, " not found"));
  }
  return std::move(agents.front());
}

absl::Status SqliteDatastore::UpdateAttestedAgent(const AttestedAgent& a) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(bool exists, AgentExists(a.spiffe_id()));
  if (!exists) {
    return absl::NotFoundError(absl::StrCat("attested agent ", a.spiffe_id(), " not found"));
  }
  ASSIGN_OR_RETURN(Stmt st,
                   Stmt::Prepare(C(),
                                 "UPDATE attested_agents SET attestation_type = ?, "
                                 "x509_svid_serial = ?, x509_svid_expires_at = ?, banned = ?, "
                                 "created_at = ?, last_seen_at = ? WHERE spiffe_id = ?"));
  st.Bind(1, absl::string_view(a.attestation_type()));
  st.Bind(2, absl::string_view(a.x509_svid_serial()));
  st.Bind(3, a.x509_svid_expires_at());
  st.Bind(4, int64_t{a.banned()});
  st.Bind(5, a.created_at());
  st.Bind(6, a.last_seen_at());
  st.Bind(7, absl::string_view(a.spiffe_id()));
  RETURN_IF_ERROR(st.Run());
  RETURN_IF_ERROR(WriteNodeSelectors(a));
  return txn->Commit();
}

absl::Status SqliteDatastore::DeleteAttestedAgent(const std::string& spiffe_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(), "DELETE FROM attested_agents WHERE spiffe_id = ?"));
  st.Bind(1, absl::string_view(spiffe_id));
  RETURN_IF_ERROR(st.Run());
  if (sqlite3_changes(C().db) == 0) {
    return absl::NotFoundError(absl::StrCat("attested agent ", spiffe_id, " not found"));
  }
  return txn->Commit();
}

absl::StatusOr<std::vector<AttestedAgent>> SqliteDatastore::ListAttestedAgents(
    int32_t page_size, const std::string& page_token, std::string* next_page_token) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size must not be negative");
  const int64_t limit = std::min<int64_t>(page_size, kMaxListPageSize);
  std::string inner = "SELECT * FROM attested_agents";
  std::vector<BindValue> binds;
  if (!page_token.empty()) {
    absl::StrAppend(&inner, " WHERE spiffe_id > ?");
    binds.emplace_back(page_token);
  }
  absl::StrAppend(&inner, " ORDER BY spiffe_id");
  if (limit > 0) {
    absl::StrAppend(&inner, " LIMIT ?");
    binds.emplace_back(limit + 1);
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      std::vector<AttestedAgent> agents,
      ReadAgents(absl::StrCat("SELECT ", kAgentColumns, " FROM (", inner,
                              ") a LEFT JOIN node_selectors s ON s.spiffe_id = a.spiffe_id "
                              "ORDER BY a.spiffe_id, s.id"),
                 binds));
  std::string next;
  if (limit > 0 && static_cast<int64_t>(agents.size()) > limit) {
    agents.resize(limit);
    next = agents.back().spiffe_id();
  }
  if (next_page_token != nullptr) *next_page_token = next;
  return agents;
}

absl::StatusOr<int64_t> SqliteDatastore::CountAttestedAgents() {
  absl::MutexLock lock(&mu_);
  return CountLocked("SELECT COUNT(*) FROM attested_agents");
}

// --- Join tokens -----------------------------------------------------------

absl::Status SqliteDatastore::CreateJoinToken(const JoinToken& t) {
  if (t.token().empty()) return absl::InvalidArgumentError("join token is empty");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(),
                                          "INSERT INTO join_tokens (token, expires_at, spiffe_id) "
                                          "VALUES (?, ?, ?) ON CONFLICT (token) DO NOTHING"));
  st.Bind(1, absl::string_view(t.token()));
  st.Bind(2, t.expires_at());
  st.Bind(3, absl::string_view(t.spiffe_id()));
  RETURN_IF_ERROR(st.Run());
  // The token is a secret: never echo it in a message.
  if (sqlite3_changes(C().db) == 0) return absl::AlreadyExistsError("join token already exists");
  return txn->Commit();
}

absl::StatusOr<JoinToken> SqliteDatastore::ConsumeJoinToken(const std::string& token,
                                                            absl::Time now) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(),
                                          "DELETE FROM join_tokens WHERE token = ? "
                                          "RETURNING token, expires_at, spiffe_id"));
  st.Bind(1, absl::string_view(token));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::NotFoundError("join token does not exist or has already been used");
  JoinToken t;
  t.set_token(st.Text(0));
  t.set_expires_at(st.Int(1));
  t.set_spiffe_id(st.Text(2));
  RETURN_IF_ERROR(st.Run());  // finish the statement before COMMIT
  RETURN_IF_ERROR(txn->Commit());
  // A token expires at expires_at (0 means already expired: tokens always
  // carry an expiry).
  if (now >= absl::FromUnixSeconds(t.expires_at())) {
    return JoinTokenExpiredError();
  }
  return t;
}

// --- Bundles and CA records ------------------------------------------------

absl::Status SqliteDatastore::SetBundle(const Bundle& b) {
  if (b.trust_domain().empty()) return absl::InvalidArgumentError("bundle has no trust domain");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(),
                                          "INSERT INTO bundles (trust_domain, data) VALUES "
                                          "(?, ?) ON CONFLICT (trust_domain) DO UPDATE SET "
                                          "data = excluded.data"));
  st.Bind(1, absl::string_view(b.trust_domain()));
  st.BindBlob(2, b.SerializeAsString());
  RETURN_IF_ERROR(st.Run());
  return txn->Commit();
}

absl::StatusOr<Bundle> SqliteDatastore::GetBundle(const std::string& trust_domain) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(), "SELECT data FROM bundles WHERE trust_domain = ?"));
  st.Bind(1, absl::string_view(trust_domain));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("bundle for ", trust_domain, " not found"));
  Bundle b;
  if (!b.ParseFromString(st.Blob(0))) {
    return absl::InternalError(absl::StrCat("corrupt bundle for ", trust_domain, " in ", path_));
  }
  return b;
}

absl::StatusOr<std::vector<Bundle>> SqliteDatastore::ListBundles() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(),
                                          "SELECT trust_domain, data FROM bundles ORDER BY "
                                          "trust_domain"));
  std::vector<Bundle> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    Bundle b;
    if (!b.ParseFromString(st.Blob(1))) {
      return absl::InternalError(absl::StrCat("corrupt bundle for ", st.Text(0), " in ", path_));
    }
    out.push_back(std::move(b));
  }
}

absl::Status SqliteDatastore::PutCaRecord(const CaRecord& r) {
  if (r.name.empty()) return absl::InvalidArgumentError("CA record has no name");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, WriteTxn::Begin(C()));
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(),
                                          "INSERT INTO ca_records (name, data) VALUES (?, ?) "
                                          "ON CONFLICT (name) DO UPDATE SET data = "
                                          "excluded.data"));
  st.Bind(1, absl::string_view(r.name));
  st.BindBlob(2, r.data);
  RETURN_IF_ERROR(st.Run());
  return txn->Commit();
}

absl::StatusOr<std::vector<CaRecord>> SqliteDatastore::ListCaRecords() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(C(), "SELECT name, data FROM ca_records ORDER BY name"));
  std::vector<CaRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(CaRecord{st.Text(0), st.Blob(1)});
  }
}

absl::StatusOr<int64_t> SqliteDatastore::Revision() {
  absl::MutexLock lock(&mu_);
  return CountLocked("SELECT value FROM revision WHERE id = 0");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Datastore>> OpenSqliteDatastoreWithOptions(
    const std::string& path, const SqliteDatastoreOptions& options) {
  return SqliteDatastore::Open(path, options);
}

absl::StatusOr<std::unique_ptr<Datastore>> OpenSqliteDatastore(const std::string& path) {
  return OpenSqliteDatastoreWithOptions(path, SqliteDatastoreOptions());
}

}  // namespace signet::server
