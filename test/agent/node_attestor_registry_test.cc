// A node attestor kind added from outside the agent's tree: a do-nothing
// attestor defined in this file and registered with one line is accepted by
// the configuration and used by AttestAgent for the payload and the
// challenge answer, against an in-process Node server.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/node_client.h"
#include "agent/nodeattestor/registry.h"
#include "common/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet::agent {
namespace {

using ::testing::ElementsAre;

// NoopAttestor sends "noop-node" and answers a challenge with "answer:"
// followed by the challenge.
class NoopAttestor final : public NodeAttestor {
 public:
  absl::StatusOr<std::string> Payload() override { return std::string("noop-node"); }
  absl::StatusOr<std::string> AnswerChallenge(absl::string_view challenge) override {
    return absl::StrCat("answer:", challenge);
  }
};

void ReadNoopConfig(ConfigSection&, AgentConfig&) {}
bool NoopCanAttest(const AgentConfig&) { return true; }
absl::StatusOr<std::unique_ptr<NodeAttestor>> NewNoopAttestor(const AgentConfig&) {
  return std::make_unique<NoopAttestor>();
}

// The one registration line.
const absl::Status kNoopRegistered =
    NodeAttestors().Register({"noop", ReadNoopConfig, NoopCanAttest, NewNoopAttestor});

// ChallengingNode sends one challenge, records the first request and the
// answer, then refuses as a server rejecting the evidence would.
class ChallengingNode final : public signet::agent::Node::Service {
 public:
  grpc::Status Attest(grpc::ServerContext*,
                      grpc::ServerReaderWriter<signet::agent::AttestResponse,
                                               signet::agent::AttestRequest>* stream) override {
    signet::agent::AttestRequest first, answer;
    if (!stream->Read(&first)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "none");
    signet::agent::AttestResponse ch;
    ch.set_challenge("nonce");
    if (stream->Write(ch) && stream->Read(&answer)) {
      absl::MutexLock l(&mu_);
      first_ = first;
      answer_ = answer.challenge_response();
    }
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "noop: refused");
  }
  signet::agent::AttestRequest first() {
    absl::MutexLock l(&mu_);
    return first_;
  }
  std::string answer() {
    absl::MutexLock l(&mu_);
    return answer_;
  }

 private:
  absl::Mutex mu_;
  signet::agent::AttestRequest first_ ABSL_GUARDED_BY(mu_);
  std::string answer_ ABSL_GUARDED_BY(mu_);
};

TEST(AgentNodeAttestorRegistryTest, RegistersAfterTheBuiltins) {
  ASSERT_TRUE(kNoopRegistered.ok()) << kNoopRegistered;
  EXPECT_THAT(NodeAttestors().Names(), ElementsAre("join_token", "x509pop", "k8s_psat", "noop"));
}

TEST(AgentNodeAttestorRegistryTest, ConfigAcceptsTheRegisteredKind) {
  signet::testutil::TempDir dir;
  signet::testutil::WriteFile(dir.File("a.yaml"), R"(agent:
  data_dir: "/tmp/d"
  server_address: "127.0.0.1"
  server_port: 8081
  trust_domain: "example.org"
  trust_bundle_path: "/tmp/b.pem"
plugins:
  NodeAttestor:
    noop: {}
  KeyManager:
    memory: {}
  WorkloadAttestor:
    unix: {}
)");
  absl::StatusOr<AgentConfig> c = LoadAgentConfig(dir.File("a.yaml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_attestor, "noop");
  EXPECT_TRUE(CanAttest(*c));
}

TEST(AgentNodeAttestorRegistryTest, AttestAgentSendsThePayloadAndTheAnswer) {
  ChallengingNode node;
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&node);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = signet::agent::Node::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  AgentConfig c;
  c.node_attestor = "noop";
  EvpPkeyPtr key = GenerateKey(KeyType::kEcP256).value();
  absl::StatusOr<AttestOutcome> out = AttestAgent(stub.get(), c, key.get());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(out.status().message(), "noop: refused");
  signet::agent::AttestRequest first = node.first();
  EXPECT_EQ(first.params().data().type(), "noop");
  EXPECT_EQ(first.params().data().payload(), "noop-node");
  EXPECT_FALSE(first.params().csr().empty());
  EXPECT_EQ(node.answer(), "answer:nonce");
  server->Shutdown();
}

TEST(AgentNodeAttestorRegistryTest, UnknownKindFailsBeforeContactingServer) {
  AgentConfig c;
  c.node_attestor = "nope";
  EvpPkeyPtr key = GenerateKey(KeyType::kEcP256).value();
  absl::StatusOr<AttestOutcome> out = AttestAgent(nullptr, c, key.get());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.status().message(), "unsupported node attestor \"nope\"");
  EXPECT_FALSE(CanAttest(c));
}

}  // namespace
}  // namespace signet::agent
