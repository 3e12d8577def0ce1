#include "server/admin_service.h"

#include "absl/strings/str_cat.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/x509.h"
#include "server/entry_validation.h"

namespace signet::server {

using signet::types::AttestedAgent;
using signet::types::RegistrationEntry;

grpc::Status AdminService::Done(const char* method, grpc::ServerContext* ctx,
                                const google::protobuf::Message* req, const absl::Status& st) {
  if (d_->audit->enabled()) {
    google::protobuf::Struct c;
    auto& f = *c.mutable_fields();
    absl::StatusOr<PeerCred> cred =
        peers_ ? peers_->Lookup(ctx->peer()) : absl::NotFoundError("no peer registry");
    if (cred.ok()) {
      f["uid"].set_number_value(cred->uid);
      f["gid"].set_number_value(cred->gid);
      f["pid"].set_number_value(cred->pid);
    }
    f["address"].set_string_value(ctx->peer());
    d_->audit->Record(std::string("signet.admin.Admin/") + method, c, req, st);
  }
  if (!st.ok() && st.code() != absl::StatusCode::kNotFound &&
      st.code() != absl::StatusCode::kInvalidArgument) {
    LogWarn("admin call failed", {{"method", method}, {"error", std::string(st.message())}});
  }
  return ToGrpcStatus(st);
}

grpc::Status AdminService::DoneCount(const char* method, grpc::ServerContext* ctx,
                                     const google::protobuf::Message* req,
                                     const absl::StatusOr<int64_t>& n,
                                     signet::admin::CountResponse* resp) {
  if (n.ok()) resp->set_count(*n);
  return Done(method, ctx, req, n.status());
}

absl::StatusOr<SpiffeId> AdminService::MintSpiffeId(const std::string& spiffe_id) const {
  if (spiffe_id.empty()) return absl::InvalidArgumentError("spiffe_id is required");
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(spiffe_id);
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid spiffe_id ", QuoteForMessage(spiffe_id),
                                                   ": ", id.status().message()));
  }
  if (!id->IsMemberOf(d_->trust_domain) || id->path().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("spiffe_id must be in trust domain \"",
                                                   d_->trust_domain.name(), "\" and have a path"));
  }
  return id;
}

absl::Status AdminService::ValidateMintTtl(int64_t ttl) const {
  if (ttl < 0) return absl::InvalidArgumentError("ttl must not be negative");
  if (ttl > absl::ToInt64Seconds(d_->config->ca_ttl)) {
    return absl::InvalidArgumentError(absl::StrCat("ttl must not exceed the CA TTL (",
                                                   absl::ToInt64Seconds(d_->config->ca_ttl), "s)"));
  }
  return absl::OkStatus();
}

grpc::Status AdminService::CreateEntry(grpc::ServerContext* ctx,
                                       const signet::admin::CreateEntryRequest* req,
                                       signet::admin::EntryResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    RegistrationEntry e = req->entry();
    e.clear_id();
    e.clear_created_at();
    e.clear_revision_number();
    RETURN_IF_ERROR(ValidateEntry(e, d_->trust_domain, d_->config->ca_ttl));
    ASSIGN_OR_RETURN(*resp->mutable_entry(), store_->Create(e));
    return absl::OkStatus();
  }();
  return Done("CreateEntry", ctx, req, st);
}

grpc::Status AdminService::UpdateEntry(grpc::ServerContext* ctx,
                                       const signet::admin::UpdateEntryRequest* req,
                                       signet::admin::EntryResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    RegistrationEntry e = req->entry();
    if (e.id().empty()) return absl::InvalidArgumentError("entry id is required");
    RETURN_IF_ERROR(ValidateEntry(e, d_->trust_domain, d_->config->ca_ttl));
    ASSIGN_OR_RETURN(*resp->mutable_entry(), store_->Update(e));
    return absl::OkStatus();
  }();
  return Done("UpdateEntry", ctx, req, st);
}

grpc::Status AdminService::DeleteEntry(grpc::ServerContext* ctx,
                                       const signet::admin::DeleteEntryRequest* req,
                                       signet::admin::DeleteEntryResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    if (req->id().empty()) return absl::InvalidArgumentError("entry id is required");
    return store_->Delete(req->id()).status();
  }();
  return Done("DeleteEntry", ctx, req, st);
}

grpc::Status AdminService::ShowEntries(grpc::ServerContext* ctx,
                                       const signet::admin::ShowEntriesRequest* req,
                                       signet::admin::ShowEntriesResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidatePageSize(req->page_size()));
    if (!req->id().empty()) {
      ASSIGN_OR_RETURN(*resp->add_entries(), d_->ds->GetEntry(req->id()));
      return absl::OkStatus();
    }
    ListEntriesFilter f;
    if (!req->spiffe_id().empty()) {
      absl::StatusOr<SpiffeId> id = SpiffeId::FromString(req->spiffe_id());
      if (!id.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid spiffe_id ", QuoteForMessage(req->spiffe_id()), ": ", id.status().message()));
      }
      f.spiffe_id = req->spiffe_id();
    }
    if (!req->parent_id().empty()) {
      absl::StatusOr<SpiffeId> id = SpiffeId::FromString(req->parent_id());
      if (!id.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid parent_id ", QuoteForMessage(req->parent_id()), ": ", id.status().message()));
      }
      f.parent_id = req->parent_id();
    }
    for (const signet::types::Selector& s : req->selectors()) {
      RETURN_IF_ERROR(ValidateSelector(s));
      f.selectors.push_back(s);
    }
    if (!req->match().empty()) {
      if (req->match() != "exact" && req->match() != "subset" && req->match() != "superset" &&
          req->match() != "any") {
        return absl::InvalidArgumentError("match must be one of exact, subset, superset, any");
      }
      f.match = req->match();
    }
    f.page_size = req->page_size() == 0 ? kMaxPageSize : req->page_size();
    f.page_token = req->page_token();
    ASSIGN_OR_RETURN(EntryPage page, d_->ds->ListEntries(f));
    for (RegistrationEntry& e : page.entries) *resp->add_entries() = std::move(e);
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  }();
  return Done("ShowEntries", ctx, req, st);
}

grpc::Status AdminService::CountEntries(grpc::ServerContext* ctx,
                                        const signet::admin::CountEntriesRequest* req,
                                        signet::admin::CountResponse* resp) {
  return DoneCount("CountEntries", ctx, req, d_->ds->CountEntries(), resp);
}

grpc::Status AdminService::GenerateToken(grpc::ServerContext* ctx,
                                         const signet::admin::GenerateTokenRequest* req,
                                         signet::admin::GenerateTokenResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    if (req->ttl() < 0) return absl::InvalidArgumentError("ttl must not be negative");
    if (!req->spiffe_id().empty()) {
      RETURN_IF_ERROR(ValidateWorkloadSpiffeId("spiffe_id", req->spiffe_id(), d_->trust_domain));
    }
    int64_t ttl = req->ttl() == 0 ? 600 : req->ttl();
    signet::types::JoinToken t;
    t.set_token(NewRequestId());
    t.set_expires_at(absl::ToUnixSeconds(d_->clock->Now()) + ttl);
    t.set_spiffe_id(req->spiffe_id());
    RETURN_IF_ERROR(d_->ds->CreateJoinToken(t));
    *resp->mutable_token() = t;
    return absl::OkStatus();
  }();
  return Done("GenerateToken", ctx, req, st);
}

grpc::Status AdminService::ShowBundle(grpc::ServerContext* ctx,
                                      const signet::admin::ShowBundleRequest* req,
                                      signet::admin::ShowBundleResponse* resp) {
  *resp->mutable_bundle() = d_->ca->BundleProto();
  resp->set_spiffe_bundle_json(d_->ca->GetBundle().ToJwks());
  return Done("ShowBundle", ctx, req, absl::OkStatus());
}

grpc::Status AdminService::ListAgents(grpc::ServerContext* ctx,
                                      const signet::admin::ListAgentsRequest* req,
                                      signet::admin::ListAgentsResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidatePageSize(req->page_size()));
    std::string next;
    ASSIGN_OR_RETURN(
        std::vector<AttestedAgent> agents,
        d_->ds->ListAttestedAgents(req->page_size() == 0 ? kMaxPageSize : req->page_size(),
                                   req->page_token(), &next));
    for (AttestedAgent& a : agents) *resp->add_agents() = std::move(a);
    resp->set_next_page_token(next);
    return absl::OkStatus();
  }();
  return Done("ListAgents", ctx, req, st);
}

absl::StatusOr<AttestedAgent> AdminService::GetAgent(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("spiffe_id is required");
  absl::StatusOr<SpiffeId> sid = SpiffeId::FromString(id);
  if (!sid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid spiffe_id ", QuoteForMessage(id), ": ", sid.status().message()));
  }
  absl::StatusOr<AttestedAgent> a = d_->ds->GetAttestedAgent(id);
  if (absl::IsNotFound(a.status())) {
    return absl::NotFoundError(absl::StrCat("agent \"", id, "\" not found"));
  }
  return a;
}

grpc::Status AdminService::ShowAgent(grpc::ServerContext* ctx,
                                     const signet::admin::AgentRequest* req,
                                     signet::admin::AgentResponse* resp) {
  absl::StatusOr<AttestedAgent> a = GetAgent(req->spiffe_id());
  if (a.ok()) *resp->mutable_agent() = *a;
  return Done("ShowAgent", ctx, req, a.status());
}

grpc::Status AdminService::EvictAgent(grpc::ServerContext* ctx,
                                      const signet::admin::AgentRequest* req,
                                      signet::admin::AgentResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AttestedAgent a, GetAgent(req->spiffe_id()));
    RETURN_IF_ERROR(d_->ds->DeleteAttestedAgent(a.spiffe_id()));
    d_->hub->CloseAgent(a.spiffe_id(), absl::PermissionDeniedError("agent has been evicted"));
    LogInfo("agent evicted", {{"agent_id", a.spiffe_id()}});
    *resp->mutable_agent() = a;
    return absl::OkStatus();
  }();
  return Done("EvictAgent", ctx, req, st);
}

grpc::Status AdminService::BanAgent(grpc::ServerContext* ctx,
                                    const signet::admin::AgentRequest* req,
                                    signet::admin::AgentResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(AttestedAgent a, GetAgent(req->spiffe_id()));
    a.set_banned(true);
    a.clear_x509_svid_serial();
    RETURN_IF_ERROR(d_->ds->UpdateAttestedAgent(a));
    d_->hub->CloseAgent(a.spiffe_id(), absl::PermissionDeniedError("agent is banned"));
    LogInfo("agent banned", {{"agent_id", a.spiffe_id()}});
    *resp->mutable_agent() = a;
    return absl::OkStatus();
  }();
  return Done("BanAgent", ctx, req, st);
}

grpc::Status AdminService::CountAgents(grpc::ServerContext* ctx,
                                       const signet::admin::CountAgentsRequest* req,
                                       signet::admin::CountResponse* resp) {
  return DoneCount("CountAgents", ctx, req, d_->ds->CountAttestedAgents(), resp);
}

grpc::Status AdminService::MintX509Svid(grpc::ServerContext* ctx,
                                        const signet::admin::MintX509SvidRequest* req,
                                        signet::admin::MintX509SvidResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(SpiffeId id, MintSpiffeId(req->spiffe_id()));
    RETURN_IF_ERROR(ValidateMintTtl(req->ttl()));
    for (const std::string& dns : req->dns_names()) RETURN_IF_ERROR(ValidateDnsName(dns));
    std::vector<std::string> dns(req->dns_names().begin(), req->dns_names().end());
    absl::StatusOr<SignedX509> svid;
    if (req->csr().empty()) {
      ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey(KeyType::kEcP256));
      svid = d_->ca->SignX509SvidForKey(key.get(), id, dns, absl::Seconds(req->ttl()));
      ASSIGN_OR_RETURN(*resp->mutable_private_key(), PrivateKeyToPkcs8Der(key.get()));
    } else {
      svid = d_->ca->SignX509SvidFromCsr(req->csr(), id, dns, absl::Seconds(req->ttl()));
    }
    RETURN_IF_ERROR(svid.status());
    resp->mutable_svid()->set_spiffe_id(id.ToString());
    resp->mutable_svid()->add_cert_chain(svid->leaf_der);
    resp->mutable_svid()->set_expires_at(absl::ToUnixSeconds(svid->expires_at));
    signet::types::Bundle bundle = d_->ca->BundleProto();
    for (const std::string& der : bundle.x509_authorities()) resp->add_root_cas(der);
    return absl::OkStatus();
  }();
  return Done("MintX509Svid", ctx, req, st);
}

grpc::Status AdminService::MintJwtSvid(grpc::ServerContext* ctx,
                                       const signet::admin::MintJwtSvidRequest* req,
                                       signet::admin::MintJwtSvidResponse* resp) {
  absl::Status st = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(SpiffeId id, MintSpiffeId(req->spiffe_id()));
    if (req->audience_size() == 0) return absl::InvalidArgumentError("audience is required");
    for (const std::string& a : req->audience()) {
      if (a.empty()) return absl::InvalidArgumentError("audience must not be empty");
    }
    RETURN_IF_ERROR(ValidateMintTtl(req->ttl()));
    ASSIGN_OR_RETURN(SignedJwt jwt,
                     d_->ca->SignJwtSvid(id, {req->audience().begin(), req->audience().end()},
                                         absl::Seconds(req->ttl())));
    resp->set_token(jwt.token);
    return absl::OkStatus();
  }();
  return Done("MintJwtSvid", ctx, req, st);
}

grpc::Status AdminService::Health(grpc::ServerContext* ctx, const signet::admin::HealthRequest* req,
                                  signet::admin::HealthResponse* resp) {
  resp->set_live(true);
  bool ready = ready_ && ready_();
  resp->set_ready(ready);
  resp->set_message(ready ? "ready" : "not ready");
  return grpc::Status::OK;
}

}  // namespace signet::server
