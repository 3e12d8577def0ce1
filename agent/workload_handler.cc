#include "agent/workload_handler.h"

#include <errno.h>
#include <fcntl.h>
#include <google/protobuf/util/message_differencer.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "attestors/process_info.h"
#include "common/grpc_status.h"
#include "common/jwt.h"
#include "common/log.h"
#include "common/spiffe_id.h"

namespace signet::agent {
namespace {

constexpr char kSecurityHeader[] = "workload.spiffe.io";

// ToGrpc: the handlers' short name for the common conversion.
constexpr auto& ToGrpc = ToGrpcStatus;

absl::Status NoIdentity() { return absl::PermissionDeniedError("no identity issued"); }
absl::Status NotReady() {
  return absl::UnavailableError("agent is not ready: no identities synced yet");
}

// FederatedFor returns the federated bundles named by `entries`'
// federates_with, keyed by trust domain name.
std::map<std::string, const Bundle*> FederatedFor(
    const AgentSnapshot& snap, const std::vector<const WorkloadEntry*>& entries) {
  std::map<std::string, const Bundle*> out;
  for (const WorkloadEntry* e : entries) {
    for (const std::string& f : e->federates_with) {
      auto td = TrustDomain::FromString(f);
      if (!td.ok()) continue;
      if (snap.bundle && td->name() == snap.bundle->trust_domain().name()) continue;
      auto it = snap.federated.find(td->name());
      if (it != snap.federated.end()) out[td->name()] = &it->second;
    }
  }
  return out;
}

class PidfdPinnedProcess : public PinnedProcess {
 public:
  PidfdPinnedProcess(pid_t pid, int fd, bool is_pidfd, uint64_t start)
      : pid_(pid), fd_(fd), is_pidfd_(is_pidfd), start_(start) {}
  ~PidfdPinnedProcess() override { close(fd_); }
  PidfdPinnedProcess(const PidfdPinnedProcess&) = delete;
  PidfdPinnedProcess& operator=(const PidfdPinnedProcess&) = delete;

  absl::Status Check() override {
    if (is_pidfd_) {
      struct pollfd p = {fd_, POLLIN, 0};
      int r = poll(&p, 1, 0);
      if (r != 0) return absl::UnauthenticatedError("caller process exited during attestation");
      // A live pidfd proves the pid still names the pinned process (a pid is
      // not reused while its process, even a zombie, exists): no need to
      // re-read the start time.
      return absl::OkStatus();
    } else {
      // A /proc/<pid> directory fd of a dead process yields ESRCH.
      int sfd = openat(fd_, "stat", O_RDONLY | O_CLOEXEC);
      if (sfd < 0) return absl::UnauthenticatedError("caller process exited during attestation");
      char c;
      ssize_t n = read(sfd, &c, 1);
      close(sfd);
      if (n != 1) return absl::UnauthenticatedError("caller process exited during attestation");
    }
    absl::StatusOr<uint64_t> st = ProcessStartTime(pid_);
    if (!st.ok() || *st != start_) {
      return absl::UnauthenticatedError("caller process changed during attestation (pid reused)");
    }
    return absl::OkStatus();
  }

 private:
  const pid_t pid_;
  const int fd_;
  const bool is_pidfd_;
  const uint64_t start_;
};

class LinuxProcessPinner : public ProcessPinner {
 public:
  absl::StatusOr<std::unique_ptr<PinnedProcess>> Pin(pid_t pid) override {
    if (pid <= 0) return absl::UnauthenticatedError("caller has no process id");
    bool is_pidfd = true;
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
      if (errno != ENOSYS && errno != EINVAL && errno != EPERM) {
        return absl::UnauthenticatedError("caller process is gone");
      }
      is_pidfd = false;
      fd = open(absl::StrCat("/proc/", pid).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) return absl::UnauthenticatedError("caller process is gone");
    } else {
      (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    absl::StatusOr<uint64_t> st = ProcessStartTime(pid);
    if (!st.ok()) {
      close(fd);
      return absl::UnauthenticatedError("caller process is gone");
    }
    return std::unique_ptr<PinnedProcess>(new PidfdPinnedProcess(pid, fd, is_pidfd, *st));
  }
};

}  // namespace

std::unique_ptr<ProcessPinner> NewLinuxProcessPinner() {
  return std::make_unique<LinuxProcessPinner>();
}

absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  char buf[2048];
  absl::StatusOr<absl::string_view> text = attestors::ReadProcFile(path, buf, sizeof(buf));
  if (!text.ok()) {
    if (absl::IsInternal(text.status())) return text.status();
    return absl::NotFoundError(absl::StrCat("process ", pid, " not found"));
  }
  absl::string_view s = *text;
  size_t close_paren = s.rfind(')');
  if (close_paren == absl::string_view::npos) return absl::InternalError("malformed /proc stat");
  // After ")": field 3 (state) onwards; field 22 is the 20th.
  absl::string_view rest = s.substr(close_paren + 1);
  int field = 2;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t j = i;
    while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n') ++j;
    if (j == i) break;
    if (++field == 22) {
      uint64_t v;
      if (!absl::SimpleAtoi(rest.substr(i, j - i), &v)) break;
      return v;
    }
    i = j;
  }
  return absl::InternalError("malformed /proc stat");
}

absl::Status CheckSecurityHeader(const grpc::ServerContextBase& ctx) {
  const auto& md = ctx.client_metadata();
  auto range = md.equal_range(kSecurityHeader);
  int count = 0;
  bool ok = false;
  for (auto it = range.first; it != range.second; ++it) {
    ++count;
    ok = absl::string_view(it->second.data(), it->second.size()) == "true";
  }
  if (count != 1 || !ok) return absl::InvalidArgumentError("security header missing from request");
  return absl::OkStatus();
}

std::vector<const WorkloadEntry*> MatchingEntries(
    const AgentSnapshot& snap, const std::vector<attestors::Selector>& selectors) {
  std::vector<const WorkloadEntry*> out;
  for (const std::shared_ptr<const WorkloadEntry>& e : snap.entries) {
    if (attestors::SelectorsMatch(e->selectors, selectors)) out.push_back(e.get());
  }
  return out;
}

namespace {

// CredsOf returns the Uid, Gid and Groups lines of a /proc/<pid>/status
// text: a change means the process switched users or groups (setuid,
// setgroups, a set-user-ID exec), so selectors cached for it are stale.
std::string CredsOf(absl::string_view status) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::StartsWith(line, "Uid:") || absl::StartsWith(line, "Gid:") ||
        absl::StartsWith(line, "Groups:")) {
      absl::StrAppend(&out, line, "\n");
    }
  }
  return out;
}

}  // namespace

std::shared_ptr<ProcStatusFile> ProcStatusFile::Open(pid_t pid) {
  char path[40];
  snprintf(path, sizeof(path), "/proc/%d/status", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  return std::shared_ptr<ProcStatusFile>(new ProcStatusFile(fd));
}

ProcStatusFile::~ProcStatusFile() { close(fd_); }

std::optional<std::string> ProcStatusFile::Creds() const {
  char buf[4096];
  ssize_t n;
  do {
    n = pread(fd_, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0 || static_cast<size_t>(n) == sizeof(buf)) return std::nullopt;
  return CredsOf(absl::string_view(buf, static_cast<size_t>(n)));
}

namespace {

constexpr size_t kMaxCachedCallers = 4096;

}  // namespace

WorkloadHandler::Selectors WorkloadHandler::CachedSelectors(const PeerCred& cred) {
  if (config_.selector_cache_ttl <= absl::ZeroDuration() || cred.conn_id == 0) return nullptr;
  std::shared_ptr<PinnedProcess> pin;
  std::shared_ptr<ProcStatusFile> status;
  Selectors sel;
  std::string creds;
  {
    absl::MutexLock l(&cache_mu_);
    auto it = callers_.find(cred.conn_id);
    if (it == callers_.end()) return nullptr;
    if (it->second.pid != cred.pid || config_.clock() >= it->second.expires) {
      callers_.erase(it);
      return nullptr;
    }
    pin = it->second.pin;
    status = it->second.status;
    sel = it->second.selectors;
    creds = it->second.creds;
  }
  // Still the same live process (a pidfd cannot name another one), still
  // running as the same user.
  if (!pin->Check().ok() || status->Creds() != creds) {
    absl::MutexLock l(&cache_mu_);
    auto it = callers_.find(cred.conn_id);
    if (it != callers_.end() && it->second.pin == pin) callers_.erase(it);
    return nullptr;
  }
  return sel;
}

void WorkloadHandler::CacheSelectors(const PeerCred& cred, std::shared_ptr<PinnedProcess> pin,
                                     std::shared_ptr<ProcStatusFile> status, std::string creds,
                                     const Selectors& sel) {
  if (config_.selector_cache_ttl <= absl::ZeroDuration() || cred.conn_id == 0) return;
  absl::Time now = config_.clock();
  absl::MutexLock l(&cache_mu_);
  if (callers_.size() >= kMaxCachedCallers) {
    for (auto it = callers_.begin(); it != callers_.end();) {
      it = now >= it->second.expires ? callers_.erase(it) : std::next(it);
    }
    if (callers_.size() >= kMaxCachedCallers) return;
  }
  callers_[cred.conn_id] = CachedCaller{cred.pid,
                                        std::move(pin),
                                        std::move(status),
                                        std::move(creds),
                                        sel,
                                        now + config_.selector_cache_ttl};
}

void WorkloadHandler::PurgeExpiredCallers() {
  absl::Time now = config_.clock();
  absl::MutexLock l(&cache_mu_);
  for (auto it = callers_.begin(); it != callers_.end();) {
    it = now >= it->second.expires ? callers_.erase(it) : std::next(it);
  }
}

uint64_t WorkloadHandler::attestations() {
  absl::MutexLock l(&cache_mu_);
  return attestations_;
}

absl::StatusOr<PeerCred> WorkloadHandler::Identify(grpc::ServerContextBase* ctx) {
  if (absl::Status s = CheckSecurityHeader(*ctx); !s.ok()) return s;
  absl::StatusOr<PeerCred> cred = config_.peer_lookup(ctx->peer());
  if (!cred.ok()) return absl::UnauthenticatedError("could not identify the caller");
  return cred;
}

absl::StatusOr<WorkloadHandler::Selectors> WorkloadHandler::Caller(grpc::ServerContextBase* ctx) {
  absl::StatusOr<PeerCred> cred = Identify(ctx);
  if (!cred.ok()) return cred.status();
  if (Selectors cached = CachedSelectors(*cred)) return cached;
  return AttestCaller(*cred);
}

absl::StatusOr<WorkloadHandler::Selectors> WorkloadHandler::AttestCaller(const PeerCred& cred) {
  absl::StatusOr<std::unique_ptr<PinnedProcess>> pin = config_.pinner->Pin(cred.pid);
  if (!pin.ok()) {
    if (config_.close_connection) config_.close_connection(cred);
    return pin.status();
  }
  // Only a caller that may be cached needs its credentials: the file is
  // opened after the pin and before its re-check below, so when the check
  // passes it belongs to the pinned process.
  std::shared_ptr<ProcStatusFile> status;
  std::optional<std::string> creds;
  if (config_.selector_cache_ttl > absl::ZeroDuration() && cred.conn_id != 0) {
    status = ProcStatusFile::Open(cred.pid);
    if (status) creds = status->Creds();
  }
  {
    absl::MutexLock l(&cache_mu_);
    ++attestations_;
  }
  // No deadline yet: each attestor's own request timeouts bound the call.
  absl::StatusOr<std::vector<attestors::Selector>> sel =
      config_.attestor->Attest({cred.pid}, absl::InfiniteFuture());
  if (absl::Status s = (*pin)->Check(); !s.ok()) {
    LogWarn("workload process changed during attestation; closing connection",
            {{"pid", absl::StrCat(cred.pid)}, {"error", s.ToString()}});
    if (config_.close_connection) config_.close_connection(cred);
    return s;
  }
  if (!sel.ok()) {
    LogWarn("workload attestation failed",
            {{"pid", absl::StrCat(cred.pid)}, {"error", sel.status().ToString()}});
    return absl::UnavailableError("workload attestation failed");
  }
  if (Logger::level() <= LogLevel::kDebug) {
    LogDebug("workload attested", {{"pid", absl::StrCat(cred.pid)},
                                   {"uid", absl::StrCat(cred.uid)},
                                   {"selectors", absl::StrCat(sel->size())}});
  }
  auto shared = std::make_shared<const std::vector<attestors::Selector>>(std::move(*sel));
  if (creds) CacheSelectors(cred, std::move(*pin), std::move(status), std::move(*creds), shared);
  return shared;
}

// StreamCall is one Workload API stream on the asynchronous API. It holds no
// thread: the first message is built on the queue thread that received the
// call, later ones on the handler's watcher thread (Notify); Evaluate turns a
// snapshot into at most one write in flight, and snapshots arriving meanwhile
// are coalesced into the latest. Lifetime: created waiting for a call; after
// the call arrived it ends once both its Finish and its done notification
// have come back from the queue, and is then unregistered and deleted.
// Thread-safe.
template <typename Req, typename Msg>
class StreamCall final : public StreamSink {
 public:
  using Build = absl::StatusOr<std::optional<Msg>> (*)(const AgentSnapshot&,
                                                       const std::vector<attestors::Selector>&);
  using Request = void (*)(WorkloadHandler*, grpc::ServerContext*, Req*,
                           grpc::ServerAsyncWriter<Msg>*, grpc::ServerCompletionQueue*, void*);

  // The constructor asks gRPC for the next call of this RPC; `repost` puts
  // up the following one once it arrives.
  StreamCall(WorkloadHandler* handler, Request request, void (WorkloadHandler::*repost)(),
             Build build)
      : handler_(handler), repost_(repost), build_(build) {
    handler_->CallCreated();
    ctx_.AsyncNotifyWhenDone(&done_tag_);
    request(handler, &ctx_, &req_, &writer_, handler->cq_.get(), &request_tag_);
  }

  ~StreamCall() override { handler_->CallDeleted(); }
  StreamCall(const StreamCall&) = delete;
  StreamCall& operator=(const StreamCall&) = delete;

  void Notify(const std::shared_ptr<const AgentSnapshot>& snap, bool changed) override {
    {
      absl::MutexLock l(&mu_);
      if (finishing_) return;
      if (!changed && !waiting_mint_) return;
      // The first message and the watcher may race: never go back to an
      // older snapshot.
      if (latest_ && latest_->version > snap->version) return;
      latest_ = snap;
      if (busy_) {
        dirty_ = true;
        return;
      }
      busy_ = true;
    }
    Run();
  }

 private:
  class Tag final : public AsyncTag {
   public:
    Tag(StreamCall* call, void (StreamCall::*fn)(bool)) : call_(call), fn_(fn) {}
    void Proceed(bool ok) override { (call_->*fn_)(ok); }

   private:
    StreamCall* const call_;
    void (StreamCall::*const fn_)(bool);
  };

  // OnRequest: a client called (ok) or the server is shutting down (!ok:
  // the done notification never comes, nothing else is pending). A caller
  // whose selectors are cached for its connection is served on this queue
  // thread; attestation (which may wait on a kubelet or Docker) runs on the
  // handler's attestation threads so it never holds up other streams.
  void OnRequest(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    (handler_->*repost_)();
    absl::StatusOr<PeerCred> cred = handler_->Identify(&ctx_);
    if (!cred.ok()) {
      RequestFinish(ToGrpc(cred.status()));
      return;
    }
    if (WorkloadHandler::Selectors cached = handler_->CachedSelectors(*cred)) {
      Begin(std::move(cached));
      return;
    }
    {
      absl::MutexLock l(&mu_);
      ++refs_;  // held by the attestation task
    }
    handler_->RunAttestation([this, c = *cred] {
      absl::StatusOr<WorkloadHandler::Selectors> sel = handler_->AttestCaller(c);
      if (sel.ok()) {
        Begin(*std::move(sel));
      } else {
        RequestFinish(ToGrpc(sel.status()));
      }
      Release();
    });
  }

  // Begin registers the attested stream and sends its first message.
  void Begin(WorkloadHandler::Selectors sel) {
    selectors_ = std::move(sel);
    {
      absl::MutexLock l(&mu_);
      registered_ = true;
    }
    handler_->Register(this);
    Notify(handler_->config_.manager->Snapshot(), /*changed=*/true);
  }

  void OnWriteDone(bool ok) {
    bool finish = false, again = false, abandon = false;
    grpc::Status status;
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      if (!ok) {  // the call is over (the client went away): no status to send
        finishing_ = true;
        cancelled_ = true;
      }
      if (finishing_) {
        busy_ = false;
        finish = !finish_sent_;
        finish_sent_ = true;
        status = finish_status_;
        abandon = cancelled_;
      } else if (dirty_) {
        again = true;
      } else {
        busy_ = false;
      }
    }
    if (finish && abandon) {
      Release();  // the reference Finish would have dropped
      return;
    }
    if (finish) writer_.Finish(status, &finish_tag_);
    if (again) Run();
  }

  // OnDone: the call is over (finished by us, or cancelled by the client or
  // a server shutdown).
  void OnDone(bool) {
    if (ctx_.IsCancelled()) Abandon();
    Release();
  }

  // Abandon ends a call the client cancelled (or a server shutdown cut
  // short): it is over, so no status is sent, and gRPC needs no Finish to
  // free it. The reference Finish would drop goes now, or in OnWriteDone
  // when a write is in flight. Skipping Finish saves about a tenth of the
  // agent's time per one-shot stream (bench/NOTES.md, 1).
  void Abandon() {
    {
      absl::MutexLock l(&mu_);
      if (finish_sent_) return;  // Finish issued already: OnFinished releases
      finishing_ = true;
      cancelled_ = true;
      if (writing_) return;
      finish_sent_ = true;
    }
    Release();
  }

  void OnFinished(bool) { Release(); }

  // Release drops one reference (Finish, done, a running attestation).
  void Release() {
    bool registered;
    {
      absl::MutexLock l(&mu_);
      if (--refs_ > 0) return;
      registered = registered_;
    }
    if (registered) handler_->Unregister(this);
    delete this;
  }

  // Run evaluates the latest snapshot with busy_ set; it ends with a write
  // in flight (busy_ stays set until OnWriteDone) or with busy_ cleared.
  void Run() {
    for (;;) {
      std::shared_ptr<const AgentSnapshot> snap;
      {
        absl::MutexLock l(&mu_);
        dirty_ = false;
        if (finishing_) {
          busy_ = false;
          return;
        }
        snap = latest_;
      }
      std::optional<grpc::Status> end;
      bool write = false;
      Evaluate(*snap, &end, &write);
      {
        absl::MutexLock l(&mu_);
        if (!end && write && !finishing_) {
          writing_ = true;
        } else if (!end && !write && dirty_) {
          continue;
        } else {
          busy_ = false;
          write = false;
        }
      }
      if (end) RequestFinish(*end);
      if (write) writer_.Write(*last_, &write_tag_);
      return;
    }
  }

  // Evaluate decides what `snap` means for the stream (busy_ held: last_ and
  // pending_since_ are touched by one thread at a time).
  void Evaluate(const AgentSnapshot& snap, std::optional<grpc::Status>* end, bool* write) {
    if (!snap.ready) {
      if (!last_) *end = ToGrpc(NotReady());
      SetWaiting(false);
      return;
    }
    absl::StatusOr<std::optional<Msg>> msg = build_(snap, *selectors_);
    if (!msg.ok()) {
      *end = ToGrpc(msg.status());
      return;
    }
    if (msg->has_value()) {
      pending_since_ = absl::InfiniteFuture();
      SetWaiting(false);
      if (!last_ || !google::protobuf::util::MessageDifferencer::Equals(**msg, *last_)) {
        last_ = std::move(*msg);
        *write = true;
      }
    } else if (!last_) {
      // Entitled, but nothing minted yet: wait for the cache, bounded.
      absl::Time now = absl::Now();
      if (pending_since_ == absl::InfiniteFuture()) pending_since_ = now;
      if (now - pending_since_ > handler_->config_.mint_wait) {
        *end = ToGrpc(NotReady());
      } else {
        SetWaiting(true);
      }
    }
  }

  void SetWaiting(bool w) {
    absl::MutexLock l(&mu_);
    waiting_mint_ = w;
  }

  // RequestFinish ends the stream with `status` once no write is in flight.
  void RequestFinish(const grpc::Status& status) {
    bool finish = false;
    {
      absl::MutexLock l(&mu_);
      if (finishing_) return;
      finishing_ = true;
      finish_status_ = status;
      if (!writing_) {
        finish = true;
        finish_sent_ = true;
      }
    }
    if (finish) writer_.Finish(status, &finish_tag_);
  }

  WorkloadHandler* const handler_;
  void (WorkloadHandler::*const repost_)();
  const Build build_;
  grpc::ServerContext ctx_;
  Req req_;
  grpc::ServerAsyncWriter<Msg> writer_{&ctx_};
  Tag request_tag_{this, &StreamCall::OnRequest};
  Tag write_tag_{this, &StreamCall::OnWriteDone};
  Tag finish_tag_{this, &StreamCall::OnFinished};
  Tag done_tag_{this, &StreamCall::OnDone};
  // Set once by OnRequest before the stream is registered.
  WorkloadHandler::Selectors selectors_;
  // Touched only with busy_ set (one thread at a time).
  std::optional<Msg> last_;  // the last message written (stable while in flight)
  absl::Time pending_since_ = absl::InfiniteFuture();

  absl::Mutex mu_;
  // Guarded by mu_
  std::shared_ptr<const AgentSnapshot> latest_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;     // Run is active or a write is in flight
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;    // notified while busy
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a write is in flight
  bool waiting_mint_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;  // over without a status to send
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  // Finish (or Abandon) and done always come back once the call arrived; +1 while an
  // attestation runs.
  int refs_ ABSL_GUARDED_BY(mu_) = 2;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
};

namespace {

absl::StatusOr<std::optional<X509SVIDResponse>> BuildX509Svids(
    const AgentSnapshot& snap, const std::vector<attestors::Selector>& sel) {
  std::vector<const WorkloadEntry*> m = MatchingEntries(snap, sel);
  if (m.empty()) return NoIdentity();
  X509SVIDResponse resp;
  std::set<std::string> hints;
  std::string bundle_der = snap.bundle ? snap.bundle->X509AuthoritiesDer() : "";
  for (const WorkloadEntry* e : m) {
    if (!e->svid) continue;
    if (!e->hint.empty() && !hints.insert(e->hint).second) continue;
    X509SVID* s = resp.add_svids();
    s->set_spiffe_id(e->spiffe_id);
    s->set_x509_svid(e->svid->chain_der);
    s->set_x509_svid_key(e->svid->key_der);
    s->set_bundle(bundle_der);
    s->set_hint(e->hint);
  }
  if (resp.svids_size() == 0) return std::optional<X509SVIDResponse>();
  for (const auto& [td, b] : FederatedFor(snap, m)) {
    (*resp.mutable_federated_bundles())["spiffe://" + td] = b->X509AuthoritiesDer();
  }
  return std::optional<X509SVIDResponse>(std::move(resp));
}

absl::StatusOr<std::optional<X509BundlesResponse>> BuildX509Bundles(
    const AgentSnapshot& snap, const std::vector<attestors::Selector>& sel) {
  std::vector<const WorkloadEntry*> m = MatchingEntries(snap, sel);
  if (m.empty()) return NoIdentity();
  X509BundlesResponse resp;
  if (snap.bundle) {
    (*resp.mutable_bundles())[snap.bundle->trust_domain().IdString()] =
        snap.bundle->X509AuthoritiesDer();
  }
  for (const auto& [td, b] : FederatedFor(snap, m)) {
    (*resp.mutable_bundles())["spiffe://" + td] = b->X509AuthoritiesDer();
  }
  return std::optional<X509BundlesResponse>(std::move(resp));
}

absl::StatusOr<std::optional<JWTBundlesResponse>> BuildJwtBundles(
    const AgentSnapshot& snap, const std::vector<attestors::Selector>& sel) {
  std::vector<const WorkloadEntry*> m = MatchingEntries(snap, sel);
  if (m.empty()) return NoIdentity();
  JWTBundlesResponse resp;
  if (snap.bundle) {
    (*resp.mutable_bundles())[snap.bundle->trust_domain().IdString()] = snap.bundle->ToJwtJwks();
  }
  for (const auto& [td, b] : FederatedFor(snap, m)) {
    (*resp.mutable_bundles())["spiffe://" + td] = b->ToJwtJwks();
  }
  return std::optional<JWTBundlesResponse>(std::move(resp));
}

}  // namespace

WorkloadHandler::WorkloadHandler(WorkloadHandlerConfig config)
    : config_(std::move(config)), watcher_([this] { WatchLoop(); }) {}

WorkloadHandler::~WorkloadHandler() {
  Shutdown();
  {
    absl::MutexLock l(&streams_mu_);
    stopping_ = true;
  }
  watcher_.join();
}

void WorkloadHandler::Attach(grpc::ServerBuilder* builder) {
  builder->RegisterService(this);
  cq_ = builder->AddCompletionQueue();
}

void WorkloadHandler::Start() {
  PostX509Svid();
  PostX509Bundles();
  PostJwtBundles();
  attest_pool_ = std::make_unique<WorkerPool>(std::max(1, config_.attest_threads));
  for (int i = 0; i < std::max(1, config_.stream_threads); ++i) {
    queue_threads_.emplace_back([this] { QueueLoop(); });
  }
}

void WorkloadHandler::RunAttestation(std::function<void()> task) {
  attest_pool_->Post(std::move(task));
}

void WorkloadHandler::CallCreated() {
  absl::MutexLock l(&calls_mu_);
  ++live_calls_;
}

void WorkloadHandler::CallDeleted() {
  absl::MutexLock l(&calls_mu_);
  --live_calls_;
}

void WorkloadHandler::Shutdown() {
  if (shut_down_ || !cq_) return;
  shut_down_ = true;
  // After the server's Shutdown, tags of its calls may still be queued, and
  // handling them issues more operations (Finish): the queue may only be
  // shut down once every call is gone.
  {
    absl::MutexLock l(&calls_mu_);
    auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu_) { return live_calls_ == 0; };
    if (!queue_threads_.empty() &&
        !calls_mu_.AwaitWithTimeout(absl::Condition(&none), absl::Seconds(10))) {
      LogError("Workload API calls still open 10s after the server shut down",
               {{"calls", absl::StrCat(live_calls_)}});
    }
  }
  cq_->Shutdown();
  if (queue_threads_.empty()) {
    QueueLoop();  // never started: drain the calls put up by Start, if any
  }
  for (std::thread& t : queue_threads_) t.join();
  attest_pool_.reset();  // runs the attestations still queued
}

void WorkloadHandler::QueueLoop() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) static_cast<AsyncTag*>(tag)->Proceed(ok);
}

void WorkloadHandler::PostX509Svid() {
  new StreamCall<X509SVIDRequest, X509SVIDResponse>(
      this,
      [](WorkloadHandler* h, grpc::ServerContext* ctx, X509SVIDRequest* req,
         grpc::ServerAsyncWriter<X509SVIDResponse>* w, grpc::ServerCompletionQueue* cq,
         void* tag) { h->RequestFetchX509SVID(ctx, req, w, cq, cq, tag); },
      &WorkloadHandler::PostX509Svid, &BuildX509Svids);
}

void WorkloadHandler::PostX509Bundles() {
  new StreamCall<X509BundlesRequest, X509BundlesResponse>(
      this,
      [](WorkloadHandler* h, grpc::ServerContext* ctx, X509BundlesRequest* req,
         grpc::ServerAsyncWriter<X509BundlesResponse>* w, grpc::ServerCompletionQueue* cq,
         void* tag) { h->RequestFetchX509Bundles(ctx, req, w, cq, cq, tag); },
      &WorkloadHandler::PostX509Bundles, &BuildX509Bundles);
}

void WorkloadHandler::PostJwtBundles() {
  new StreamCall<JWTBundlesRequest, JWTBundlesResponse>(
      this,
      [](WorkloadHandler* h, grpc::ServerContext* ctx, JWTBundlesRequest* req,
         grpc::ServerAsyncWriter<JWTBundlesResponse>* w, grpc::ServerCompletionQueue* cq,
         void* tag) { h->RequestFetchJWTBundles(ctx, req, w, cq, cq, tag); },
      &WorkloadHandler::PostJwtBundles, &BuildJwtBundles);
}

size_t WorkloadHandler::open_streams() {
  absl::MutexLock l(&streams_mu_);
  return streams_.size();
}

void WorkloadHandler::Register(StreamSink* s) {
  absl::MutexLock l(&streams_mu_);
  streams_.insert(s);
}

void WorkloadHandler::Unregister(StreamSink* s) {
  absl::MutexLock l(&streams_mu_);
  streams_.erase(s);
}

void WorkloadHandler::WatchLoop() {
  uint64_t seen = config_.manager->Snapshot()->version;
  for (;;) {
    {
      absl::MutexLock l(&streams_mu_);
      if (stopping_) return;
    }
    std::shared_ptr<const AgentSnapshot> snap =
        config_.manager->WaitForChange(seen, absl::Now() + config_.cancel_poll);
    bool changed = snap->version != seen;
    seen = snap->version;
    PurgeExpiredCallers();
    absl::MutexLock l(&streams_mu_);
    for (StreamSink* s : streams_) s->Notify(snap, changed);
  }
}

grpc::Status WorkloadHandler::FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                                           JWTSVIDResponse* resp) {
  if (absl::Status s = CheckSecurityHeader(*ctx); !s.ok()) return ToGrpc(s);
  if (req->audience_size() == 0) {
    return ToGrpc(absl::InvalidArgumentError("audience must be specified"));
  }
  if (absl::Status s = CheckJwtAudienceLimits(req->audience()); !s.ok()) return ToGrpc(s);
  for (const std::string& a : req->audience()) {
    if (a.empty()) return ToGrpc(absl::InvalidArgumentError("audience must not be empty"));
  }
  if (!req->spiffe_id().empty()) {
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString(req->spiffe_id());
    if (!id.ok()) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("invalid requested SPIFFE ID: ", id.status().message())));
    }
  }
  absl::StatusOr<Selectors> sel = Caller(ctx);
  if (!sel.ok()) return ToGrpc(sel.status());
  std::shared_ptr<const AgentSnapshot> snap = config_.manager->Snapshot();
  if (!snap->ready) return ToGrpc(NotReady());
  std::vector<const WorkloadEntry*> m = MatchingEntries(*snap, **sel);
  std::vector<std::string> audience(req->audience().begin(), req->audience().end());
  std::set<std::string> done_ids;
  std::set<std::string> hints;
  for (const WorkloadEntry* e : m) {
    if (!req->spiffe_id().empty() && e->spiffe_id != req->spiffe_id()) continue;
    if (!done_ids.insert(e->spiffe_id).second) continue;
    if (!e->hint.empty() && !hints.insert(e->hint).second) continue;
    absl::StatusOr<std::string> token = config_.manager->FetchJwtSvid(*e, audience);
    if (!token.ok()) {
      LogWarn("could not mint JWT-SVID",
              {{"spiffe_id", e->spiffe_id}, {"error", token.status().ToString()}});
      return ToGrpc(token.status().code() == absl::StatusCode::kUnavailable
                        ? token.status()
                        : absl::UnavailableError(
                              absl::StrCat("could not mint JWT-SVID: ", token.status().message())));
    }
    JWTSVID* j = resp->add_svids();
    j->set_spiffe_id(e->spiffe_id);
    j->set_svid(*token);
    j->set_hint(e->hint);
  }
  if (resp->svids_size() == 0) return ToGrpc(NoIdentity());
  return grpc::Status::OK;
}

grpc::Status WorkloadHandler::ValidateJWTSVID(grpc::ServerContext* ctx,
                                              const ValidateJWTSVIDRequest* req,
                                              ValidateJWTSVIDResponse* resp) {
  if (absl::Status s = CheckSecurityHeader(*ctx); !s.ok()) return ToGrpc(s);
  if (req->audience().empty()) {
    return ToGrpc(absl::InvalidArgumentError("audience must be specified"));
  }
  if (req->audience().size() > kMaxJwtAudienceBytes) {
    return ToGrpc(
        absl::InvalidArgumentError(absl::StrCat("audience is too long: ", req->audience().size(),
                                                " bytes (at most ", kMaxJwtAudienceBytes, ")")));
  }
  if (req->svid().empty()) return ToGrpc(absl::InvalidArgumentError("svid must be specified"));
  std::shared_ptr<const AgentSnapshot> snap = config_.manager->Snapshot();
  if (!snap->ready || !snap->bundle) return ToGrpc(NotReady());
  BundleSet bundles;
  bundles.Put(*snap->bundle);
  for (const auto& [td, b] : snap->federated) bundles.Put(b);
  absl::StatusOr<JwtSvid> jwt =
      ValidateJwtSvid(req->svid(), bundles, req->audience(), config_.clock());
  if (!jwt.ok()) {
    return ToGrpc(absl::InvalidArgumentError(jwt.status().message()));
  }
  resp->set_spiffe_id(jwt->subject.ToString());
  *resp->mutable_claims() = jwt->claims;
  return grpc::Status::OK;
}

grpc::Status WorkloadHandler::FetchWITSVID(grpc::ServerContext* ctx, const WITSVIDRequest*,
                                           grpc::ServerWriter<WITSVIDResponse>*) {
  if (absl::Status s = CheckSecurityHeader(*ctx); !s.ok()) return ToGrpc(s);
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "WIT-SVIDs are not supported");
}

grpc::Status WorkloadHandler::FetchWITBundles(grpc::ServerContext* ctx, const WITBundlesRequest*,
                                              grpc::ServerWriter<WITBundlesResponse>*) {
  if (absl::Status s = CheckSecurityHeader(*ctx); !s.ok()) return ToGrpc(s);
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "WIT-SVIDs are not supported");
}

}  // namespace signet::agent
