#include "agent/config.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet::agent {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"(agent:
  data_dir: "/tmp/d"
  server_address: "127.0.0.1"
  server_port: 8081
  trust_domain: "example.org"
  trust_bundle_path: "/tmp/b.pem"
plugins:
  NodeAttestor:
    join_token: {}
  KeyManager:
    memory: {}
  WorkloadAttestor:
    unix:
      plugin_data:
        discover_workload_path: true
)";

absl::StatusOr<AgentConfig> Load(const std::string& yaml, const std::string& token = "tok") {
  signet::testutil::TempDir dir;
  signet::testutil::WriteFile(dir.File("a.yaml"), yaml);
  return LoadAgentConfig(dir.File("a.yaml"), token);
}

TEST(AgentConfigTest, GoodConfigLoads) {
  auto c = Load(kGood);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server_address, "127.0.0.1");
  EXPECT_EQ(c->socket_path, "/tmp/signet-agent/public/api.sock");
  EXPECT_EQ(c->trust_domain->name(), "example.org");
  EXPECT_EQ(c->node_attestor, "join_token");
  EXPECT_EQ(c->join_token, "tok");
  EXPECT_EQ(c->key_manager, "memory");
  ASSERT_NE(c->attestors, nullptr);
}

TEST(AgentConfigTest, UnknownKeyNamesFileLineKey) {
  std::string y = kGood;
  y.insert(y.find("  server_port"), "  sever_port: 1\n");
  auto c = Load(y);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("a.yaml:4: agent.sever_port"));
}

TEST(AgentConfigTest, JoinTokenMayComeLaterFromDataDir) {
  auto c = Load(kGood, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->join_token, "");
}

TEST(AgentConfigTest, InsecureBootstrapOnlyWhenExplicit) {
  std::string y = kGood;
  y.replace(y.find("  trust_bundle_path: \"/tmp/b.pem\"\n"),
            std::string("  trust_bundle_path: \"/tmp/b.pem\"\n").size(), "");
  auto c = Load(y);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("trust_bundle_path"));
  y.insert(y.find("plugins:"), "  insecure_bootstrap: true\n");
  auto ok = Load(y);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->insecure_bootstrap);
}

TEST(AgentConfigTest, MissingWorkloadAttestorIsAnError) {
  std::string y = std::string(kGood).substr(0, std::string(kGood).find("  WorkloadAttestor:"));
  auto c = Load(y);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("WorkloadAttestor"));
}

TEST(AgentConfigTest, BadTrustDomainIsAnError) {
  std::string y = kGood;
  y.replace(y.find("example.org"), 11, "Example.org");
  auto c = Load(y);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("agent.trust_domain"));
}

TEST(AgentConfigTest, X509popNeedsPaths) {
  std::string y = kGood;
  y.replace(y.find("    join_token: {}"), 18, "    x509pop:\n      plugin_data: {}");
  auto c = Load(y);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("private_key_path"));
}

// ExampleConfigPath returns the repository's conf/agent.yaml.
std::string ExampleConfigPath() { return signet::testutil::SourceDir() + "/conf/agent.yaml"; }

TEST(AgentConfigTest, ExampleConfigIsValid) {
  auto c = LoadAgentConfig(ExampleConfigPath(), "tok");
  EXPECT_TRUE(c.ok()) << c.status();
}

}  // namespace
}  // namespace signet::agent
