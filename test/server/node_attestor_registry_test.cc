// A node attestor kind added from outside the server's tree: a do-nothing
// attestor defined in this file and registered with one line is accepted by
// the configuration, built by the catalog and used by the real NodeService
// over a real gRPC stream. Also the typed join-token-expired status.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/keys.h"
#include "common/status_macros.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/audit_log.h"
#include "server/ca.h"
#include "server/clock.h"
#include "server/datastore/memory_datastore.h"
#include "server/deps.h"
#include "server/entry_cache.h"
#include "server/key_manager.h"
#include "server/node_service.h"
#include "server/nodeattestor/registry.h"
#include "server/sync_hub.h"

namespace signet::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// NoopAttestor accepts any payload as the node's name: agent ID
// spiffe://<td>/spire/agent/noop/<payload>, one selector noop:node:<payload>.
class NoopAttestor final : public NodeAttestor {
 public:
  explicit NoopAttestor(TrustDomain td) : td_(std::move(td)) {}

  absl::StatusOr<AttestationResult> Attest(absl::string_view payload,
                                           ChallengeResponder&) const override {
    ASSIGN_OR_RETURN(SpiffeId id,
                     SpiffeId::FromParts(td_, absl::StrCat("/spire/agent/noop/", payload)));
    signet::types::Selector s;
    s.set_type("noop");
    s.set_value(absl::StrCat("node:", payload));
    return AttestationResult{std::move(id), {s}, ""};
  }

 private:
  const TrustDomain td_;
};

void ReadNoopConfig(ConfigSection&, ServerConfig&) {}

absl::StatusOr<std::unique_ptr<NodeAttestor>> NewNoopAttestor(const ServerDeps& deps) {
  return std::make_unique<NoopAttestor>(deps.trust_domain);
}

// The one registration line.
const absl::Status kNoopRegistered =
    NodeAttestors().Register({"noop", ReadNoopConfig, NewNoopAttestor});

std::string ConfigWith(const std::string& node_attestors) {
  return "server:\n  trust_domain: example.org\n  data_dir: /tmp/d\n"
         "plugins:\n"
         "  DataStore:\n    sql:\n      database_type: memory\n"
         "  KeyManager:\n    memory: {}\n"
         "  NodeAttestor:\n" +
         node_attestors;
}

TEST(NodeAttestorRegistryTest, RegistersAfterTheBuiltins) {
  ASSERT_TRUE(kNoopRegistered.ok()) << kNoopRegistered;
  EXPECT_THAT(NodeAttestors().Names(), ElementsAre("join_token", "x509pop", "k8s_psat", "noop"));
  ASSERT_NE(NodeAttestors().Find("noop"), nullptr);
  EXPECT_EQ(NodeAttestors().Find("noop")->name, "noop");
}

TEST(NodeAttestorRegistryTest, DuplicateNameIsRefused) {
  absl::Status st = NodeAttestors().Register({"x509pop", ReadNoopConfig, NewNoopAttestor});
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(st.message(), "node attestor \"x509pop\" is already registered");
}

TEST(NodeAttestorRegistryTest, EmptyNameIsRefused) {
  absl::Status st = NodeAttestors().Register({"", ReadNoopConfig, NewNoopAttestor});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "a node attestor needs a name");
}

TEST(NodeAttestorRegistryTest, ConfigAcceptsTheRegisteredKind) {
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(ConfigWith("    noop: {}\n"), "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->node_attestors, ElementsAre("noop"));
  EXPECT_FALSE(c->join_token_enabled);
}

TEST(NodeAttestorRegistryTest, ConfigStillRefusesUnknownKinds) {
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(ConfigWith("    nope: {}\n"), "s.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("plugins.NodeAttestor.nope: unknown key"));
  EXPECT_THAT(c.status().message(),
              HasSubstr("at least one NodeAttestor (join_token, x509pop, k8s_psat, noop) "
                        "is required"));
}

// NodeServiceFixture runs the real NodeService (memory datastore, memory
// keys, real CA) on an in-process gRPC server; Attest needs no client
// certificate, so the channel is plaintext.
class NodeServiceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kNoopRegistered.ok()) << kNoopRegistered;
    absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(ConfigWith("    noop: {}\n"), "s.yaml");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *std::move(c);
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString("example.org");
    ASSERT_TRUE(td.ok()) << td.status();
    absl::StatusOr<std::unique_ptr<ServerCa>> ca =
        ServerCa::Create(CaOptions(*td), ds_.get(), km_.get(), &clock_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    deps_ = std::make_unique<ServerDeps>(
        ServerDeps{&config_, *td, ds_.get(), ca_.get(), &entries_, &hub_, &clock_, &audit_});
    store_ = std::make_unique<EntryStore>(deps_.get());
    absl::StatusOr<std::unique_ptr<NodeAttestorCatalog>> catalog =
        NodeAttestorCatalog::Create(NodeAttestors(), *deps_);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    service_ = std::make_unique<NodeService>(deps_.get(), store_.get(), *std::move(catalog));
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = signet::agent::Node::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (service_) service_->Shutdown();
    if (server_) server_->Shutdown();
  }

  // Attest sends one attestation of `type` with `payload` and returns the
  // final status, filling `result` when the server sent one.
  grpc::Status Attest(const std::string& type, const std::string& payload,
                      signet::agent::AttestResult* result) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcP256);
    EXPECT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::string> csr = CreateCsrDer(key->get());
    EXPECT_TRUE(csr.ok()) << csr.status();
    signet::agent::AttestRequest req;
    req.mutable_params()->set_csr(*csr);
    req.mutable_params()->mutable_data()->set_type(type);
    req.mutable_params()->mutable_data()->set_payload(payload);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto stream = stub_->Attest(&ctx);
    stream->Write(req);
    stream->WritesDone();
    signet::agent::AttestResponse resp;
    while (stream->Read(&resp)) {
      if (resp.has_result()) *result = resp.result();
    }
    return stream->Finish();
  }

  ServerConfig config_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<Datastore> ds_ = NewMemoryDatastore();
  std::unique_ptr<KeyManager> km_ = NewMemoryKeyManager();
  std::unique_ptr<ServerCa> ca_;
  EntryCache entries_;
  SyncHub hub_;
  AuditLog audit_{false};
  std::unique_ptr<ServerDeps> deps_;
  std::unique_ptr<EntryStore> store_;
  std::unique_ptr<NodeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<signet::agent::Node::Stub> stub_;
};

TEST_F(NodeServiceFixture, AttestsWithTheRegisteredKind) {
  signet::agent::AttestResult result;
  grpc::Status st = Attest("noop", "node-1", &result);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(result.svid().spiffe_id(), "spiffe://example.org/spire/agent/noop/node-1");
  ASSERT_EQ(result.selectors_size(), 1);
  EXPECT_EQ(result.selectors(0).type(), "noop");
  EXPECT_EQ(result.selectors(0).value(), "node:node-1");
  absl::StatusOr<signet::types::AttestedAgent> agent =
      ds_->GetAttestedAgent("spiffe://example.org/spire/agent/noop/node-1");
  ASSERT_TRUE(agent.ok()) << agent.status();
  EXPECT_EQ(agent->attestation_type(), "noop");
  ASSERT_EQ(agent->selectors_size(), 1);
  EXPECT_EQ(agent->selectors(0).value(), "node:node-1");
}

TEST_F(NodeServiceFixture, KnownKindNotConfiguredIsRefused) {
  signet::agent::AttestResult result;
  grpc::Status st = Attest("join_token", "t", &result);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(), "node attestor \"join_token\" is not configured");
}

TEST_F(NodeServiceFixture, UnknownKindIsRefused) {
  signet::agent::AttestResult result;
  grpc::Status st = Attest("nope", "t", &result);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "unknown attestation type \"nope\" (want join_token, x509pop, k8s_psat or noop)");
}

// The datastore marks an expired join token with a typed payload; the
// message is not what callers branch on.
TEST(JoinTokenExpiredTest, ExpiredTokenCarriesThePayload) {
  std::unique_ptr<Datastore> ds = NewMemoryDatastore();
  signet::types::JoinToken t;
  t.set_token("old");
  t.set_expires_at(100);
  ASSERT_TRUE(ds->CreateJoinToken(t).ok());
  absl::StatusOr<signet::types::JoinToken> got =
      ds->ConsumeJoinToken("old", absl::FromUnixSeconds(200));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(IsJoinTokenExpired(got.status()));
}

TEST(JoinTokenExpiredTest, MissingTokenDoesNot) {
  std::unique_ptr<Datastore> ds = NewMemoryDatastore();
  absl::StatusOr<signet::types::JoinToken> got =
      ds->ConsumeJoinToken("missing", absl::FromUnixSeconds(200));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(IsJoinTokenExpired(got.status()));
}

TEST(JoinTokenExpiredTest, SameMessageWithoutThePayloadIsNotExpired) {
  EXPECT_FALSE(IsJoinTokenExpired(absl::NotFoundError("join token expired")));
}

}  // namespace
}  // namespace signet::server
