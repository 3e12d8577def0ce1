// The "unix" workload attestor: selectors from a process's uid, gid and
// groups and, optionally, its executable's path and SHA-256 (SPIRE's unix
// plugin). The path is reported only for processes in the agent's mount
// namespace: in a mount namespace of its own (which an unprivileged user can
// create inside a user namespace) a process can bind-mount any binary over
// any path and exec it, and /proc/<pid>/exe then names that path.
#ifndef SIGNET_ATTESTORS_UNIX_UNIX_ATTESTOR_H_
#define SIGNET_ATTESTORS_UNIX_UNIX_ATTESTOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "attestors/process_info.h"
#include "attestors/unix/mount_namespace.h"
#include "attestors/workload_attestor.h"
#include "common/config.h"

namespace signet::attestors {

struct UnixAttestorConfig {
  // Adds unix:path (only for processes in the agent's mount namespace) and
  // unix:sha256.
  bool discover_workload_path = false;
  // Largest executable hashed, in bytes: 0 = no limit, negative = never hash
  // (no unix:sha256 selector). A bigger executable fails attestation, as in
  // SPIRE.
  int64_t workload_size_limit = 0;
};

// NewUnixAttestorFromConfig reads a plugin_data section
// (discover_workload_path, workload_size_limit), recording problems in the
// section's ConfigErrors and Finish()ing it, and returns the attestor on the
// real /proc. The "unix" factory of the registry.
[[nodiscard]] absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewUnixAttestorFromConfig(
    ConfigSection& data);

// UnixAttestor implements WorkloadAttestor. Thread-safe. Executable hashes
// are cached by FileIdentity (device, inode, size, mtime, ctime of the opened
// /proc/<pid>/exe) so a repeated call never re-reads the binary.
class UnixAttestor : public WorkloadAttestor {
 public:
  // Most cached hashes kept; the cache is cleared when it is full.
  static constexpr size_t kMaxCacheEntries = 4096;

  // How long a uid/gid -> name lookup (or its absence) is reused.
  static constexpr absl::Duration kNameTtl = absl::Seconds(1);

  // At most one log line per interval says why unix:path was left out (with
  // the number of omissions since the previous line), so a workload that
  // reconnects in a loop cannot flood the log.
  static constexpr absl::Duration kPathOmittedLogInterval = absl::Minutes(1);

  // `clock` drives the name cache's TTL and the omission log's rate limit
  // (injected by tests). `mount_ns` reads mount namespaces; null means
  // NewLinuxMountNamespaces() (the real /proc).
  UnixAttestor(
      UnixAttestorConfig config, std::unique_ptr<ProcessInfo> proc,
      std::function<absl::Time()> clock = [] { return absl::Now(); },
      std::unique_ptr<MountNamespaces> mount_ns = nullptr);

  // Attest returns unix:uid, unix:user, unix:gid, unix:group,
  // unix:supplementary_gid, unix:supplementary_group (names when they resolve)
  // and with discover_workload_path unix:sha256 and, when the process is in
  // the agent's mount namespace, unix:path. A process in another mount
  // namespace, or one whose namespace (or the agent's) cannot be read, gets
  // no unix:path; that is not an error. Errors: NotFound (process gone),
  // Internal (read failure), FailedPrecondition (executable exceeds
  // workload_size_limit).
  absl::StatusOr<std::vector<Selector>> Attest(const WorkloadProcess& process,
                                               absl::Time deadline) override;
  std::string name() const override { return "unix"; }

  // Number of executables hashed so far (cache misses); for tests.
  uint64_t hashes_computed() const;
  // Number of times unix:path was left out; for tests.
  uint64_t paths_omitted() const;

 private:
  struct CachedName {
    std::optional<std::string> name;
    absl::Time expires;
  };

  absl::StatusOr<std::string> ExeSha256Hex(pid_t pid);
  // InOurMountNamespace returns OK when `pid` is in the agent's mount
  // namespace, else why not (another namespace, or one of them unreadable).
  absl::Status InOurMountNamespace(pid_t pid);
  // PathOmitted counts an omitted unix:path and logs it, rate-limited.
  void PathOmitted(pid_t pid, const std::string& path, const absl::Status& why)
      ABSL_LOCKS_EXCLUDED(mu_);
  // UserName / GroupName resolve through proc_, cached for kNameTtl (the NSS
  // lookups open and parse /etc/passwd and /etc/group on every call).
  std::optional<std::string> UserName(uint32_t uid);
  std::optional<std::string> GroupName(uint32_t gid);
  std::optional<std::string> CachedLookup(uint32_t id, bool user) ABSL_LOCKS_EXCLUDED(mu_);

  const UnixAttestorConfig config_;
  const std::unique_ptr<ProcessInfo> proc_;
  const std::function<absl::Time()> clock_;
  const std::unique_ptr<MountNamespaces> mount_ns_;

  mutable absl::Mutex mu_;
  // Guarded by mu_
  std::map<FileIdentity, std::string> hash_cache_ ABSL_GUARDED_BY(mu_);
  uint64_t hashes_computed_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint32_t, CachedName> user_names_ ABSL_GUARDED_BY(mu_);
  std::map<uint32_t, CachedName> group_names_ ABSL_GUARDED_BY(mu_);
  uint64_t paths_omitted_ ABSL_GUARDED_BY(mu_) = 0;
  // Omissions not yet reported, and when the next log line may be written.
  uint64_t omissions_unlogged_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_omission_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_UNIX_UNIX_ATTESTOR_H_
