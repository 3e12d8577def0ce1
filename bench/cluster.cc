#include "bench/cluster.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/keys.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::bench {
namespace {

std::string BinDir() {
  const char* d = std::getenv("SIGNET_BENCH_BIN_DIR");
  if (d != nullptr && *d != '\0') return d;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "./bench/signet-bench";
  std::string dir = self.substr(0, self.rfind('/'));  // <build>/bench
  return dir.substr(0, dir.rfind('/'));               // <build>
}

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout = absl::Seconds(30)) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return c;
}

}  // namespace

std::string ServerBinary() { return BinDir() + "/server/signet-server"; }
std::string AgentBinary() { return BinDir() + "/agent/signet-agent"; }

std::string AgentIdFor(const std::string& token) {
  return absl::StrCat("spiffe://", kTrustDomain, "/spire/agent/join_token/", token);
}

ServerProc::ServerProc() {
  port_ = FreeTcpPort();
  sock_ = dir_.File("admin/api.sock");
  std::string cfg =
      absl::StrCat("server:\n  bind_address: \"127.0.0.1\"\n  bind_port: ", port_,
                   "\n  socket_path: \"", sock_, "\"\n  trust_domain: \"", kTrustDomain,
                   "\"\n  data_dir: \"", dir_.File("data"), "\"\n  log_level: \"warn\"\n",
                   "plugins:\n  DataStore:\n    sql:\n      database_type: \"sqlite3\"\n"
                   "      connection_string: \"",
                   dir_.File("data/datastore.sqlite3"),
                   "\"\n  KeyManager:\n    disk: {}\n  NodeAttestor:\n    join_token: {}\n");
  (void)WriteFile(dir_.File("server.yaml"), cfg);
}

ServerProc::~ServerProc() { Stop(); }

absl::Status ServerProc::Start() {
  ASSIGN_OR_RETURN(proc_,
                   Process::Start({ServerBinary(), "run", "-config", dir_.File("server.yaml")},
                                  dir_.File("server.log")));
  admin_ = signet::admin::Admin::NewStub(WorkloadChannel(sock_));
  bool up = WaitFor(
      [&] {
        if (!proc_->Running()) return true;
        if (access(sock_.c_str(), F_OK) != 0) return false;
        auto ctx = Ctx(absl::Seconds(2));
        signet::admin::HealthResponse r;
        return admin_->Health(ctx.get(), signet::admin::HealthRequest(), &r).ok() && r.ready();
      },
      absl::Seconds(30), absl::Milliseconds(10));
  if (!up || !proc_->Running()) {
    return absl::UnavailableError(absl::StrCat("signet-server did not start: ", proc_->Log()));
  }
  return absl::OkStatus();
}

int ServerProc::Stop() {
  if (!proc_) return 0;
  int rc = proc_->Stop();
  proc_.reset();
  return rc;
}

absl::StatusOr<std::string> ServerProc::GenerateToken() {
  auto ctx = Ctx();
  signet::admin::GenerateTokenRequest req;
  signet::admin::GenerateTokenResponse resp;
  RETURN_IF_ERROR(FromGrpcStatus(admin_->GenerateToken(ctx.get(), req, &resp)));
  return resp.token().token();
}

absl::StatusOr<std::string> ServerProc::CreateEntry(const std::string& parent_id,
                                                    const std::string& spiffe_id,
                                                    const std::vector<std::string>& selectors) {
  auto ctx = Ctx();
  signet::admin::CreateEntryRequest req;
  req.mutable_entry()->set_parent_id(parent_id);
  req.mutable_entry()->set_spiffe_id(spiffe_id);
  for (const std::string& s : selectors) {
    std::vector<std::string> tv = absl::StrSplit(s, absl::MaxSplits(':', 1));
    signet::types::Selector* sel = req.mutable_entry()->add_selectors();
    sel->set_type(tv[0]);
    sel->set_value(tv.size() > 1 ? tv[1] : "");
  }
  signet::admin::EntryResponse resp;
  RETURN_IF_ERROR(FromGrpcStatus(admin_->CreateEntry(ctx.get(), req, &resp)));
  return resp.entry().id();
}

absl::Status ServerProc::DeleteEntry(const std::string& id) {
  auto ctx = Ctx();
  signet::admin::DeleteEntryRequest req;
  req.set_id(id);
  signet::admin::DeleteEntryResponse resp;
  return FromGrpcStatus(admin_->DeleteEntry(ctx.get(), req, &resp));
}

absl::StatusOr<std::string> ServerProc::BundlePem() {
  auto ctx = Ctx();
  signet::admin::ShowBundleResponse resp;
  RETURN_IF_ERROR(
      FromGrpcStatus(admin_->ShowBundle(ctx.get(), signet::admin::ShowBundleRequest(), &resp)));
  std::string pem;
  for (const std::string& der : resp.bundle().x509_authorities()) {
    ASSIGN_OR_RETURN(X509Ptr c, ParseCertDer(der));
    ASSIGN_OR_RETURN(std::string p, CertToPem(c.get()));
    pem += p;
  }
  return pem;
}

AgentProc::AgentProc(int server_port, const std::string& bundle_pem, bool discover_workload_path,
                     const std::string& agent_extra) {
  socket_ = dir_.File("public/api.sock");
  (void)WriteFile(dir_.File("bundle.pem"), bundle_pem);
  std::string cfg = absl::StrCat(
      "agent:\n  data_dir: \"", dir_.File("data"), "\"\n  log_level: \"warn\"\n",
      "  server_address: \"127.0.0.1\"\n  server_port: ", server_port, "\n  socket_path: \"",
      socket_, "\"\n  trust_domain: \"", kTrustDomain, "\"\n", "  trust_bundle_path: \"",
      dir_.File("bundle.pem"), "\"\n", agent_extra,
      "plugins:\n  NodeAttestor:\n    join_token: {}\n  KeyManager:\n    disk: {}\n",
      "  WorkloadAttestor:\n    unix:\n      plugin_data:\n        discover_workload_path: ",
      discover_workload_path ? "true" : "false", "\n");
  (void)WriteFile(dir_.File("agent.yaml"), cfg);
}

AgentProc::~AgentProc() { Stop(); }

absl::Status AgentProc::Start(const std::string& join_token) {
  std::vector<std::string> argv{AgentBinary(), "run", "-config", dir_.File("agent.yaml")};
  if (!join_token.empty()) {
    argv.push_back("-joinToken");
    argv.push_back(join_token);
  }
  ASSIGN_OR_RETURN(proc_, Process::Start(argv, dir_.File("agent.log")));
  return absl::OkStatus();
}

int AgentProc::Stop() {
  if (!proc_) return 0;
  int rc = proc_->Stop();
  proc_.reset();
  return rc;
}

absl::StatusOr<std::unique_ptr<SimAgent>> SimAgent::Create(int port, std::string bundle_pem) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey(KeyType::kEcP256));
  std::unique_ptr<SimAgent> a(new SimAgent(port, std::move(bundle_pem), std::move(key)));
  ASSIGN_OR_RETURN(a->key_pem_, PrivateKeyToPkcs8Pem(a->key_.get()));
  return a;
}

std::shared_ptr<grpc::Channel> SimAgent::Channel(bool with_identity, int salt) {
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  if (with_identity) {
    provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
        bundle_pem_, std::vector<grpc::experimental::IdentityKeyCertPair>{{key_pem_, svid_pem_}});
  } else {
    provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(bundle_pem_);
  }
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(provider);
  opts.watch_root_certs();
  if (with_identity) opts.watch_identity_key_cert_pairs();
  opts.set_check_call_host(false);
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("signet-server");
  args.SetInt("signet.bench.salt", salt);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::experimental::TlsCredentials(opts), args);
}

absl::Status SimAgent::Attest(const std::string& token) {
  auto stub = signet::agent::Node::NewStub(Channel(false));
  auto ctx = Ctx();
  auto stream = stub->Attest(ctx.get());
  signet::agent::AttestRequest req;
  req.mutable_params()->mutable_data()->set_type("join_token");
  req.mutable_params()->mutable_data()->set_payload(token);
  ASSIGN_OR_RETURN(std::string csr, CreateCsrDer(key_.get()));
  req.mutable_params()->set_csr(csr);
  stream->Write(req);
  stream->WritesDone();
  signet::agent::AttestResponse resp;
  while (stream->Read(&resp)) {
    if (resp.has_result()) {
      ASSIGN_OR_RETURN(X509Ptr c, ParseCertDer(resp.result().svid().cert_chain(0)));
      ASSIGN_OR_RETURN(svid_pem_, CertToPem(c.get()));
      id_ = resp.result().svid().spiffe_id();
    }
  }
  RETURN_IF_ERROR(FromGrpcStatus(stream->Finish()));
  if (id_.empty()) return absl::InternalError("attestation returned no SVID");
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> WorkloadChannel(const std::string& socket, int salt, int max_recv) {
  grpc::ChannelArguments args;
  args.SetInt("signet.bench.salt", salt);
  args.SetMaxReceiveMessageSize(max_recv);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

absl::Status FirstX509(SpiffeWorkloadAPI::Stub* stub, X509SVIDResponse* out,
                       absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("workload.spiffe.io", "true");
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  auto r = stub->FetchX509SVID(&ctx, X509SVIDRequest());
  if (r->Read(out)) {
    ctx.TryCancel();
    (void)r->Finish();
    return absl::OkStatus();
  }
  absl::Status s = FromGrpcStatus(r->Finish());
  return s.ok() ? absl::UnavailableError("stream ended without a message") : s;
}

bool WaitFirstSvid(const std::string& socket, absl::Duration timeout) {
  static std::atomic<int> salt{1000000};
  return WaitFor(
      [&] {
        if (access(socket.c_str(), F_OK) != 0) return false;
        auto stub = SpiffeWorkloadAPI::NewStub(WorkloadChannel(socket, salt++));
        X509SVIDResponse m;
        return FirstX509(stub.get(), &m, absl::Seconds(5)).ok() && m.svids_size() > 0;
      },
      timeout, absl::Milliseconds(1));
}

}  // namespace signet::bench
