#include "server/node_service.h"

#include <grpcpp/alarm.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bundle.h"
#include "common/jwt.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/reactor_order.h"
#include "common/status_macros.h"
#include "common/x509.h"
#include "server/entry_validation.h"

namespace signet::server {

using signet::agent::AttestRequest;
using signet::agent::AttestResponse;
using signet::types::AttestedAgent;
using signet::types::RegistrationEntry;
using signet::types::Selector;

namespace {

void FillSvid(const SpiffeId& id, const SignedX509& s, signet::types::X509Svid* out) {
  out->set_spiffe_id(id.ToString());
  out->add_cert_chain(s.leaf_der);
  out->set_expires_at(absl::ToUnixSeconds(s.expires_at));
}

std::vector<Selector> SelectorsOf(const AttestedAgent& a) {
  return std::vector<Selector>(a.selectors().begin(), a.selectors().end());
}

// CheckAttestMessageSize refuses an Attest message larger than
// kMaxAttestMessageBytes.
absl::Status CheckAttestMessageSize(const AttestRequest& m) {
  size_t n = m.ByteSizeLong();
  if (n <= kMaxAttestMessageBytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("attestation message of ", n,
                                                   " bytes is over the limit of ",
                                                   kMaxAttestMessageBytes, " bytes"));
}

// AttestWatchdog cancels an Attest call that is still running when its
// deadline passes (a peer that opens the stream and sends its request slowly
// or never). The alarm's callback may run after the handler has returned, so
// it reaches the call only through this shared state, which the handler
// detaches before the call's context goes away.
class AttestWatchdog {
 public:
  explicit AttestWatchdog(grpc::ServerContext* ctx) : ctx_(ctx) {}

  // Fire cancels the call unless the handler has detached.
  void Fire() {
    absl::MutexLock l(&mu_);
    if (ctx_ == nullptr) return;
    fired_ = true;
    ctx_->TryCancel();
  }
  // Detach ends the watch; true when the deadline had passed.
  bool Detach() {
    absl::MutexLock l(&mu_);
    ctx_ = nullptr;
    return fired_;
  }

 private:
  absl::Mutex mu_;
  grpc::ServerContext* ctx_ ABSL_GUARDED_BY(mu_);
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
};

// StreamChallengeResponder asks the agent on its Attest stream.
class StreamChallengeResponder final : public ChallengeResponder {
 public:
  explicit StreamChallengeResponder(grpc::ServerReaderWriter<AttestResponse, AttestRequest>* stream)
      : stream_(stream) {}

  absl::StatusOr<std::string> Challenge(absl::string_view challenge) override {
    AttestResponse ch;
    ch.set_challenge(std::string(challenge));
    if (!stream_->Write(ch)) return absl::UnavailableError("agent went away during attestation");
    AttestRequest resp;
    if (!stream_->Read(&resp) || !resp.has_challenge_response()) {
      return absl::InvalidArgumentError("missing challenge response");
    }
    RETURN_IF_ERROR(CheckAttestMessageSize(resp));
    return std::move(*resp.mutable_challenge_response());
  }

 private:
  grpc::ServerReaderWriter<AttestResponse, AttestRequest>* const stream_;
};

}  // namespace

void NodeService::Audit(const std::string& method, const std::string& caller,
                        grpc::ServerContextBase* ctx, const google::protobuf::Message* req,
                        const absl::Status& st) {
  if (!d_->audit->enabled()) return;
  google::protobuf::Struct c;
  if (!caller.empty()) (*c.mutable_fields())["spiffe_id"].set_string_value(caller);
  (*c.mutable_fields())["address"].set_string_value(ctx->peer());
  d_->audit->Record("signet.agent.Node/" + method, c, req, st);
}

absl::StatusOr<AttestedAgent> NodeService::Authenticate(grpc::ServerContextBase* ctx,
                                                        std::string* caller_id) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  std::vector<grpc::string_ref> pems;
  if (auth != nullptr) pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.empty()) {
    return absl::UnauthenticatedError("an agent SVID is required for this call");
  }
  absl::StatusOr<std::vector<X509Ptr>> certs =
      ParseCertsPem(absl::string_view(pems[0].data(), pems[0].size()));
  if (!certs.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("invalid agent SVID: ", certs.status().message()));
  }
  BundleSet bundles;
  bundles.Put(d_->ca->GetBundle());
  std::vector<X509Ptr> chain;
  chain.push_back(CopyCert((*certs)[0].get()));
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(chain, bundles, d_->clock->Now());
  if (!id.ok()) {
    return absl::UnauthenticatedError(absl::StrCat("invalid agent SVID: ", id.status().message()));
  }
  *caller_id = id->ToString();
  if (!absl::StartsWith(id->path(), "/spire/agent/")) {
    return absl::PermissionDeniedError(
        absl::StrCat("caller \"", id->ToString(), "\" is not an agent"));
  }
  absl::StatusOr<AttestedAgent> agent = d_->ds->GetAttestedAgent(id->ToString());
  if (!agent.ok()) {
    if (agent.status().code() == absl::StatusCode::kNotFound) {
      return absl::PermissionDeniedError(
          absl::StrCat("agent \"", id->ToString(), "\" is not attested or was evicted"));
    }
    return agent.status();
  }
  if (agent->banned()) {
    return absl::PermissionDeniedError(absl::StrCat("agent \"", id->ToString(), "\" is banned"));
  }
  if (agent->x509_svid_serial() != CertSerialHex((*certs)[0].get())) {
    return absl::PermissionDeniedError(
        absl::StrCat("agent SVID of \"", id->ToString(), "\" has been superseded"));
  }
  return agent;
}

grpc::Status NodeService::AuthenticatedCall(
    const std::string& method, grpc::ServerContext* ctx, const google::protobuf::Message* req,
    absl::FunctionRef<absl::Status(const std::string&, AttestedAgent&)> body) {
  std::string caller;
  absl::StatusOr<AttestedAgent> agent = Authenticate(ctx, &caller);
  absl::Status st = agent.ok() ? body(caller, *agent) : agent.status();
  Audit(method, caller, ctx, req, st);
  return ToGrpcStatus(st);
}

bool NodeService::TryAdmitAttest() {
  absl::MutexLock l(&attest_mu_);
  if (attests_running_ >= d_->config->attestation_max_concurrent) return false;
  ++attests_running_;
  return true;
}

void NodeService::ReleaseAttest() {
  absl::MutexLock l(&attest_mu_);
  --attests_running_;
}

grpc::Status NodeService::Attest(grpc::ServerContext* ctx,
                                 grpc::ServerReaderWriter<AttestResponse, AttestRequest>* stream) {
  AttestRequest first;
  std::string agent_id;
  // The caller is not authenticated yet: a stream beyond the limit is refused
  // before any of its request is read, so the transport holds no more of it
  // than its flow-control window.
  if (!TryAdmitAttest()) {
    absl::Status st = absl::ResourceExhaustedError(
        absl::StrCat("too many concurrent attestations (at most ",
                     d_->config->attestation_max_concurrent, "); retry later"));
    Audit("Attest", agent_id, ctx, &first, st);
    return ToGrpcStatus(st);
  }
  // Tells the peer (and tests) that the stream was admitted.
  stream->SendInitialMetadata();
  const absl::Duration timeout = d_->config->attestation_timeout;
  auto watchdog = std::make_shared<AttestWatchdog>(ctx);
  grpc::Alarm alarm;
  alarm.Set(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout),
            [watchdog](bool expired) {
              if (expired) watchdog->Fire();
            });
  absl::Status st;
  if (!stream->Read(&first)) {
    st = absl::InvalidArgumentError("missing attestation request");
  } else if (absl::Status size = CheckAttestMessageSize(first); !size.ok()) {
    st = size;
    first.Clear();  // not audited
  } else {
    st = DoAttest(stream, &first, &agent_id);
  }
  // A call cancelled by the watchdog fails; say why (one that completed just
  // before the deadline keeps its outcome).
  if (watchdog->Detach() && !st.ok()) {
    st = absl::DeadlineExceededError(
        absl::StrCat("attestation not completed within ", absl::FormatDuration(timeout)));
  }
  alarm.Cancel();
  ReleaseAttest();
  if (!st.ok()) {
    LogWarn("agent attestation failed",
            {{"error", std::string(st.message())}, {"peer", ctx->peer()}});
  }
  Audit("Attest", agent_id, ctx, &first, st);
  return ToGrpcStatus(st);
}

absl::Status NodeService::DoAttest(grpc::ServerReaderWriter<AttestResponse, AttestRequest>* stream,
                                   AttestRequest* first, std::string* agent_id_out) {
  if (!first->has_params()) {
    return absl::InvalidArgumentError("the first attestation message must carry params");
  }
  const signet::agent::AttestParams& params = first->params();
  const std::string& type = params.data().type();
  if (params.csr().empty()) return absl::InvalidArgumentError("missing CSR");
  {
    absl::StatusOr<X509ReqPtr> csr = ParseCsrDer(params.csr());
    if (!csr.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid CSR: ", csr.status().message()));
    }
  }
  ASSIGN_OR_RETURN(const NodeAttestor* attestor, node_attestors_->Find(type));
  StreamChallengeResponder responder(stream);
  ASSIGN_OR_RETURN(AttestationResult result, attestor->Attest(params.data().payload(), responder));
  const SpiffeId& agent_id = result.agent_id;
  *agent_id_out = agent_id.ToString();

  absl::StatusOr<AttestedAgent> existing = d_->ds->GetAttestedAgent(agent_id.ToString());
  if (existing.ok() && existing->banned()) return absl::PermissionDeniedError("agent is banned");
  if (!existing.ok() && existing.status().code() != absl::StatusCode::kNotFound) {
    return existing.status();
  }
  ASSIGN_OR_RETURN(SignedX509 svid, d_->ca->SignX509SvidFromCsr(params.csr(), agent_id, {},
                                                                d_->config->EffectiveAgentTtl()));
  RETURN_IF_ERROR(RecordAttestedAgent(type, result, svid, existing));
  LogInfo("agent attested", {{"agent_id", agent_id.ToString()}, {"type", type}});
  AttestResponse out;
  signet::agent::AttestResult* r = out.mutable_result();
  FillSvid(agent_id, svid, r->mutable_svid());
  *r->mutable_bundle() = d_->ca->BundleProto();
  for (const Selector& s : result.selectors) *r->add_selectors() = s;
  if (!stream->Write(out)) return absl::UnavailableError("agent went away during attestation");
  return absl::OkStatus();
}

absl::Status NodeService::RecordAttestedAgent(const std::string& type,
                                              const AttestationResult& result,
                                              const SignedX509& svid,
                                              const absl::StatusOr<AttestedAgent>& existing) {
  const std::string agent_id = result.agent_id.ToString();
  const absl::Time now = d_->clock->Now();
  AttestedAgent agent;
  agent.set_spiffe_id(agent_id);
  agent.set_attestation_type(type);
  agent.set_x509_svid_serial(svid.serial_hex);
  agent.set_x509_svid_expires_at(absl::ToUnixSeconds(svid.expires_at));
  for (const Selector& s : result.selectors) *agent.add_selectors() = s;
  agent.set_created_at(existing.ok() ? existing->created_at() : absl::ToUnixSeconds(now));
  agent.set_last_seen_at(absl::ToUnixSeconds(now));
  if (existing.ok()) {
    RETURN_IF_ERROR(d_->ds->UpdateAttestedAgent(agent));
    d_->hub->AgentSelectorsChanged(agent.spiffe_id(), result.selectors);
  } else {
    absl::Status cs = d_->ds->CreateAttestedAgent(agent);
    if (cs.code() == absl::StatusCode::kAlreadyExists) {
      RETURN_IF_ERROR(d_->ds->UpdateAttestedAgent(agent));
    } else {
      RETURN_IF_ERROR(cs);
    }
  }
  if (!result.alias_spiffe_id.empty()) {
    RegistrationEntry alias;
    alias.set_spiffe_id(result.alias_spiffe_id);
    alias.set_parent_id(agent_id);
    Selector* s = alias.add_selectors();
    s->set_type("spiffe_id");
    s->set_value(agent_id);
    absl::StatusOr<RegistrationEntry> created = store_->Create(alias);
    if (!created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) {
      return created.status();
    }
  }
  return absl::OkStatus();
}

grpc::Status NodeService::RenewAgent(grpc::ServerContext* ctx,
                                     const signet::agent::RenewAgentRequest* req,
                                     signet::agent::RenewAgentResponse* resp) {
  auto body = [&](const std::string&, AttestedAgent& agent) -> absl::Status {
    ASSIGN_OR_RETURN(SpiffeId id, SpiffeId::FromString(agent.spiffe_id()));
    ASSIGN_OR_RETURN(SignedX509 svid, d_->ca->SignX509SvidFromCsr(req->csr(), id, {},
                                                                  d_->config->EffectiveAgentTtl()));
    agent.set_x509_svid_serial(svid.serial_hex);
    agent.set_x509_svid_expires_at(absl::ToUnixSeconds(svid.expires_at));
    agent.set_last_seen_at(absl::ToUnixSeconds(d_->clock->Now()));
    RETURN_IF_ERROR(d_->ds->UpdateAttestedAgent(agent));
    FillSvid(id, svid, resp->mutable_svid());
    return absl::OkStatus();
  };
  return AuthenticatedCall("RenewAgent", ctx, req, body);
}

absl::StatusOr<std::optional<signet::agent::SyncResponse>> NodeService::NextSyncState(
    const std::shared_ptr<SyncSubscription>& sub, const std::string& caller,
    std::vector<Selector>* selectors) {
  absl::Status w = d_->hub->Wait(sub, absl::InfinitePast());
  if (absl::IsDeadlineExceeded(w)) return std::nullopt;  // nothing pending
  if (!w.ok()) return w;
  // Selectors may have changed by re-attestation.
  absl::StatusOr<AttestedAgent> a = d_->ds->GetAttestedAgent(caller);
  if (!a.ok() || a->banned()) {
    return absl::PermissionDeniedError(
        absl::StrCat("agent \"", caller, "\" is no longer attested"));
  }
  *selectors = SelectorsOf(*a);
  while (true) {
    uint64_t rev = d_->hub->revision();
    AuthorizedEntries auth = d_->entries->ComputeAuthorized(caller, *selectors, d_->clock->Now());
    d_->hub->Watch(sub, auth.parents);
    // A change between ComputeAuthorized and Watch may have missed this
    // stream; compute again.
    if (d_->hub->revision() != rev) continue;
    signet::agent::SyncResponse resp;
    std::sort(
        auth.entries.begin(), auth.entries.end(),
        [](const RegistrationEntry& a, const RegistrationEntry& b) { return a.id() < b.id(); });
    for (RegistrationEntry& e : auth.entries) *resp.add_entries() = std::move(e);
    *resp.mutable_bundle() = d_->ca->BundleProto();
    absl::StatusOr<std::vector<signet::types::Bundle>> all = d_->ds->ListBundles();
    if (all.ok()) {
      for (const signet::types::Bundle& b : *all) {
        if (b.trust_domain() != d_->trust_domain.name()) {
          (*resp.mutable_federated_bundles())[b.trust_domain()] = b;
        }
      }
    }
    resp.set_revision(rev);
    resp.set_server_time_unix_ms(absl::ToUnixMillis(d_->clock->Now()));
    return resp;
  }
}

// SyncStream is one agent's Sync stream on gRPC's callback API. It holds no
// thread: the SyncHub's wake callback schedules Step on the service's work
// queue, Step computes the full state and starts one write; changes arriving
// while a step or write is under way are coalesced into one more step.
// Lifetime: one reference for gRPC (dropped in OnDone) plus one per scheduled
// Step; the last one deletes the object. Thread-safe. order_ marks where
// gRPC orders the reactions (common/reactor_order.h).
class SyncStream final : public grpc::ServerWriteReactor<signet::agent::SyncResponse> {
 public:
  SyncStream(NodeService* svc, std::string caller, std::vector<Selector> selectors)
      : svc_(svc), caller_(std::move(caller)), selectors_(selectors) {
    // Busy from the start: a wake-up racing with Subscribe only marks the
    // stream dirty, so the first Step sees sub_ set. The initial state is
    // pending from Subscribe on.
    {
      absl::MutexLock l(&mu_);
      busy_ = true;
      ++refs_;
    }
    sub_ = svc_->d_->hub->Subscribe(caller_, std::move(selectors), [this] { Kick(); });
    Schedule();
    order_.Created();
  }

  void OnWriteDone(bool ok) override {
    order_.Reaction();
    order_.WriteDone();
    bool finish = false, again = false;
    grpc::Status status;
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      if (!ok && !finishing_) {  // the client went away
        finishing_ = true;
        finish_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
      }
      if (finishing_) {
        finish = !finish_sent_;
        finish_sent_ = true;
        status = finish_status_;
      } else {
        again = StepAgainLocked();
      }
    }
    if (finish) Finish(status);
    if (again) Schedule();
    order_.ReactionEnding();
  }

  void OnCancel() override {
    order_.Reaction();
    RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "Sync cancelled"));
    order_.ReactionEnding();
  }

  void OnDone() override {
    order_.Done();
    // After Unsubscribe returns the hub calls Kick no more.
    svc_->d_->hub->Unsubscribe(sub_);
    Unref();
  }

 private:
  // Kick is the hub's wake callback (hub lock held): schedule a Step, or mark
  // the stream dirty when a step or write is already under way.
  void Kick() {
    {
      absl::MutexLock l(&mu_);
      if (finishing_) return;
      if (busy_) {
        dirty_ = true;
        return;
      }
      busy_ = true;
      ++refs_;
    }
    Schedule();
  }

  // StepAgainLocked ends a step or write that leaves nothing in flight: true
  // (with a reference taken for the step to schedule) when the stream was
  // woken meanwhile, else the stream goes idle.
  bool StepAgainLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!dirty_) {
      busy_ = false;
      return false;
    }
    dirty_ = false;
    ++refs_;
    return true;
  }

  void Schedule() {
    svc_->sync_work_.Post([this] {
      Step();
      Unref();
    });
  }

  // Step runs on the work queue with busy_ set; it ends with a write in
  // flight (busy_ stays set until OnWriteDone) or with busy_ cleared.
  void Step() {
    {
      absl::MutexLock l(&mu_);
      dirty_ = false;
      if (finishing_) {
        busy_ = false;
        return;
      }
    }
    absl::StatusOr<std::optional<signet::agent::SyncResponse>> next =
        svc_->NextSyncState(sub_, caller_, &selectors_);
    if (!next.ok()) {
      {
        absl::MutexLock l(&mu_);
        busy_ = false;
      }
      RequestFinish(ToGrpcStatus(next.status()));
      return;
    }
    bool write = false, again = false;
    {
      absl::MutexLock l(&mu_);
      if (finishing_) {
        busy_ = false;
      } else if (next->has_value()) {
        resp_ = std::move(**next);  // no write is in flight: busy_ excludes it
        writing_ = true;
        write = true;
      } else {
        again = StepAgainLocked();
      }
    }
    if (write) {
      order_.WriteStarting();
      StartWrite(&resp_);
    }
    if (again) Schedule();
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
    if (finish) Finish(status);
  }

  void Unref() {
    bool last;
    {
      absl::MutexLock l(&mu_);
      last = --refs_ == 0;
    }
    if (last) delete this;
  }

  NodeService* const svc_;
  const std::string caller_;
  std::shared_ptr<SyncSubscription> sub_;
  std::vector<Selector> selectors_;   // used by Step only (one at a time)
  signet::agent::SyncResponse resp_;  // the message being written
  ReactorOrder order_;

  absl::Mutex mu_;
  // Guarded by mu_
  int refs_ ABSL_GUARDED_BY(mu_) = 1;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;     // a Step is queued/running or a write in flight
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;    // woken while busy
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a write is in flight
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_sent_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

namespace {

// FinishedSync is a Sync stream refused before it starts.
class FinishedSync final : public grpc::ServerWriteReactor<signet::agent::SyncResponse> {
 public:
  explicit FinishedSync(const grpc::Status& status) {
    Finish(status);
    order_.Created();
  }
  void OnDone() override {
    order_.Done();
    delete this;
  }

 private:
  ReactorOrder order_;
};

}  // namespace

grpc::ServerWriteReactor<signet::agent::SyncResponse>* NodeService::Sync(
    grpc::CallbackServerContext* ctx, const signet::agent::SyncRequest* req) {
  std::string caller;
  absl::StatusOr<AttestedAgent> agent = Authenticate(ctx, &caller);
  Audit("Sync", caller, ctx, req, agent.status());
  if (!agent.ok()) return new FinishedSync(ToGrpcStatus(agent.status()));
  return new SyncStream(this, caller, SelectorsOf(*agent));
}

grpc::Status NodeService::BatchNewX509Svid(grpc::ServerContext* ctx,
                                           const signet::agent::BatchNewX509SvidRequest* req,
                                           signet::agent::BatchNewX509SvidResponse* resp) {
  auto body = [&](const std::string& caller, AttestedAgent& agent) -> absl::Status {
    if (req->params_size() > kMaxBatchSvidParams) {
      return absl::InvalidArgumentError(
          absl::StrCat("too many params (at most ", kMaxBatchSvidParams, " per call)"));
    }
    AuthorizedEntries auth =
        d_->entries->ComputeAuthorized(caller, SelectorsOf(agent), d_->clock->Now());
    std::map<std::string, const RegistrationEntry*> by_id;
    for (const RegistrationEntry& e : auth.entries) by_id[e.id()] = &e;
    // Authorization per param first, then every authorized CSR is signed in
    // one batch (in parallel for large batches); results keep param order.
    const int n = req->params_size();
    std::vector<absl::Status> statuses(n);
    std::vector<absl::StatusOr<SpiffeId>> ids(n, absl::InternalError("unset"));
    std::vector<std::vector<std::string>> dns(n);
    std::vector<X509SvidRequest> batch;
    std::vector<int> batch_index;
    batch.reserve(n);
    batch_index.reserve(n);
    for (int i = 0; i < n; ++i) {
      const signet::agent::NewX509SvidParams& p = req->params(i);
      auto it = by_id.find(p.entry_id());
      if (it == by_id.end()) {
        statuses[i] = absl::PermissionDeniedError(
            absl::StrCat("entry ", p.entry_id(), " is not authorized for this agent"));
        continue;
      }
      const RegistrationEntry& e = *it->second;
      ids[i] = SpiffeId::FromString(e.spiffe_id());
      if (!ids[i].ok()) {
        statuses[i] = ids[i].status();
        continue;
      }
      dns[i].assign(e.dns_names().begin(), e.dns_names().end());
      batch.push_back({p.csr(), &*ids[i], &dns[i], absl::Seconds(e.x509_svid_ttl())});
      batch_index.push_back(i);
    }
    std::vector<absl::StatusOr<SignedX509>> signed_svids = d_->ca->SignX509SvidsFromCsrs(batch);
    std::vector<const SignedX509*> svids(n, nullptr);
    for (size_t j = 0; j < batch.size(); ++j) {
      const int i = batch_index[j];
      if (signed_svids[j].ok()) {
        svids[i] = &*signed_svids[j];
      } else {
        statuses[i] = signed_svids[j].status();
      }
    }
    for (int i = 0; i < n; ++i) {
      signet::agent::BatchNewX509SvidResult* r = resp->add_results();
      r->set_entry_id(req->params(i).entry_id());
      if (svids[i] != nullptr) FillSvid(*ids[i], *svids[i], r->mutable_svid());
      r->set_status_code(static_cast<int32_t>(statuses[i].code()));
      r->set_status_message(std::string(statuses[i].message()));
    }
    return absl::OkStatus();
  };
  return AuthenticatedCall("BatchNewX509Svid", ctx, req, body);
}

grpc::Status NodeService::NewJwtSvid(grpc::ServerContext* ctx,
                                     const signet::agent::NewJwtSvidRequest* req,
                                     signet::agent::NewJwtSvidResponse* resp) {
  auto body = [&](const std::string& caller, AttestedAgent& agent) -> absl::Status {
    if (req->audience_size() == 0) return absl::InvalidArgumentError("audience is required");
    RETURN_IF_ERROR(CheckJwtAudienceLimits(req->audience()));
    for (const std::string& a : req->audience()) {
      if (a.empty()) return absl::InvalidArgumentError("audience must not be empty");
    }
    AuthorizedEntries auth =
        d_->entries->ComputeAuthorized(caller, SelectorsOf(agent), d_->clock->Now());
    const RegistrationEntry* entry = nullptr;
    for (const RegistrationEntry& e : auth.entries) {
      if (e.id() == req->entry_id()) entry = &e;
    }
    if (entry == nullptr) {
      return absl::PermissionDeniedError(
          absl::StrCat("entry ", req->entry_id(), " is not authorized for this agent"));
    }
    ASSIGN_OR_RETURN(SpiffeId id, SpiffeId::FromString(entry->spiffe_id()));
    ASSIGN_OR_RETURN(SignedJwt jwt,
                     d_->ca->SignJwtSvid(id, {req->audience().begin(), req->audience().end()},
                                         absl::Seconds(entry->jwt_svid_ttl())));
    resp->set_token(jwt.token);
    resp->set_issued_at(absl::ToUnixSeconds(jwt.issued_at));
    resp->set_expires_at(absl::ToUnixSeconds(jwt.expires_at));
    return absl::OkStatus();
  };
  return AuthenticatedCall("NewJwtSvid", ctx, req, body);
}

grpc::Status NodeService::FetchBundle(grpc::ServerContext* ctx,
                                      const signet::agent::FetchBundleRequest* req,
                                      signet::agent::FetchBundleResponse* resp) {
  auto body = [&](const std::string&, AttestedAgent&) -> absl::Status {
    *resp->mutable_bundle() = d_->ca->BundleProto();
    return absl::OkStatus();
  };
  return AuthenticatedCall("FetchBundle", ctx, req, body);
}

void NodeService::Shutdown() { d_->hub->CloseAll(absl::UnavailableError("server shutting down")); }

}  // namespace signet::server
