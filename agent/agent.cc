#include "agent/agent.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "agent/nodeattestor/registry.h"
#include "common/bundle.h"
#include "common/bundle_proto.h"
#include "common/file.h"
#include "common/grpc_status.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::agent {
namespace {

constexpr char kSvidFile[] = "agent_svid.pem";
constexpr char kKeyFile[] = "agent_key.pem";
constexpr char kBundleFile[] = "bundle.pem";

absl::Duration Jitter(absl::Duration max) {
  if (max <= absl::ZeroDuration()) return absl::ZeroDuration();
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> d(0, absl::ToInt64Milliseconds(max));
  return absl::Milliseconds(d(rng));
}

// HalfLife returns the middle of a certificate's validity, ignoring the
// NotBefore backdating our issuer applies for clock skew.
absl::Time HalfLife(absl::Time nb, absl::Time na) {
  absl::Time start = std::min(nb + kNotBeforeBackdate, na);
  return start + (na - start) / 2;
}

// Retryable: attestation failures worth another try. ResourceExhausted is the
// server's "busy" (its limit of concurrent attestations, or its memory quota
// for the Node API), see SECURITY.md.
bool Retryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded ||
         s.code() == absl::StatusCode::kUnknown || s.code() == absl::StatusCode::kResourceExhausted;
}

}  // namespace

Agent::Agent(AgentConfig config) : config_(std::move(config)), td_(*config_.trust_domain) {
  auto s = std::make_shared<AgentSnapshot>();
  snapshot_ = std::move(s);
}

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentConfig config) {
  if (!config.trust_domain) return absl::InvalidArgumentError("trust_domain is required");
  if (mkdir(config.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data_dir ", config.data_dir, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<Agent>(new Agent(std::move(config)));
}

Agent::~Agent() { Stop(); }

void Agent::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    if (sync_ctx_) sync_ctx_->TryCancel();
    threads.swap(threads_);
  }
  {
    // Release WaitForChange callers now rather than at their deadlines.
    absl::MutexLock l(&snap_mu_);
    snap_stopping_ = true;
  }
  for (auto& t : threads) t.join();
}

std::string Agent::Target() const {
  std::string host = config_.server_address;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return absl::StrCat(host, ":", config_.server_port);
}

std::string Agent::DataFile(const std::string& name) const { return config_.data_dir + "/" + name; }

std::string Agent::agent_id() {
  absl::MutexLock l(&mu_);
  if (!identity_ || identity_->chain.empty()) return "";
  auto id = SpiffeIdFromCert(identity_->chain[0].get());
  return id.ok() ? id->ToString() : "";
}

absl::Status Agent::PersistIdentity(const AgentIdentity& id) {
  if (config_.key_manager != "disk") return absl::OkStatus();
  std::string chain;
  for (const X509Ptr& c : id.chain) {
    ASSIGN_OR_RETURN(std::string pem, CertToPem(c.get()));
    chain += pem;
  }
  ASSIGN_OR_RETURN(std::string key, PrivateKeyToPkcs8Pem(id.key.get()));
  RETURN_IF_ERROR(WriteFileAtomic(DataFile(kKeyFile), key, 0600));
  return WriteFileAtomic(DataFile(kSvidFile), chain, 0600);
}

absl::Status Agent::PersistBundle(const Bundle& b) {
  return WriteFileAtomic(DataFile(kBundleFile), b.X509AuthoritiesPem(), 0600);
}

absl::StatusOr<std::shared_ptr<const AgentIdentity>> Agent::LoadPersistedIdentity(
    const Bundle* bundle) {
  if (config_.key_manager != "disk") return absl::NotFoundError("memory key manager");
  if (bundle == nullptr) return absl::NotFoundError("no bundle to check a kept SVID against");
  ASSIGN_OR_RETURN(std::string chain_pem, ReadFileBounded(DataFile(kSvidFile), kMaxSmallFileBytes));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFileBounded(DataFile(kKeyFile), kMaxSmallFileBytes));
  auto id = std::make_shared<AgentIdentity>();
  ASSIGN_OR_RETURN(id->chain, ParseCertsPem(chain_pem));
  ASSIGN_OR_RETURN(id->key, ParsePrivateKeyPem(key_pem));
  absl::Time now = absl::Now();
  if (absl::Time na = CertNotAfter(id->chain[0].get()); na <= now + absl::Seconds(5)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the agent SVID kept in ", config_.data_dir, " expired at ",
                     absl::FormatTime(absl::RFC3339_sec, na, absl::UTCTimeZone()),
                     " while the agent was offline"));
  }
  BundleSet set;
  set.Put(*bundle);
  ASSIGN_OR_RETURN(SpiffeId sid, VerifyX509Svid(id->chain, set, now));
  if (!sid.IsMemberOf(td_)) return absl::FailedPreconditionError("kept SVID is for another TD");
  EvpPkeyPtr pub(X509_get_pubkey(id->chain[0].get()));
  if (!pub || !PublicKeysEqual(pub.get(), id->key.get())) {
    return absl::FailedPreconditionError("kept key does not match the kept SVID");
  }
  return std::shared_ptr<const AgentIdentity>(std::move(id));
}

void Agent::InstallIdentity(std::shared_ptr<const AgentIdentity> id) {
  absl::MutexLock l(&mu_);
  identity_ = std::move(id);
  channel_.reset();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Agent::Channel() {
  absl::MutexLock l(&mu_);
  if (channel_) return channel_;
  ASSIGN_OR_RETURN(channel_, NewServerChannel(Target(), td_, bundle_.get(), identity_.get()));
  return channel_;
}

absl::Status Agent::AttestOnce() {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey(KeyType::kEcP256));
  std::shared_ptr<const Bundle> bundle;
  {
    absl::MutexLock l(&mu_);
    bundle = bundle_;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> ch,
                   NewServerChannel(Target(), td_, bundle.get(), nullptr));
  auto stub = signet::agent::Node::NewStub(ch);
  ASSIGN_OR_RETURN(AttestOutcome out, AttestAgent(stub.get(), config_, key.get()));
  if (out.bundle.trust_domain() != td_) {
    return absl::FailedPreconditionError(
        absl::StrCat("server bundle is for trust domain ", out.bundle.trust_domain().name()));
  }
  if (out.bundle.x509_authorities().empty()) {
    return absl::FailedPreconditionError("server returned a bundle with no X.509 authority");
  }
  auto id = std::make_shared<AgentIdentity>();
  id->chain = std::move(out.chain);
  id->key = std::move(key);
  // The agent SVID must chain to the bundle about to be installed (and, after
  // an insecure bootstrap, pinned): a restart checks the kept SVID against it.
  // The server's clock may be ahead of ours by the leeway.
  BundleSet returned;
  returned.Put(out.bundle);
  absl::Time now = absl::Now();
  absl::StatusOr<SpiffeId> sid = VerifyX509Svid(id->chain, returned, now);
  if (!sid.ok()) sid = VerifyX509Svid(id->chain, returned, now + kServerClockSkewLeeway);
  if (!sid.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the agent SVID the server issued does not chain to the bundle it returned: ",
                     sid.status().message()));
  }
  if (absl::Status s = PersistBundle(out.bundle); !s.ok()) {
    // Without the kept bundle the next start would bootstrap insecurely
    // again: an insecure bootstrap fails instead.
    if (bundle == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("insecure_bootstrap: cannot pin the server's bundle: ", s.message()));
    }
    LogWarn("could not persist bundle", {{"error", s.ToString()}});
  }
  if (absl::Status s = PersistIdentity(*id); !s.ok()) {
    LogWarn("could not persist agent SVID", {{"error", s.ToString()}});
  }
  {
    absl::MutexLock l(&mu_);
    bundle_ = std::make_shared<const Bundle>(std::move(out.bundle));
  }
  InstallIdentity(std::move(id));
  LogInfo("node attestation succeeded", {{"spiffe_id", sid->ToString()}});
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Bundle>> Agent::LoadKeptBundle() const {
  const std::string path = DataFile(kBundleFile);
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the trust bundle kept in ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 022) != 0) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("the trust bundle kept in ", path,
                     " is not a regular file owned by the agent's user and writable by it only"));
  }
  if (st.st_size > kMaxKeptBundleBytes) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "the trust bundle kept in ", path, " is larger than ", kMaxKeptBundleBytes, " bytes"));
  }
  absl::StatusOr<std::string> pem =
      ReadOpenFile(fd, path, static_cast<size_t>(kMaxKeptBundleBytes));
  close(fd);
  if (!pem.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the trust bundle kept in ", path, ": ", pem.status().message()));
  }
  absl::StatusOr<Bundle> b = Bundle::FromX509Pem(td_, *pem);
  if (!b.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the trust bundle kept in ", path, " is invalid: ", b.status().message()));
  }
  return std::optional<Bundle>(std::move(*b));
}

absl::Status Agent::Attest() {
  // Bootstrap trust. A bundle kept in data_dir from an earlier run is newer
  // than the configured one; after an insecure bootstrap it is the pinned
  // trust anchor, so a kept bundle that cannot be used is an error rather
  // than a reason to bootstrap insecurely again.
  std::shared_ptr<const Bundle> bundle;
  absl::StatusOr<std::optional<Bundle>> kept_bundle = LoadKeptBundle();
  if (kept_bundle.ok() && kept_bundle->has_value()) {
    bundle = std::make_shared<const Bundle>(std::move(**kept_bundle));
    if (config_.insecure_bootstrap) {
      LogInfo("insecure_bootstrap: verifying the server against the bundle pinned in data_dir",
              {{"path", DataFile(kBundleFile)}});
    }
  } else if (!kept_bundle.ok()) {
    if (config_.trust_bundle_path.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(kept_bundle.status().message(),
                       "; insecure_bootstrap does not bootstrap again while data_dir holds a "
                       "bundle: remove the file to bootstrap again"));
    }
    LogWarn("ignoring the trust bundle kept in data_dir; using trust_bundle_path",
            {{"error", kept_bundle.status().ToString()}});
  }
  if (!bundle && !config_.trust_bundle_path.empty()) {
    const std::string& path = config_.trust_bundle_path;
    absl::StatusOr<std::string> pem = ReadFileBounded(path, kMaxSmallFileBytes);
    if (!pem.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("cannot read trust_bundle_path ", path));
    }
    absl::StatusOr<Bundle> b = Bundle::FromX509Pem(td_, *pem);
    if (!b.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("invalid trust bundle ", path, ": ", b.status().message()));
    }
    bundle = std::make_shared<const Bundle>(std::move(*b));
  }
  if (!bundle && !config_.insecure_bootstrap) {
    return absl::FailedPreconditionError("no trust bundle: set trust_bundle_path");
  }
  if (!bundle) {
    LogWarn(
        "insecure_bootstrap: the server's certificate is not verified for the first node "
        "attestation; the bundle the server returns is then kept in data_dir and pinned",
        {{"path", DataFile(kBundleFile)}});
  }
  {
    absl::MutexLock l(&mu_);
    bundle_ = bundle;
  }
  absl::StatusOr<std::shared_ptr<const AgentIdentity>> kept = LoadPersistedIdentity(bundle.get());
  if (kept.ok()) {
    InstallIdentity(*kept);
    LogInfo("reusing the agent SVID kept in data_dir", {{"spiffe_id", agent_id()}});
    return absl::OkStatus();
  }
  LogDebug("no usable kept agent SVID", {{"reason", kept.status().ToString()}});
  if (config_.node_attestor == "join_token" && config_.join_token.empty()) {
    // Join tokens are single use: without a usable kept SVID there is nothing
    // to attest with, and retrying cannot help. Say what to do instead.
    std::string why = kept.status().code() == absl::StatusCode::kFailedPrecondition
                          ? std::string(kept.status().message())
                          : "there is no agent SVID kept in " + config_.data_dir;
    return absl::FailedPreconditionError(
        absl::StrCat(why,
                     "; generate a new join token (signet-server token generate) "
                     "and start the agent with -joinToken <token>"));
  }
  absl::Duration backoff = absl::Milliseconds(200);
  for (;;) {
    absl::Status s = AttestOnce();
    if (s.ok()) return s;
    if (!Retryable(s)) return s;
    LogWarn("server unavailable for attestation; retrying", {{"error", s.ToString()}});
    absl::MutexLock l(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff)) {
      return absl::CancelledError("agent stopping");
    }
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

void Agent::NoteServerTime(int64_t server_unix_ms) {
  if (server_unix_ms == 0) return;  // an older server that does not send it
  int64_t offset = server_unix_ms - absl::ToUnixMillis(absl::Now());
  int64_t before = server_offset_ms_.exchange(offset);
  // Warn when the skew first exceeds a few seconds (and again when it grows
  // past the leeway), not on every message.
  constexpr int64_t kWarnMs = 5000;
  const int64_t leeway_ms = absl::ToInt64Milliseconds(kServerClockSkewLeeway);
  auto bucket = [&](int64_t v) {
    return std::abs(v) > leeway_ms ? 2 : std::abs(v) > kWarnMs ? 1 : 0;
  };
  if (bucket(offset) > bucket(before)) {
    LogWarn(bucket(offset) == 2 ? "clock skew with the server exceeds the tolerated leeway: fix NTP"
                                : "clock skew with the server: check NTP",
            {{"server_ahead_by", absl::FormatDuration(absl::Milliseconds(offset))},
             {"leeway", absl::FormatDuration(kServerClockSkewLeeway)}});
  }
}

absl::Duration Agent::ServerClockOffset() const {
  absl::Duration d = absl::Milliseconds(server_offset_ms_.load());
  return std::clamp(d, -kServerClockSkewLeeway, kServerClockSkewLeeway);
}

AgentDebugInfo Agent::DebugInfo() {
  AgentDebugInfo info;
  info.started = started_;
  if (int64_t ms = last_sync_unix_ms_.load(); ms != 0) info.last_sync = absl::FromUnixMillis(ms);
  std::shared_ptr<const AgentIdentity> id;
  {
    absl::MutexLock l(&mu_);
    id = identity_;
  }
  if (id) {
    // Aliasing: each certificate keeps the identity alive, without handing
    // out the key.
    for (const X509Ptr& c : id->chain) info.svid_chain.emplace_back(id, c.get());
  }
  for (const auto& e : Snapshot()->entries) {
    if (e->svid) ++info.cached_x509_svids;
  }
  absl::Time now = absl::Now();
  absl::MutexLock l(&jwt_mu_);
  for (const auto& [key, jwt] : jwt_cache_) {
    if (jwt.expires_at > now) ++info.cached_jwt_svids;
  }
  return info;
}

absl::Duration SyncReconnectDelay(int failures) {
  return std::min(absl::Milliseconds(250) * std::max(failures, 0), absl::Seconds(5));
}

void Agent::StartSync() {
  absl::MutexLock l(&mu_);
  threads_.emplace_back([this] { SyncLoop(); });
  threads_.emplace_back([this] { WorkerLoop(); });
}

bool Agent::WakeSync() const { return stopping_ || resync_now_; }

void Agent::SyncLoop() {
  int failures = 0;
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      resync_now_ = false;
    }
    absl::StatusOr<std::shared_ptr<grpc::Channel>> ch = Channel();
    absl::Status status;
    if (!ch.ok()) {
      status = ch.status();
    } else {
      auto stub = signet::agent::Node::NewStub(*ch);
      grpc::ClientContext ctx;
      {
        absl::MutexLock l(&mu_);
        if (stopping_) return;
        sync_ctx_ = &ctx;
      }
      auto reader = stub->Sync(&ctx, signet::agent::SyncRequest());
      signet::agent::SyncResponse resp;
      while (reader->Read(&resp)) {
        failures = 0;
        last_sync_unix_ms_ = absl::ToUnixMillis(absl::Now());
        NoteServerTime(resp.server_time_unix_ms());
        absl::MutexLock l(&mu_);
        pending_sync_ = std::move(resp);
        resp = signet::agent::SyncResponse();
      }
      grpc::Status gs = reader->Finish();
      {
        absl::MutexLock l(&mu_);
        sync_ctx_ = nullptr;
        if (stopping_) return;
        if (resync_now_) continue;
      }
      status = FromGrpcStatus(gs);
    }
    ++failures;
    const absl::Duration wait = SyncReconnectDelay(failures);
    LogWarn("entry stream from the server ended; reconnecting",
            {{"error", status.ToString()}, {"retry_in", absl::FormatDuration(wait)}});
    if (status.code() == absl::StatusCode::kPermissionDenied ||
        status.code() == absl::StatusCode::kUnauthenticated) {
      // The server no longer accepts our SVID (evicted, superseded, expired):
      // attest again when the configured attestor allows it.
      if (CanAttest(config_)) {
        absl::Status a = AttestOnce();
        if (!a.ok()) {
          LogError("re-attestation failed", {{"error", a.ToString()}});
        } else {
          absl::MutexLock l(&mu_);
          kick_ = true;
        }
      }
    }
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &Agent::WakeSync), wait);
  }
}

bool Agent::WorkReady() const { return stopping_ || kick_ || pending_sync_.has_value(); }

void Agent::WorkerLoop() {
  for (;;) {
    std::optional<signet::agent::SyncResponse> pending;
    {
      absl::MutexLock l(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(this, &Agent::WorkReady), next_wake_);
      if (stopping_) return;
      pending.swap(pending_sync_);
      kick_ = false;
    }
    bool changed = false;
    // Large sync messages and mint batches leave freed heap behind in
    // glibc's per-thread arenas; hand it back once they are applied.
    bool trim = pending && static_cast<size_t>(pending->entries_size()) >= kTrimThreshold;
    if (pending) changed |= ApplySync(*pending);
    pending.reset();
    absl::Time now = absl::Now();
    MaybeRenewAgent(now);
    size_t minted = 0;
    changed |= MintDue(now, &minted);
    trim |= minted >= kTrimThreshold;
    if (changed) Publish();
    if (trim) malloc_trim(0);
    // Next wake-up: the earliest rotation, retry or renewal.
    absl::Time next = store_.NextWake(now);
    {
      absl::MutexLock l(&mu_);
      if (identity_ && !identity_->chain.empty()) {
        absl::Time nb = CertNotBefore(identity_->chain[0].get());
        absl::Time na = CertNotAfter(identity_->chain[0].get());
        next = std::min(next, std::max(HalfLife(nb, na), renew_retry_at_));
      }
    }
    next_wake_ = std::max(next, absl::Now() + absl::Milliseconds(50));
  }
}

bool Agent::ApplySync(const signet::agent::SyncResponse& resp) {
  bool changed = !synced_;
  synced_ = true;
  if (!resp.bundle().trust_domain().empty()) {
    absl::StatusOr<Bundle> b = BundleFromProto(resp.bundle());
    if (!b.ok()) {
      LogError("server sent an invalid bundle", {{"error", b.status().ToString()}});
    } else if (b->trust_domain() != td_) {
      LogError("server sent a bundle for another trust domain",
               {{"trust_domain", b->trust_domain().name()}});
    } else if (b->x509_authorities().empty()) {
      // Neither installed nor kept: nothing could verify the server then.
      LogError("server sent a bundle with no X.509 authority; keeping the current one");
    } else {
      absl::MutexLock l(&mu_);
      bool x509_changed = !bundle_ || bundle_->X509AuthoritiesDer() != b->X509AuthoritiesDer();
      bool any_changed = !bundle_ || !bundle_->SameAuthorities(*b);
      if (any_changed) {
        if (x509_changed) {
          if (absl::Status s = PersistBundle(*b); !s.ok()) {
            LogWarn("could not persist bundle", {{"error", s.ToString()}});
          }
          channel_.reset();  // new roots for the next connection
        }
        bundle_ = std::make_shared<const Bundle>(std::move(*b));
        changed = true;
        LogInfo("trust bundle updated");
      }
    }
  }
  std::map<std::string, Bundle> fed;
  for (const auto& [name, pb] : resp.federated_bundles()) {
    absl::StatusOr<Bundle> b = BundleFromProto(pb);
    if (!b.ok()) {
      LogWarn("invalid federated bundle", {{"trust_domain", name}});
      continue;
    }
    std::string key = b->trust_domain().name();
    fed.emplace(key, std::move(*b));
  }
  if (fed.size() != federated_.size()) changed = true;
  for (const auto& [k, b] : fed) {
    auto it = federated_.find(k);
    if (it == federated_.end() || !it->second.SameAuthorities(b)) changed = true;
  }
  federated_ = std::move(fed);

  // Only the converted entries are kept, not the message.
  changed |= store_.Apply(resp.entries());
  return changed;
}

bool Agent::MintDue(absl::Time now, size_t* minted) {
  std::vector<std::string> due = store_.Due(now);
  if (due.empty()) return false;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ch = Channel();
  if (!ch.ok()) {
    for (const auto& id : due) store_.SetRetry(id, now + absl::Seconds(2));
    return false;
  }
  auto stub = signet::agent::Node::NewStub(*ch);
  bool changed = false;
  for (size_t start = 0; start < due.size(); start += kMintBatchSize) {
    size_t end = std::min(due.size(), start + kMintBatchSize);
    signet::agent::BatchNewX509SvidRequest req;
    std::map<std::string, EvpPkeyPtr> keys;
    for (size_t i = start; i < end; ++i) {
      absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcP256);
      if (!key.ok()) continue;
      absl::StatusOr<std::string> csr = CreateCsrDer(key->get());
      if (!csr.ok()) continue;
      auto* p = req.add_params();
      p->set_entry_id(due[i]);
      p->set_csr(*csr);
      keys[due[i]] = std::move(*key);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    signet::agent::BatchNewX509SvidResponse resp;
    grpc::Status gs = stub->BatchNewX509Svid(&ctx, req, &resp);
    if (!gs.ok()) {
      LogWarn("could not mint X.509-SVIDs", {{"error", FromGrpcStatus(gs).ToString()}});
      for (size_t i = start; i < due.size(); ++i) store_.SetRetry(due[i], now + absl::Seconds(1));
      return changed;
    }
    // Check every result first, then free the batch's keys and request
    // before allocating what stays cached: the SVIDs then fill the holes
    // those leave in the heap rather than sit scattered between them.
    struct Minted {
      const signet::agent::BatchNewX509SvidResult* result;
      std::string key_der;
      absl::Time not_before, not_after;
    };
    std::vector<Minted> ok;
    ok.reserve(static_cast<size_t>(resp.results_size()));
    for (const auto& r : resp.results()) {
      auto kit = keys.find(r.entry_id());
      if (kit == keys.end()) continue;
      if (r.status_code() != 0) {
        LogWarn("server refused to mint an X.509-SVID",
                {{"entry_id", r.entry_id()}, {"error", r.status_message()}});
        store_.SetRetry(r.entry_id(), now + absl::Seconds(5));
        continue;
      }
      absl::StatusOr<std::vector<X509Ptr>> chain = ChainFromProto(r.svid());
      absl::StatusOr<std::string> key_der = PrivateKeyToPkcs8Der(kit->second.get());
      if (!chain.ok() || !key_der.ok()) {
        store_.SetRetry(r.entry_id(), now + absl::Seconds(5));
        continue;
      }
      ok.push_back({&r, std::move(*key_der), CertNotBefore((*chain)[0].get()),
                    CertNotAfter((*chain)[0].get())});
    }
    keys.clear();
    req = signet::agent::BatchNewX509SvidRequest();
    for (const Minted& x : ok) {
      const signet::agent::BatchNewX509SvidResult& r = *x.result;
      auto m = std::make_shared<X509SvidMaterial>();
      // The chain as received (it parsed), in one allocation.
      size_t chain_len = 0;
      for (const std::string& der : r.svid().cert_chain()) chain_len += der.size();
      m->chain_der.reserve(chain_len);
      for (const std::string& der : r.svid().cert_chain()) m->chain_der += der;
      m->key_der = x.key_der;  // a copy, allocated now (see above)
      m->not_before = x.not_before;
      m->not_after = x.not_after;
      absl::Duration life = m->not_after - m->not_before;
      absl::Time rotate_at = std::max(HalfLife(m->not_before, m->not_after) - Jitter(life / 20),
                                      absl::Now() + absl::Milliseconds(500));
      if (!store_.SetSvid(r.entry_id(), std::move(m), rotate_at)) continue;
      changed = true;
      ++*minted;
      LogDebug("minted X.509-SVID",
               {{"entry_id", r.entry_id()}, {"spiffe_id", r.svid().spiffe_id()}});
    }
  }
  return changed;
}

void Agent::MaybeRenewAgent(absl::Time now) {
  std::shared_ptr<const AgentIdentity> cur;
  {
    absl::MutexLock l(&mu_);
    cur = identity_;
  }
  if (!cur || cur->chain.empty() || now < renew_retry_at_) return;
  absl::Time nb = CertNotBefore(cur->chain[0].get());
  absl::Time na = CertNotAfter(cur->chain[0].get());
  if (now < HalfLife(nb, na)) return;
  absl::Status s = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey(KeyType::kEcP256));
    ASSIGN_OR_RETURN(std::string csr, CreateCsrDer(key.get()));
    ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> ch, Channel());
    auto stub = signet::agent::Node::NewStub(ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    signet::agent::RenewAgentRequest req;
    req.set_csr(csr);
    signet::agent::RenewAgentResponse resp;
    grpc::Status gs = stub->RenewAgent(&ctx, req, &resp);
    if (!gs.ok()) return FromGrpcStatus(gs);
    auto id = std::make_shared<AgentIdentity>();
    ASSIGN_OR_RETURN(id->chain, ChainFromProto(resp.svid()));
    id->key = std::move(key);
    if (absl::Status p = PersistIdentity(*id); !p.ok()) {
      LogWarn("could not persist renewed agent SVID", {{"error", p.ToString()}});
    }
    InstallIdentity(std::move(id));
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    LogWarn("agent SVID renewal failed", {{"error", s.ToString()}});
    renew_retry_at_ = now + absl::Seconds(2);
    return;
  }
  LogInfo("agent SVID renewed");
  // Reconnect the entry stream with the new SVID.
  absl::MutexLock l(&mu_);
  resync_now_ = true;
  if (sync_ctx_) sync_ctx_->TryCancel();
}

void Agent::Publish() {
  auto snap = std::make_shared<AgentSnapshot>();
  {
    absl::MutexLock l(&mu_);
    if (bundle_) snap->bundle = *bundle_;
  }
  snap->federated = federated_;
  snap->ready = synced_ && snap->bundle.has_value();
  // Pointers to the store's entries: no entry is copied.
  snap->entries = store_.Servable(absl::Now());
  absl::MutexLock l(&snap_mu_);
  snap->version = snapshot_->version + 1;
  snapshot_ = std::move(snap);
}

std::shared_ptr<const AgentSnapshot> Agent::Snapshot() {
  absl::MutexLock l(&snap_mu_);
  return snapshot_;
}

std::shared_ptr<const AgentSnapshot> Agent::WaitForChange(uint64_t seen, absl::Time deadline) {
  struct Arg {
    Agent* a;
    uint64_t seen;
  } arg{this, seen};
  absl::MutexLock l(&snap_mu_);
  snap_mu_.AwaitWithDeadline(absl::Condition(
                                 +[](Arg* x) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                   return x->a->snapshot_->version != x->seen ||
                                          x->a->snap_stopping_;
                                 },
                                 &arg),
                             deadline);
  return snapshot_;
}

absl::StatusOr<std::string> Agent::FetchJwtSvid(const WorkloadEntry& entry,
                                                const std::vector<std::string>& audience) {
  std::vector<std::string> aud = audience;
  std::sort(aud.begin(), aud.end());
  aud.erase(std::unique(aud.begin(), aud.end()), aud.end());
  std::string key = absl::StrCat(entry.spiffe_id, "\n", absl::StrJoin(aud, "\n"));
  absl::Time now = absl::Now();
  {
    absl::MutexLock l(&jwt_mu_);
    auto it = jwt_cache_.find(key);
    if (it != jwt_cache_.end() && now < it->second.refresh_at) {
      jwt_lru_.erase(it->second.last_use);
      it->second.last_use = ++jwt_use_counter_;
      jwt_lru_[it->second.last_use] = key;
      return it->second.token;
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> ch, Channel());
  auto stub = signet::agent::Node::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  signet::agent::NewJwtSvidRequest req;
  req.set_entry_id(entry.id);
  for (const auto& a : audience) req.add_audience(a);
  signet::agent::NewJwtSvidResponse resp;
  grpc::Status gs = stub->NewJwtSvid(&ctx, req, &resp);
  if (!gs.ok()) return FromGrpcStatus(gs);
  CachedJwt c;
  c.token = resp.token();
  absl::Time iat = resp.issued_at() ? absl::FromUnixSeconds(resp.issued_at()) : now;
  c.expires_at = resp.expires_at() ? absl::FromUnixSeconds(resp.expires_at()) : now;
  c.refresh_at = iat + (c.expires_at - iat) / 2;
  absl::MutexLock l(&jwt_mu_);
  if (auto it = jwt_cache_.find(key); it != jwt_cache_.end()) {
    jwt_cache_bytes_ -= JwtCacheCost(key, it->second);
    jwt_lru_.erase(it->second.last_use);
    jwt_cache_.erase(it);
  }
  const size_t cost = JwtCacheCost(key, c);
  // A token larger than the whole cache is returned but not kept.
  if (cost > static_cast<size_t>(config_.jwt_cache_max_bytes)) return c.token;
  EvictJwts(cost, now);
  c.last_use = ++jwt_use_counter_;
  jwt_lru_[c.last_use] = key;
  jwt_cache_bytes_ += cost;
  return jwt_cache_.emplace(std::move(key), std::move(c)).first->second.token;
}

void Agent::EvictJwts(size_t incoming, absl::Time now) {
  const size_t budget = static_cast<size_t>(config_.jwt_cache_max_bytes);
  if (jwt_cache_bytes_ + incoming <= budget) return;
  for (auto it = jwt_cache_.begin(); it != jwt_cache_.end();) {
    if (it->second.expires_at > now) {
      ++it;
      continue;
    }
    jwt_cache_bytes_ -= JwtCacheCost(it->first, it->second);
    jwt_lru_.erase(it->second.last_use);
    it = jwt_cache_.erase(it);
  }
  while (jwt_cache_bytes_ + incoming > budget && !jwt_lru_.empty()) {
    auto oldest = jwt_lru_.begin();
    auto it = jwt_cache_.find(oldest->second);
    if (it != jwt_cache_.end()) {
      jwt_cache_bytes_ -= JwtCacheCost(it->first, it->second);
      jwt_cache_.erase(it);
    }
    jwt_lru_.erase(oldest);
  }
}

}  // namespace signet::agent
