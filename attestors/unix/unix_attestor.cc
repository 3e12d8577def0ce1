#include "attestors/unix/unix_attestor.h"

#include <openssl/evp.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/openssl_util.h"
#include "common/status_macros.h"

namespace signet::attestors {
namespace {

constexpr size_t kReadChunk = 1 << 20;

// EffectiveId picks the effective id (second field) as SPIRE does, or the
// only one.
uint32_t EffectiveId(const std::vector<uint32_t>& ids) { return ids.size() > 1 ? ids[1] : ids[0]; }

}  // namespace

UnixAttestor::UnixAttestor(UnixAttestorConfig config, std::unique_ptr<ProcessInfo> proc,
                           std::function<absl::Time()> clock,
                           std::unique_ptr<MountNamespaces> mount_ns)
    : config_(config),
      proc_(std::move(proc)),
      clock_(std::move(clock)),
      mount_ns_(mount_ns ? std::move(mount_ns) : NewLinuxMountNamespaces()) {}

std::optional<std::string> UnixAttestor::UserName(uint32_t uid) {
  return CachedLookup(uid, /*user=*/true);
}

std::optional<std::string> UnixAttestor::GroupName(uint32_t gid) {
  return CachedLookup(gid, /*user=*/false);
}

std::optional<std::string> UnixAttestor::CachedLookup(uint32_t id, bool user) {
  absl::Time now = clock_();
  {
    absl::MutexLock l(&mu_);
    std::map<uint32_t, CachedName>& cache = user ? user_names_ : group_names_;
    auto it = cache.find(id);
    if (it != cache.end() && now < it->second.expires) return it->second.name;
  }
  // Looked up outside the lock: NSS may be slow.
  std::optional<std::string> name = user ? proc_->UserName(id) : proc_->GroupName(id);
  absl::MutexLock l(&mu_);
  std::map<uint32_t, CachedName>& cache = user ? user_names_ : group_names_;
  if (cache.size() >= kMaxCacheEntries) cache.clear();
  cache[id] = CachedName{name, now + kNameTtl};
  return name;
}

uint64_t UnixAttestor::hashes_computed() const {
  absl::MutexLock l(&mu_);
  return hashes_computed_;
}

uint64_t UnixAttestor::paths_omitted() const {
  absl::MutexLock l(&mu_);
  return paths_omitted_;
}

absl::Status UnixAttestor::InOurMountNamespace(pid_t pid) {
  absl::StatusOr<NamespaceId> theirs = mount_ns_->Of(pid);
  if (!theirs.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot read the mount namespace of the workload: ",
                                               theirs.status().message()));
  }
  absl::StatusOr<NamespaceId> ours = mount_ns_->Own();
  if (!ours.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the mount namespace of the agent: ", ours.status().message()));
  }
  if (*theirs != *ours) {
    return absl::PermissionDeniedError(
        "workload is in another mount namespace, where its executable path can be any file");
  }
  return absl::OkStatus();
}

void UnixAttestor::PathOmitted(pid_t pid, const std::string& path, const absl::Status& why) {
  absl::Time now = clock_();
  uint64_t omissions;
  {
    absl::MutexLock l(&mu_);
    ++paths_omitted_;
    ++omissions_unlogged_;
    if (now < next_omission_log_) return;
    next_omission_log_ = now + kPathOmittedLogInterval;
    omissions = omissions_unlogged_;
    omissions_unlogged_ = 0;
  }
  LogWarn("unix attestor left out unix:path",
          {{"pid", absl::StrCat(pid)},
           {"path", path},
           {"reason", std::string(why.message())},
           {"omissions", absl::StrCat(omissions)},
           {"log_interval", absl::FormatDuration(kPathOmittedLogInterval)}});
}

absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewUnixAttestorFromConfig(ConfigSection& data) {
  UnixAttestorConfig c;
  c.discover_workload_path = data.Bool("discover_workload_path", false);
  c.workload_size_limit = data.Int("workload_size_limit", 0);
  data.Finish();
  return std::make_unique<UnixAttestor>(c, NewLinuxProcessInfo());
}

absl::StatusOr<std::vector<Selector>> UnixAttestor::Attest(const WorkloadProcess& process,
                                                           absl::Time /*deadline*/) {
  // Reads of /proc only: nothing here waits long enough to need the deadline.
  const pid_t pid = process.pid;
  ASSIGN_OR_RETURN(ProcessIds ids, proc_->Ids(pid));
  std::vector<Selector> out;
  auto add = [&out](absl::string_view key, absl::string_view v) {
    out.push_back(Selector{"unix", absl::StrCat(key, ":", v)});
  };
  uint32_t uid = EffectiveId(ids.uids);
  uint32_t gid = EffectiveId(ids.gids);
  add("uid", absl::StrCat(uid));
  if (auto n = UserName(uid)) add("user", *n);
  add("gid", absl::StrCat(gid));
  if (auto n = GroupName(gid)) add("group", *n);
  for (uint32_t g : ids.groups) {
    add("supplementary_gid", absl::StrCat(g));
    if (auto n = GroupName(g)) add("supplementary_group", *n);
  }
  if (config_.discover_workload_path) {
    // The namespace is read after the path: an unprivileged process can
    // leave the agent's mount namespace but never re-enter it (setns needs
    // CAP_SYS_ADMIN over the namespace's owning user namespace), so one that
    // is in it now was in it when its path was read, and that path is the
    // one the agent sees too. The pid is pinned by the caller, so both reads
    // are of the same process.
    ASSIGN_OR_RETURN(std::string path, proc_->ExePath(pid));
    if (absl::Status same = InOurMountNamespace(pid); same.ok()) {
      add("path", path);
    } else {
      PathOmitted(pid, path, same);
    }
    if (config_.workload_size_limit >= 0) {
      ASSIGN_OR_RETURN(std::string hex, ExeSha256Hex(pid));
      add("sha256", hex);
    }
  }
  return out;
}

absl::StatusOr<std::string> UnixAttestor::ExeSha256Hex(pid_t pid) {
  ASSIGN_OR_RETURN(std::unique_ptr<ExecutableFile> exe, proc_->OpenExe(pid));
  const FileIdentity& id = exe->identity();
  {
    absl::MutexLock l(&mu_);
    auto it = hash_cache_.find(id);
    if (it != hash_cache_.end()) return it->second;
  }
  if (config_.workload_size_limit > 0 && id.size > config_.workload_size_limit) {
    LogWarn("workload executable exceeds size limit; not hashing",
            {{"pid", absl::StrCat(pid)},
             {"size", absl::StrCat(id.size)},
             {"limit", absl::StrCat(config_.workload_size_limit)}});
    return absl::FailedPreconditionError(absl::StrCat("workload executable exceeds size limit (",
                                                      id.size, " > ", config_.workload_size_limit,
                                                      ")"));
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return OpensslError("sha256 init");
  }
  std::string buf;
  int64_t total = 0;
  for (;;) {
    buf.clear();
    ASSIGN_OR_RETURN(size_t n, exe->Read(kReadChunk, &buf));
    if (n == 0) break;
    total += n;
    if (config_.workload_size_limit > 0 && total > config_.workload_size_limit) {
      return absl::FailedPreconditionError("workload executable grew beyond size limit");
    }
    if (EVP_DigestUpdate(ctx.get(), buf.data(), n) != 1) return OpensslError("sha256 update");
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &md_len) != 1) return OpensslError("sha256 final");
  std::string hex = HexEncode(absl::string_view(reinterpret_cast<char*>(md), md_len));
  absl::MutexLock l(&mu_);
  ++hashes_computed_;
  if (hash_cache_.size() >= kMaxCacheEntries) hash_cache_.clear();
  hash_cache_[id] = hex;
  return hex;
}

}  // namespace signet::attestors
