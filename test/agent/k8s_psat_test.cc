// The agent side of k8s_psat node attestation: the payload, the token file,
// what AttestAgent sends to a real in-process Node server, and the agent
// configuration shipped in conf/k8s.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/config.h"
#include "agent/node_client.h"
#include "agent/nodeattestor/k8s_psat/k8s_psat_plugin.h"
#include "common/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet::agent {
namespace {

using ::testing::HasSubstr;

const char kToken[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjRkM2YifQ.eyJhdWQiOlsic3BpcmUtc2VydmVyIl19.c2lnbmF0dXJl";

TEST(K8sPsatPayloadTest, IsTheJsonTheServerReads) {
  // A JSON object with exactly "cluster" and "token", as SPIRE's agent
  // plugin sends and server/nodeattestor's K8sPsatVerifier reads.
  google::protobuf::Struct s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(K8sPsatPayload("prod", kToken), &s).ok());
  ASSERT_EQ(s.fields().size(), 2u);
  EXPECT_EQ(s.fields().at("cluster").string_value(), "prod");
  EXPECT_EQ(s.fields().at("token").string_value(), kToken);
}

TEST(K8sPsatPayloadTest, EscapesHostileValues) {
  std::string p = K8sPsatPayload("a\"b", "t\\\n");
  google::protobuf::Struct s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(p, &s).ok()) << p;
  EXPECT_EQ(s.fields().at("cluster").string_value(), "a\"b");
  EXPECT_EQ(s.fields().at("token").string_value(), "t\\\n");
}

TEST(ReadK8sPsatTokenTest, StripsTrailingNewline) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("spire-agent"), absl::StrCat(kToken, "\n"), 0600);
  absl::StatusOr<std::string> t = ReadK8sPsatToken(dir.File("spire-agent"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, kToken);
}

TEST(ReadK8sPsatTokenTest, MissingFile) {
  absl::StatusOr<std::string> t = ReadK8sPsatToken("/nonexistent/spire-agent");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(),
              HasSubstr("k8s_psat: cannot read token \"/nonexistent/spire-agent\""));
}

TEST(ReadK8sPsatTokenTest, EmptyFile) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("spire-agent"), "\n", 0600);
  absl::StatusOr<std::string> t = ReadK8sPsatToken(dir.File("spire-agent"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), HasSubstr("is empty"));
}

// RecordingNode records the first attestation request and refuses it as a
// server refusing the token would.
class RecordingNode final : public signet::agent::Node::Service {
 public:
  grpc::Status Attest(grpc::ServerContext*,
                      grpc::ServerReaderWriter<signet::agent::AttestResponse,
                                               signet::agent::AttestRequest>* stream) override {
    signet::agent::AttestRequest req;
    if (stream->Read(&req)) {
      absl::MutexLock l(&mu_);
      first_ = req;
      got_ = true;
    }
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "k8s_psat: token not authenticated");
  }
  bool got() {
    absl::MutexLock l(&mu_);
    return got_;
  }
  signet::agent::AttestRequest first() {
    absl::MutexLock l(&mu_);
    return first_;
  }

 private:
  absl::Mutex mu_;
  bool got_ ABSL_GUARDED_BY(mu_) = false;
  signet::agent::AttestRequest first_ ABSL_GUARDED_BY(mu_);
};

TEST(AttestAgentK8sPsatTest, SendsTokenAndClusterAndReturnsServerStatus) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("spire-agent"), absl::StrCat(kToken, "\n"), 0600);
  RecordingNode node;
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&node);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = signet::agent::Node::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  AgentConfig c;
  c.node_attestor = "k8s_psat";
  c.k8s_psat_cluster = "prod";
  c.k8s_psat_token_path = dir.File("spire-agent");
  EvpPkeyPtr key = GenerateKey(KeyType::kEcP256).value();
  absl::StatusOr<AttestOutcome> out = AttestAgent(stub.get(), c, key.get());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(out.status().message(), HasSubstr("token not authenticated"));
  ASSERT_TRUE(node.got());
  signet::agent::AttestRequest req = node.first();
  EXPECT_EQ(req.params().data().type(), "k8s_psat");
  // The payload is a JSON object; member order is not part of the contract.
  google::protobuf::Struct sent;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(req.params().data().payload(), &sent).ok());
  EXPECT_EQ(sent.fields().size(), 2u);
  EXPECT_EQ(sent.fields().at("cluster").string_value(), "prod");
  EXPECT_EQ(sent.fields().at("token").string_value(), kToken);
  EXPECT_FALSE(req.params().csr().empty());
  server->Shutdown();
}

TEST(AttestAgentK8sPsatTest, MissingTokenFailsBeforeContactingServer) {
  AgentConfig c;
  c.node_attestor = "k8s_psat";
  c.k8s_psat_cluster = "prod";
  c.k8s_psat_token_path = "/nonexistent/spire-agent";
  EvpPkeyPtr key = GenerateKey(KeyType::kEcP256).value();
  absl::StatusOr<AttestOutcome> out = AttestAgent(nullptr, c, key.get());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(), HasSubstr("k8s_psat: cannot read token"));
}

// ConfigMapFile returns data[`key`] of the ConfigMap in conf/k8s/`file`.
std::string ConfigMapFile(const std::string& file, const std::string& key) {
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile(testutil::SourceDir() + "/conf/k8s/" + file);
  for (const YAML::Node& d : docs) {
    if (d["kind"] && d["kind"].as<std::string>() == "ConfigMap" && d["data"] && d["data"][key]) {
      return d["data"][key].as<std::string>();
    }
  }
  return "";
}

TEST(K8sManifestAgentConfigTest, DaemonSetAgentYamlLoads) {
  std::string yaml = ConfigMapFile("agent-configmap.yaml", "agent.yaml");
  ASSERT_FALSE(yaml.empty());
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("agent.yaml"), yaml);
  absl::StatusOr<AgentConfig> c = LoadAgentConfig(dir.File("agent.yaml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_attestor, "k8s_psat");
  EXPECT_EQ(c->k8s_psat_token_path, "/var/run/secrets/tokens/spire-agent");
  EXPECT_EQ(c->socket_path, "/run/signet/sockets/agent.sock");
  EXPECT_EQ(c->server_address, "signet-server.signet");
  EXPECT_EQ(c->workload_attestor_plugins->size(), 2u);  // k8s and unix
}

}  // namespace
}  // namespace signet::agent
