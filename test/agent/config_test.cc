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
  ASSERT_NE(c->workload_attestor_plugins, nullptr);
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

TEST(AgentConfigTest, InsecureBootstrapWithTrustBundlePathIsAnError) {
  std::string y = kGood;
  y.insert(y.find("plugins:"), "  insecure_bootstrap: true\n");
  auto c = Load(y);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("insecure_bootstrap: cannot be combined with trust_bundle_path"));
}

TEST(AgentConfigTest, EmptyTrustBundlePathWithoutInsecureBootstrapIsAnError) {
  std::string y = kGood;
  y.replace(y.find("  trust_bundle_path: \"/tmp/b.pem\"\n"),
            std::string("  trust_bundle_path: \"/tmp/b.pem\"\n").size(),
            "  trust_bundle_path: \"\"\n  insecure_bootstrap: false\n");
  auto c = Load(y);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("trust_bundle_path: is required unless insecure_bootstrap is true"));
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

// WithNodeAttestor returns kGood with the join_token NodeAttestor replaced by
// `plugin` (indented YAML lines under NodeAttestor).
std::string WithNodeAttestor(const std::string& plugin) {
  std::string y = kGood;
  y.replace(y.find("    join_token: {}\n"), 19, plugin);
  return y;
}

TEST(AgentConfigTest, K8sPsatPluginData) {
  auto c =
      Load(WithNodeAttestor("    k8s_psat:\n      plugin_data:\n        cluster: prod\n"
                            "        token_path: /run/tok\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_attestor, "k8s_psat");
  EXPECT_EQ(c->k8s_psat_cluster, "prod");
  EXPECT_EQ(c->k8s_psat_token_path, "/run/tok");
}

TEST(AgentConfigTest, K8sPsatFlatWithDefaultTokenPath) {
  auto c = Load(WithNodeAttestor("    k8s_psat:\n      cluster: prod\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->k8s_psat_cluster, "prod");
  EXPECT_EQ(c->k8s_psat_token_path, "/var/run/secrets/tokens/spire-agent");
}

TEST(AgentConfigTest, K8sPsatNeedsCluster) {
  auto c = Load(WithNodeAttestor("    k8s_psat:\n      plugin_data: {}\n"));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("plugins.NodeAttestor.k8s_psat.plugin_data.cluster: is required"));
}

TEST(AgentConfigTest, K8sPsatClusterWithSlash) {
  auto c = Load(WithNodeAttestor("    k8s_psat:\n      cluster: a/b\n"));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("cluster: must not contain '/'"));
}

TEST(AgentConfigTest, K8sPsatUnknownKey) {
  auto c = Load(WithNodeAttestor("    k8s_psat:\n      cluster: prod\n      tokn_path: /x\n"));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("plugins.NodeAttestor.k8s_psat.tokn_path"));
}

TEST(AgentConfigTest, UnknownNodeAttestorListsSupported) {
  auto c = Load(WithNodeAttestor("    aws_iid: {}\n"));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("unknown NodeAttestor plugin (supported: join_token, x509pop, k8s_psat)"));
}

TEST(AgentConfigTest, K8sWorkloadAttestorBeside) {
  std::string y = WithNodeAttestor("    k8s_psat:\n      cluster: prod\n");
  y += "    k8s:\n      plugin_data:\n        skip_kubelet_verification: true\n";
  auto c = Load(y);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->workload_attestor_plugins->size(), 2u);
}

// ExampleConfigPath returns the repository's conf/agent.yaml.
std::string ExampleConfigPath() { return signet::testutil::SourceDir() + "/conf/agent.yaml"; }

// WithAdminSocket returns kGood with socket_path and admin_socket_path set.
std::string WithAdminSocket(const std::string& socket_path, const std::string& admin_path) {
  std::string y = kGood;
  y.insert(y.find("plugins:"),
           "  socket_path: \"" + socket_path + "\"\n  admin_socket_path: \"" + admin_path + "\"\n");
  return y;
}

TEST(AgentConfigTest, AdminSocketInAnotherDirectoryLoads) {
  auto c = Load(WithAdminSocket("/run/signet/public/api.sock", "/run/signet/private/admin.sock"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->admin_socket_path, "/run/signet/private/admin.sock");
  auto none = Load(kGood);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->admin_socket_path, "");
}

TEST(AgentConfigTest, AdminSocketBesideWorkloadSocketIsAnError) {
  for (const char* admin : {"/run/signet/public/admin.sock", "/run/signet/public/sub/admin.sock",
                            "/run/signet//public/./admin.sock", "/run/signet/x/../public/a.sock"}) {
    auto c = Load(WithAdminSocket("/run/signet/public/api.sock", admin));
    ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << admin;
    EXPECT_THAT(std::string(c.status().message()),
                HasSubstr(std::string("agent.admin_socket_path: ") + kAdminSocketSameDirError))
        << admin;
  }
  // A sibling whose name merely starts like the public directory is fine.
  auto c = Load(WithAdminSocket("/run/signet/public/api.sock", "/run/signet/public2/admin.sock"));
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST(AgentConfigTest, AdminSocketMustBeAbsolute) {
  auto c = Load(WithAdminSocket("/run/signet/public/api.sock", "admin.sock"));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("agent.admin_socket_path: must be an absolute path"));
}

// WithAgentLine returns kGood with `line` added to the agent block.
std::string WithAgentLine(const std::string& line) {
  std::string y = kGood;
  y.insert(y.find("plugins:"), "  " + line + "\n");
  return y;
}

TEST(AgentConfigTest, SelectorCacheTtlDefaultsToOneSecondAndMayBeOff) {
  auto def = Load(kGood);
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(def->selector_cache_ttl, absl::Seconds(1));
  auto off = Load(WithAgentLine("selector_cache_ttl: \"0s\""));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->selector_cache_ttl, absl::ZeroDuration());
  auto ms = Load(WithAgentLine("selector_cache_ttl: \"250ms\""));
  ASSERT_TRUE(ms.ok()) << ms.status();
  EXPECT_EQ(ms->selector_cache_ttl, absl::Milliseconds(250));
}

TEST(AgentConfigTest, SelectorCacheTtlOutOfRangeIsAnError) {
  auto c = Load(WithAgentLine("selector_cache_ttl: \"2m\""));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("agent.selector_cache_ttl: must be between 0s and 1m"));
}

TEST(AgentConfigTest, ExampleConfigIsValid) {
  auto c = LoadAgentConfig(ExampleConfigPath(), "tok");
  EXPECT_TRUE(c.ok()) << c.status();
}

}  // namespace
TEST(AgentConfigTest, ResourceLimitsDefaultsAndOverrides) {
  auto def = Load(kGood);
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(def->max_connections, 8192);
  EXPECT_EQ(def->max_connections_per_uid, 1024);
  EXPECT_EQ(def->connection_preface_timeout, absl::Seconds(10));
  EXPECT_EQ(def->connection_idle_timeout, absl::Minutes(5));
  EXPECT_EQ(def->jwt_cache_max_bytes, 8 << 20);
  std::string y = kGood;
  y.insert(y.find("plugins:"),
           "  max_connections: 100\n  max_connections_per_uid: 10\n"
           "  connection_preface_timeout: \"2s\"\n  connection_idle_timeout: \"1m\"\n"
           "  jwt_cache_max_bytes: 1048576\n");
  auto c = Load(y);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_connections, 100);
  EXPECT_EQ(c->max_connections_per_uid, 10);
  EXPECT_EQ(c->connection_preface_timeout, absl::Seconds(2));
  EXPECT_EQ(c->connection_idle_timeout, absl::Minutes(1));
  EXPECT_EQ(c->jwt_cache_max_bytes, 1048576);
}

TEST(AgentConfigTest, PerUidLimitAboveTotalIsAnError) {
  auto c = Load(WithAgentLine("max_connections: 10\n  max_connections_per_uid: 11"));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("agent.max_connections_per_uid: must not be greater than max_connections"));
}

TEST(AgentConfigTest, ZeroConnectionLimitIsAnError) {
  auto c = Load(WithAgentLine("max_connections_per_uid: 0"));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("agent.max_connections_per_uid: value 0 is out of range [1, 1048576]"));
}

TEST(AgentConfigTest, PrefaceTimeoutOutOfRangeIsAnError) {
  auto c = Load(WithAgentLine("connection_preface_timeout: \"10m\""));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("agent.connection_preface_timeout: must be between 100ms and 5m"));
}

TEST(AgentConfigTest, IdleTimeoutOutOfRangeIsAnError) {
  auto c = Load(WithAgentLine("connection_idle_timeout: \"500ms\""));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("agent.connection_idle_timeout: must be between 1s and 24h"));
}

TEST(AgentConfigTest, JwtCacheTooSmallIsAnError) {
  auto c = Load(WithAgentLine("jwt_cache_max_bytes: 1000"));
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(c.status().message()),
      HasSubstr("agent.jwt_cache_max_bytes: value 1000 is out of range [65536, 4294967296]"));
}

}  // namespace signet::agent
