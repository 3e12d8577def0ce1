// The server's datastore seam. SQLite implements it today; a shared
// PostgreSQL implementation slots in behind the same interface.
#ifndef SIGNET_SERVER_DATASTORE_DATASTORE_H_
#define SIGNET_SERVER_DATASTORE_DATASTORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "signet/types.pb.h"

namespace signet::server {

// kJoinTokenExpiredPayload marks the status ConsumeJoinToken returns for an
// expired token, so callers tell it from a missing one without reading the
// message.
inline constexpr absl::string_view kJoinTokenExpiredPayload =
    "type.signet.dev/signet.server.JoinTokenExpired";

// JoinTokenExpiredError returns NotFound "join token expired", marked with
// kJoinTokenExpiredPayload.
inline absl::Status JoinTokenExpiredError() {
  absl::Status st = absl::NotFoundError("join token expired");
  st.SetPayload(kJoinTokenExpiredPayload, absl::Cord());
  return st;
}

// IsJoinTokenExpired reports whether `st` came from JoinTokenExpiredError.
inline bool IsJoinTokenExpired(const absl::Status& st) {
  return st.GetPayload(kJoinTokenExpiredPayload).has_value();
}

struct ListEntriesFilter {
  std::optional<std::string> spiffe_id;
  std::optional<std::string> parent_id;
  // Selectors with a match mode: "exact" (same set), "subset" (entry's
  // selectors are a subset of these), "superset" (entry's selectors contain
  // these), "any" (share at least one).
  std::vector<signet::types::Selector> selectors;
  std::string match = "superset";
  int32_t page_size = 0;   // 0 = everything (internal callers only)
  std::string page_token;  // opaque; from the previous page
};

struct EntryPage {
  std::vector<signet::types::RegistrationEntry> entries;
  std::string next_page_token;  // empty when this was the last page
};

// CA state persisted by the server: opaque serialized blobs keyed by name
// ("x509_ca/current", "jwt_key/next", ...). Key material is stored by the
// KeyManager (files 0600), not here.
struct CaRecord {
  std::string name;
  std::string data;
};

// Datastore is the server's persistent state. Implementations are
// thread-safe; every mutating call is atomic (one transaction).
class Datastore {
 public:
  virtual ~Datastore() = default;

  // Entries. CreateEntry assigns id, created_at and revision_number and
  // returns the stored entry; AlreadyExists when an entry with the same
  // (spiffe_id, parent_id, selectors) exists. UpdateEntry replaces an entry by
  // id (NotFound when absent) and bumps revision_number. DeleteEntry returns
  // the deleted entry (NotFound when absent).
  [[nodiscard]] virtual absl::StatusOr<signet::types::RegistrationEntry> CreateEntry(
      const signet::types::RegistrationEntry& entry) = 0;
  [[nodiscard]] virtual absl::StatusOr<signet::types::RegistrationEntry> GetEntry(
      const std::string& id) = 0;
  [[nodiscard]] virtual absl::StatusOr<signet::types::RegistrationEntry> UpdateEntry(
      const signet::types::RegistrationEntry& entry) = 0;
  [[nodiscard]] virtual absl::StatusOr<signet::types::RegistrationEntry> DeleteEntry(
      const std::string& id) = 0;
  [[nodiscard]] virtual absl::StatusOr<EntryPage> ListEntries(const ListEntriesFilter& f) = 0;
  [[nodiscard]] virtual absl::StatusOr<int64_t> CountEntries() = 0;
  // ListEntriesByParents returns every entry whose parent_id is one of `parents`.
  [[nodiscard]] virtual absl::StatusOr<std::vector<signet::types::RegistrationEntry>>
  ListEntriesByParents(const std::vector<std::string>& parents) = 0;

  // Attested agents (keyed by spiffe_id). CreateAttestedAgent fails with
  // AlreadyExists when present; UpdateAttestedAgent replaces (NotFound when absent).
  [[nodiscard]] virtual absl::Status CreateAttestedAgent(const signet::types::AttestedAgent& a) = 0;
  [[nodiscard]] virtual absl::StatusOr<signet::types::AttestedAgent> GetAttestedAgent(
      const std::string& spiffe_id) = 0;
  [[nodiscard]] virtual absl::Status UpdateAttestedAgent(const signet::types::AttestedAgent& a) = 0;
  [[nodiscard]] virtual absl::Status DeleteAttestedAgent(const std::string& spiffe_id) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<signet::types::AttestedAgent>>
  ListAttestedAgents(int32_t page_size, const std::string& page_token,
                     std::string* next_page_token) = 0;
  [[nodiscard]] virtual absl::StatusOr<int64_t> CountAttestedAgents() = 0;

  // Join tokens. ConsumeJoinToken atomically deletes the token and returns it;
  // NotFound when it does not exist (or was already used), so two racing
  // agents can never both succeed. Expired tokens are deleted and reported as
  // JoinTokenExpiredError().
  [[nodiscard]] virtual absl::Status CreateJoinToken(const signet::types::JoinToken& t) = 0;
  [[nodiscard]] virtual absl::StatusOr<signet::types::JoinToken> ConsumeJoinToken(
      const std::string& token, absl::Time now) = 0;

  // Bundles (own trust domain and federated), keyed by trust domain name.
  [[nodiscard]] virtual absl::Status SetBundle(const signet::types::Bundle& b) = 0;
  [[nodiscard]] virtual absl::StatusOr<signet::types::Bundle> GetBundle(
      const std::string& trust_domain) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<signet::types::Bundle>> ListBundles() = 0;

  // CA state blobs.
  [[nodiscard]] virtual absl::Status PutCaRecord(const CaRecord& r) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<CaRecord>> ListCaRecords() = 0;

  // Revision returns a counter bumped by every committed change to entries,
  // agents or bundles (for change notification across servers sharing a DB).
  [[nodiscard]] virtual absl::StatusOr<int64_t> Revision() = 0;
};

// OpenSqliteDatastore opens (creating and migrating) a SQLite database at
// `path` with WAL, busy timeout, foreign keys. Unavailable/Internal naming the
// file on failure (unwritable directory, corrupt file, newer schema).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Datastore>> OpenSqliteDatastore(
    const std::string& path);

}  // namespace signet::server

#endif  // SIGNET_SERVER_DATASTORE_DATASTORE_H_
