// Shared fixture for the signet-server integration tests: a real server
// process with a temporary config, the CLI, and a minimal agent-side gRPC
// client of signet.agent.Node.
#ifndef SIGNET_TEST_INTEGRATION_SERVER_TEST_FIXTURE_H_
#define SIGNET_TEST_INTEGRATION_SERVER_TEST_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/bundle.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gtest/gtest.h"
#include "signet/agent.grpc.pb.h"
#include "test/testutil/testutil.h"

namespace signet::servertest {

using testutil::RunResult;

// ServerProcess runs signet-server with a generated config in a temp dir.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& extra_server_yaml = "",
                         const std::string& trust_domain = "example.org")
      : td_(trust_domain) {
    port_ = testutil::FreeTcpPort();
    sock_ = dir_.File("admin/api.sock");
    WriteConfig(extra_server_yaml);
  }
  ~ServerProcess() { Stop(); }

  // SetNodeAttestors replaces the NodeAttestor plugins' YAML (indented four
  // spaces under "NodeAttestor:") and rewrites the config.
  void SetNodeAttestors(const std::string& yaml, const std::string& extra_server_yaml = "") {
    node_attestors_ = yaml;
    WriteConfig(extra_server_yaml);
  }

  void WriteConfig(const std::string& extra) {
    std::string cfg =
        absl::StrCat("server:\n  bind_address: \"127.0.0.1\"\n  bind_port: ", port_,
                     "\n  socket_path: \"", sock_, "\"\n  trust_domain: \"", td_,
                     "\"\n  data_dir: \"", dir_.File("data"), "\"\n  log_level: \"debug\"\n", extra,
                     "plugins:\n  DataStore:\n    sql:\n      database_type: \"sqlite3\"\n"
                     "      connection_string: \"",
                     dir_.File("data/datastore.sqlite3"),
                     "\"\n  KeyManager:\n    disk: {}\n  NodeAttestor:\n", node_attestors_);
    testutil::WriteFile(config_path(), cfg);
  }

  std::string config_path() const { return dir_.File("server.yaml"); }
  const std::string& socket() const { return sock_; }
  int port() const { return port_; }
  const testutil::TempDir& dir() const { return dir_; }

  // Start launches the server and waits until `healthcheck` passes.
  bool Start() {
    proc_ = std::make_unique<testutil::Subprocess>(
        std::vector<std::string>{testutil::ServerBinary(), "run", "-config", config_path()});
    return testutil::WaitFor([&] {
             if (!proc_->Running()) return true;
             return Cli({"healthcheck"}).exit_code == 0;
           }) &&
           proc_->Running();
  }
  int Stop() {
    if (!proc_) return 0;
    int rc = proc_->Stop();
    proc_.reset();
    return rc;
  }
  void Kill9() {
    proc_->Signal(9);
    proc_->Wait();
    proc_.reset();
  }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  std::string Logs() const { return proc_ ? proc_->Stderr() + proc_->Stdout() : ""; }

  // Cli runs `signet-server <args> -socketPath <sock>`.
  RunResult Cli(std::vector<std::string> args) const {
    std::vector<std::string> argv{testutil::ServerBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("-socketPath");
    argv.push_back(sock_);
    return testutil::Run(argv);
  }

  // Field returns the value of the first "<name> : value" line of `out`.
  static std::string Field(const std::string& out, const std::string& name) {
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::StartsWith(line, name)) {
        size_t colon = line.find(" : ");
        if (colon != absl::string_view::npos) return std::string(line.substr(colon + 3));
      }
    }
    return "";
  }

  std::string GenerateToken(const std::string& spiffe_id = "") const {
    std::vector<std::string> a{"token", "generate"};
    if (!spiffe_id.empty()) {
      a.push_back("-spiffeID");
      a.push_back(spiffe_id);
    }
    RunResult r = Cli(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string out = r.out;
    if (absl::StartsWith(out, "Token: ")) out = out.substr(7);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  std::string BundlePem() const {
    RunResult r = Cli({"bundle", "show"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

 private:
  testutil::TempDir dir_;
  std::string td_;
  std::string node_attestors_ = "    join_token: {}\n";
  int port_ = 0;
  std::string sock_;
  std::unique_ptr<testutil::Subprocess> proc_;
};

// TestAgent is a minimal agent: attests with a join token, then talks mTLS.
class TestAgent {
 public:
  TestAgent(int port, std::string bundle_pem) : port_(port), bundle_pem_(std::move(bundle_pem)) {
    key_ = std::move(GenerateKey(KeyType::kEcP256)).value();
  }

  std::shared_ptr<grpc::Channel> Channel(bool with_identity) {
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
    if (with_identity) {
      std::string key_pem = PrivateKeyToPkcs8Pem(key_.get()).value();
      provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          bundle_pem_, std::vector<grpc::experimental::IdentityKeyCertPair>{{key_pem, svid_pem_}});
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
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                     grpc::experimental::TlsCredentials(opts), args);
  }

  // Attest runs join-token attestation; returns the gRPC status.
  grpc::Status Attest(const std::string& token) {
    auto stub = signet::agent::Node::NewStub(Channel(false));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto stream = stub->Attest(&ctx);
    signet::agent::AttestRequest req;
    req.mutable_params()->mutable_data()->set_type("join_token");
    req.mutable_params()->mutable_data()->set_payload(token);
    req.mutable_params()->set_csr(CreateCsrDer(key_.get()).value());
    stream->Write(req);
    stream->WritesDone();
    signet::agent::AttestResponse resp;
    while (stream->Read(&resp)) {
      if (resp.has_result()) {
        result_ = resp.result();
        X509Ptr c = ParseCertDer(resp.result().svid().cert_chain(0)).value();
        svid_pem_ = CertToPem(c.get()).value();
        id_ = resp.result().svid().spiffe_id();
      }
    }
    return stream->Finish();
  }

  // AttestX509Pop runs x509pop attestation with `chain_der` (leaf first),
  // answering the challenge with `sign(challenge)`; returns the gRPC status.
  grpc::Status AttestX509Pop(const std::string& chain_der,
                             const std::function<std::string(const std::string&)>& sign) {
    auto stub = signet::agent::Node::NewStub(Channel(false));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto stream = stub->Attest(&ctx);
    signet::agent::AttestRequest req;
    req.mutable_params()->mutable_data()->set_type("x509pop");
    req.mutable_params()->mutable_data()->set_payload(chain_der);
    req.mutable_params()->set_csr(CreateCsrDer(key_.get()).value());
    stream->Write(req);
    signet::agent::AttestResponse resp;
    while (stream->Read(&resp)) {
      if (!resp.challenge().empty()) {
        signet::agent::AttestRequest answer;
        answer.set_challenge_response(sign(resp.challenge()));
        stream->Write(answer);
        stream->WritesDone();
      }
      if (resp.has_result()) {
        result_ = resp.result();
        X509Ptr c = ParseCertDer(resp.result().svid().cert_chain(0)).value();
        svid_pem_ = CertToPem(c.get()).value();
        id_ = resp.result().svid().spiffe_id();
      }
    }
    return stream->Finish();
  }

  std::unique_ptr<signet::agent::Node::Stub> Stub() {
    return signet::agent::Node::NewStub(Channel(true));
  }

  const std::string& id() const { return id_; }
  const signet::agent::AttestResult& result() const { return result_; }

 private:
  int port_;
  std::string bundle_pem_;
  EvpPkeyPtr key_;
  std::string svid_pem_;
  std::string id_;
  signet::agent::AttestResult result_;
};

}  // namespace signet::servertest

#endif  // SIGNET_TEST_INTEGRATION_SERVER_TEST_FIXTURE_H_
