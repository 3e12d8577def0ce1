#include "server/server.h"

#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "common/x509.h"
#include "server/datastore/memory_datastore.h"
#include "server/entry_validation.h"
#include "server/tls_policy.h"

namespace signet::server {
namespace {

// CheckCaStateAtStart refuses (FailedPrecondition, logged at ERROR) a
// persistent datastore that holds no CA state while the disk key directory
// holds CA key files: a datastore lost, emptied or replaced by a 0-byte file.
// Starting would silently make a new CA and a new trust bundle (sequence 1)
// that no agent trusts. `run -allowNewCA` skips the check.
absl::Status CheckCaStateAtStart(const ServerConfig& c, Datastore* ds) {
  if (c.allow_new_ca || c.datastore_type != "sqlite3" || c.key_manager != "disk") {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<CaRecord> records, ds->ListCaRecords());
  for (const CaRecord& r : records) {
    if (!r.data.empty()) return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<std::string> keys, ListCaKeyFiles(c.keys_path));
  if (keys.empty()) return absl::OkStatus();
  absl::Status st = absl::FailedPreconditionError(absl::StrCat(
      "the datastore ", c.datastore_connection_string,
      " holds no CA state but the key directory holds CA key files (", absl::StrJoin(keys, ", "),
      "); refusing to start with a new CA: restore the datastore, or run with -allowNewCA to "
      "start a new CA on purpose"));
  LogError("refusing to start", {{"error", std::string(st.message())}});
  return st;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerConfig config) {
  std::unique_ptr<Server> s(new Server(std::move(config)));
  const ServerConfig& c = s->config_;
  Logger::Configure(c.log_level, c.log_format);
  RETURN_IF_ERROR(MakeDirs(c.data_dir, 0700));
  ASSIGN_OR_RETURN(TrustDomain td, TrustDomain::FromString(c.trust_domain));
  s->clock_ = std::make_unique<RealClock>();
  if (c.datastore_type == "memory") {
    s->ds_ = NewMemoryDatastore();
  } else {
    ASSIGN_OR_RETURN(s->ds_, OpenSqliteDatastore(c.datastore_connection_string));
  }
  if (c.key_manager == "memory") {
    s->km_ = NewMemoryKeyManager();
  } else {
    ASSIGN_OR_RETURN(s->km_, NewDiskKeyManager(c.keys_path));
  }
  RETURN_IF_ERROR(CheckCaStateAtStart(c, s->ds_.get()));
  CaOptions opts{td};
  opts.ca_key_type = c.ca_key_type;
  opts.jwt_key_type = c.jwt_key_type;
  opts.ca_ttl = c.ca_ttl;
  if (!c.ca_subject.common_name.empty()) opts.ca_common_name = c.ca_subject.common_name;
  opts.ca_organization = c.ca_subject.organization;
  opts.jwt_issuer = c.jwt_issuer;
  opts.default_x509_svid_ttl = c.default_x509_svid_ttl;
  opts.default_jwt_svid_ttl = c.default_jwt_svid_ttl;
  opts.refuse_lost_keys = c.key_manager == "disk" && !c.allow_new_ca;
  absl::StatusOr<std::unique_ptr<ServerCa>> ca =
      ServerCa::Create(opts, s->ds_.get(), s->km_.get(), s->clock_.get());
  if (absl::IsFailedPrecondition(ca.status())) {
    absl::Status st = absl::FailedPreconditionError(
        absl::StrCat(ca.status().message(), "; refusing to start with a new CA (datastore ",
                     c.datastore_connection_string, "): restore the key file, or run with ",
                     "-allowNewCA to start a new CA on purpose"));
    LogError("refusing to start", {{"error", std::string(st.message())}});
    return st;
  }
  if (!ca.ok()) return ca.status();
  s->ca_ = *std::move(ca);
  s->entries_ = std::make_unique<EntryCache>();
  s->hub_ = std::make_unique<SyncHub>();
  s->expiry_timer_ =
      std::make_unique<EntryExpiryTimer>(s->entries_.get(), s->hub_.get(), s->clock_.get());
  RETURN_IF_ERROR(s->entries_->LoadAll(s->ds_.get()));
  s->audit_ = std::make_unique<AuditLog>(c.audit_log_enabled);
  s->deps_.reset(new ServerDeps{&s->config_, td, s->ds_.get(), s->ca_.get(), s->entries_.get(),
                                s->hub_.get(), s->clock_.get(), s->audit_.get()});
  s->store_ = std::make_unique<EntryStore>(s->deps_.get());
  ASSIGN_OR_RETURN(std::unique_ptr<NodeAttestorCatalog> node_attestors,
                   NodeAttestorCatalog::Create(NodeAttestors(), *s->deps_));
  s->node_service_ =
      std::make_unique<NodeService>(s->deps_.get(), s->store_.get(), std::move(node_attestors));
  Server* raw = s.get();
  s->admin_service_ = std::make_unique<AdminService>(s->deps_.get(), s->store_.get(),
                                                     [raw] { return raw->Ready(); });
  SyncHub* hub = s->hub_.get();
  s->ca_->SetBundleChangedCallback([hub] { hub->WakeAll(); });
  s->svid_cert_path_ = c.data_dir + "/server_svid.pem";
  s->svid_key_path_ = c.data_dir + "/server_svid.key";
  return s;
}

Server::~Server() { Shutdown(); }

bool Server::Ready() {
  if (ca_ == nullptr || ds_ == nullptr) return false;
  if (ca_->CurrentX509CaNotAfter() <= clock_->Now()) return false;
  return ds_->CountEntries().ok();
}

absl::Status Server::RenewServerSvid() {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey(KeyType::kEcP256));
  ASSIGN_OR_RETURN(SpiffeId id, SpiffeId::FromString(ServerSpiffeId(deps_->trust_domain)));
  ASSIGN_OR_RETURN(SignedX509 svid, ca_->SignX509SvidForKey(key.get(), id, {"signet-server"},
                                                            config_.default_x509_svid_ttl));
  ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPkcs8Pem(key.get()));
  ASSIGN_OR_RETURN(std::string cert_pem, CertToPem(svid.leaf.get()));
  RETURN_IF_ERROR(WriteFileAtomic(svid_key_path_, key_pem, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(svid_cert_path_, cert_pem, 0644));
  absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  svid_ca_serial_ = ca_->Status().current_x509_serial;
  svid_renew_at_ = now + (svid.expires_at - now) / 2;
  LogDebug("server SVID renewed", {{"expires_at", absl::FormatTime(svid.expires_at)}});
  return absl::OkStatus();
}

absl::Status Server::Start() {
  RETURN_IF_ERROR(ApplyServerTlsPolicy());
  RETURN_IF_ERROR(RenewServerSvid());
  // Node API over TLS. The provider re-reads the SVID files when rotated.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      svid_key_path_, svid_cert_path_, 1);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  tls.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  grpc::ServerBuilder nb;
  std::string addr = absl::StrCat(config_.bind_address, ":", config_.bind_port);
  if (config_.bind_address.find(':') != std::string::npos) {
    addr = absl::StrCat("[", config_.bind_address, "]:", config_.bind_port);
  }
  nb.AddListeningPort(addr, grpc::experimental::TlsServerCredentials(tls), &node_port_);
  nb.RegisterService(node_service_.get());
  // Before authentication (SECURITY.md, "Server Node API before
  // authentication"). gRPC buffers a whole message before any size check or
  // handler sees it, so what bounds the memory that peers can make the server
  // hold is the resource quota: past it gRPC cancels streams
  // (RESOURCE_EXHAUSTED) and closes idle connections rather than grow. The
  // message limit is sized for the largest authenticated call
  // (BatchNewX509Svid, kMaxBatchSvidParams CSRs); Attest has its own, smaller
  // limit in NodeService.
  nb.SetMaxReceiveMessageSize(kNodeApiMaxMessageBytes);
  grpc::ResourceQuota quota("signet-node-api");
  quota.Resize(static_cast<size_t>(config_.node_api_memory_limit_mb) << 20);
  nb.SetResourceQuota(quota);
  // Without BDP probing a stream's receive window stays at gRPC's 64 KiB
  // default until its handler reads (an Attest stream refused by the limit of
  // concurrent attestations is never read).
  nb.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  nb.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                        static_cast<int>(absl::ToInt64Milliseconds(config_.tls_handshake_timeout)));
  node_server_ = nb.BuildAndStart();
  if (node_server_ == nullptr || node_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", addr));
  }
  // Admin API on the unix socket: the server's group may connect (socket
  // 0770) but not replace the socket (directory 0750 when we create it).
  ASSIGN_OR_RETURN(admin_socket_, UnixSocketServer::Create(config_.socket_path, 0750, 0770));
  grpc::ServerBuilder ab;
  ab.RegisterService(admin_service_.get());
  admin_server_ = ab.BuildAndStart();
  if (admin_server_ == nullptr) return absl::InternalError("cannot start the admin server");
  admin_service_->SetPeerServer(admin_socket_.get());
  admin_socket_->Start(admin_server_.get());
  if (config_.health_checks.listener_enabled) {
    Server* raw = this;
    ASSIGN_OR_RETURN(
        health_,
        HealthListener::Start(config_.health_checks.bind_address, config_.health_checks.bind_port,
                              config_.health_checks.live_path, config_.health_checks.ready_path,
                              [raw] { return raw->Ready(); }));
  }
  rotation_thread_ = std::thread([this] { RotationLoop(); });
  expiry_timer_->Start();
  LogInfo("signet-server started",
          {{"version", VersionString()},
           {"trust_domain", deps_->trust_domain.name()},
           {"address", absl::StrCat(config_.bind_address, ":", node_port_)},
           {"socket_path", config_.socket_path}});
  return absl::OkStatus();
}

void Server::RotationLoop() {
  while (true) {
    absl::Time next = ca_->NextRotationTime();
    {
      absl::MutexLock l(&mu_);
      next = std::min(next, svid_renew_at_);
      // Re-check at least every 10s so a wall-clock jump is noticed.
      next = std::min(next, clock_->Now() + absl::Seconds(10));
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithDeadline(absl::Condition(&stop), next);
      if (stopping_) return;
    }
    absl::StatusOr<bool> changed = ca_->Rotate();
    if (!changed.ok()) {
      LogError("CA rotation failed", {{"error", std::string(changed.status().message())}});
    }
    bool renew;
    {
      absl::MutexLock l(&mu_);
      renew =
          clock_->Now() >= svid_renew_at_ || svid_ca_serial_ != ca_->Status().current_x509_serial;
    }
    if (renew) {
      absl::Status st = RenewServerSvid();
      if (!st.ok()) LogError("server SVID renewal failed", {{"error", std::string(st.message())}});
    }
  }
}

void Server::Shutdown() {
  {
    absl::MutexLock l(&mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  if (rotation_thread_.joinable()) rotation_thread_.join();
  if (expiry_timer_) expiry_timer_->Stop();
  if (health_) health_->Stop();
  if (hub_) hub_->CloseAll(absl::UnavailableError("server shutting down"));
  if (admin_socket_) admin_socket_->Stop();
  if (admin_server_)
    admin_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (node_server_)
    node_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  LogInfo("signet-server stopped");
}

}  // namespace signet::server
