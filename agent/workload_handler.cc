#include "agent/workload_handler.h"

#include <fcntl.h>
#include <google/protobuf/util/message_differencer.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/jwt.h"
#include "common/log.h"
#include "common/spiffe_id.h"

namespace signet::agent {
namespace {

constexpr char kSecurityHeader[] = "workload.spiffe.io";

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

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
  std::ifstream f(absl::StrCat("/proc/", pid, "/stat"));
  if (!f) return absl::NotFoundError(absl::StrCat("process ", pid, " not found"));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  size_t close_paren = s.rfind(')');
  if (close_paren == std::string::npos) return absl::InternalError("malformed /proc stat");
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(s).substr(close_paren + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); field 22 is fields[19].
  uint64_t v;
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[19], &v)) {
    return absl::InternalError("malformed /proc stat");
  }
  return v;
}

absl::Status CheckSecurityHeader(const grpc::ServerContext& ctx) {
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
  for (const WorkloadEntry& e : snap.entries) {
    if (attestors::SelectorsMatch(e.selectors, selectors)) out.push_back(&e);
  }
  return out;
}

absl::StatusOr<std::vector<attestors::Selector>> WorkloadHandler::Caller(grpc::ServerContext* ctx) {
  if (absl::Status s = CheckSecurityHeader(*ctx); !s.ok()) return s;
  absl::StatusOr<PeerCred> cred = config_.peer_lookup(ctx->peer());
  if (!cred.ok()) return absl::UnauthenticatedError("could not identify the caller");
  absl::StatusOr<std::unique_ptr<PinnedProcess>> pin = config_.pinner->Pin(cred->pid);
  if (!pin.ok()) {
    if (config_.close_connection) config_.close_connection(*cred);
    return pin.status();
  }
  absl::StatusOr<std::vector<attestors::Selector>> sel = config_.attestor->Attest(cred->pid);
  if (absl::Status s = (*pin)->Check(); !s.ok()) {
    LogWarn("workload process changed during attestation; closing connection",
            {{"pid", absl::StrCat(cred->pid)}, {"error", s.ToString()}});
    if (config_.close_connection) config_.close_connection(*cred);
    return s;
  }
  if (!sel.ok()) {
    LogWarn("workload attestation failed",
            {{"pid", absl::StrCat(cred->pid)}, {"error", sel.status().ToString()}});
    return absl::UnavailableError("workload attestation failed");
  }
  LogDebug("workload attested", {{"pid", absl::StrCat(cred->pid)},
                                 {"uid", absl::StrCat(cred->uid)},
                                 {"selectors", absl::StrCat(sel->size())}});
  return sel;
}

template <typename Msg>
grpc::Status WorkloadHandler::Stream(
    grpc::ServerContext* ctx, grpc::ServerWriter<Msg>* writer,
    const std::function<absl::StatusOr<std::optional<Msg>>(const AgentSnapshot&)>& build) {
  std::shared_ptr<const AgentSnapshot> snap = config_.manager->Snapshot();
  std::optional<Msg> last;
  absl::Time pending_since = absl::InfiniteFuture();
  for (;;) {
    if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
    if (!snap->ready) {
      if (!last) return ToGrpc(NotReady());
    } else {
      absl::StatusOr<std::optional<Msg>> msg = build(*snap);
      if (!msg.ok()) return ToGrpc(msg.status());
      if (msg->has_value()) {
        pending_since = absl::InfiniteFuture();
        if (!last || !google::protobuf::util::MessageDifferencer::Equals(**msg, *last)) {
          if (!writer->Write(**msg)) return grpc::Status::CANCELLED;
          last = std::move(*msg);
        }
      } else if (!last) {
        // Entitled, but nothing minted yet: wait for the cache, bounded.
        absl::Time now = absl::Now();
        if (pending_since == absl::InfiniteFuture()) pending_since = now;
        if (now - pending_since > config_.mint_wait) return ToGrpc(NotReady());
      }
    }
    snap = config_.manager->WaitForChange(snap->version, absl::Now() + config_.cancel_poll);
  }
}

grpc::Status WorkloadHandler::FetchX509SVID(grpc::ServerContext* ctx, const X509SVIDRequest*,
                                            grpc::ServerWriter<X509SVIDResponse>* writer) {
  absl::StatusOr<std::vector<attestors::Selector>> sel = Caller(ctx);
  if (!sel.ok()) return ToGrpc(sel.status());
  return Stream<X509SVIDResponse>(
      ctx, writer,
      [&](const AgentSnapshot& snap) -> absl::StatusOr<std::optional<X509SVIDResponse>> {
        std::vector<const WorkloadEntry*> m = MatchingEntries(snap, *sel);
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
      });
}

grpc::Status WorkloadHandler::FetchX509Bundles(grpc::ServerContext* ctx, const X509BundlesRequest*,
                                               grpc::ServerWriter<X509BundlesResponse>* writer) {
  absl::StatusOr<std::vector<attestors::Selector>> sel = Caller(ctx);
  if (!sel.ok()) return ToGrpc(sel.status());
  return Stream<X509BundlesResponse>(
      ctx, writer,
      [&](const AgentSnapshot& snap) -> absl::StatusOr<std::optional<X509BundlesResponse>> {
        std::vector<const WorkloadEntry*> m = MatchingEntries(snap, *sel);
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
      });
}

grpc::Status WorkloadHandler::FetchJWTBundles(grpc::ServerContext* ctx, const JWTBundlesRequest*,
                                              grpc::ServerWriter<JWTBundlesResponse>* writer) {
  absl::StatusOr<std::vector<attestors::Selector>> sel = Caller(ctx);
  if (!sel.ok()) return ToGrpc(sel.status());
  return Stream<JWTBundlesResponse>(
      ctx, writer,
      [&](const AgentSnapshot& snap) -> absl::StatusOr<std::optional<JWTBundlesResponse>> {
        std::vector<const WorkloadEntry*> m = MatchingEntries(snap, *sel);
        if (m.empty()) return NoIdentity();
        JWTBundlesResponse resp;
        if (snap.bundle) {
          (*resp.mutable_bundles())[snap.bundle->trust_domain().IdString()] =
              snap.bundle->ToJwtJwks();
        }
        for (const auto& [td, b] : FederatedFor(snap, m)) {
          (*resp.mutable_bundles())["spiffe://" + td] = b->ToJwtJwks();
        }
        return std::optional<JWTBundlesResponse>(std::move(resp));
      });
}

grpc::Status WorkloadHandler::FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                                           JWTSVIDResponse* resp) {
  if (absl::Status s = CheckSecurityHeader(*ctx); !s.ok()) return ToGrpc(s);
  if (req->audience_size() == 0) {
    return ToGrpc(absl::InvalidArgumentError("audience must be specified"));
  }
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
  absl::StatusOr<std::vector<attestors::Selector>> sel = Caller(ctx);
  if (!sel.ok()) return ToGrpc(sel.status());
  std::shared_ptr<const AgentSnapshot> snap = config_.manager->Snapshot();
  if (!snap->ready) return ToGrpc(NotReady());
  std::vector<const WorkloadEntry*> m = MatchingEntries(*snap, *sel);
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
