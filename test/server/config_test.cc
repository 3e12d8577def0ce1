// Unit tests: server configuration parsing and validation errors.
#include "server/config.h"

#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet::server {
namespace {

constexpr char kPlugins[] =
    "plugins:\n"
    "  DataStore:\n"
    "    sql:\n"
    "      database_type: sqlite3\n"
    "      connection_string: /tmp/x.db\n"
    "  KeyManager:\n"
    "    memory: {}\n"
    "  NodeAttestor:\n"
    "    join_token: {}\n";

std::string WithServer(const std::string& server_body) {
  return "server:\n  trust_domain: example.org\n  data_dir: /tmp/d\n" + server_body + kPlugins;
}

TEST(ServerConfigTest, DefaultsAsSpire) {
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(WithServer(""), "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->trust_domain, "example.org");
  EXPECT_EQ(c->bind_address, "0.0.0.0");
  EXPECT_EQ(c->bind_port, 8081);
  EXPECT_EQ(c->socket_path, "/tmp/signet-server/private/api.sock");
  EXPECT_EQ(c->ca_ttl, absl::Hours(24));
  EXPECT_EQ(c->default_x509_svid_ttl, absl::Hours(1));
  EXPECT_EQ(c->default_jwt_svid_ttl, absl::Minutes(5));
  EXPECT_EQ(c->EffectiveAgentTtl(), absl::Hours(1));
  EXPECT_EQ(c->ca_key_type, KeyType::kEcP256);
  EXPECT_EQ(c->jwt_key_type, KeyType::kEcP256);
  EXPECT_FALSE(c->audit_log_enabled);
  EXPECT_FALSE(c->health_checks.listener_enabled);
  EXPECT_EQ(c->health_checks.live_path, "/live");
  EXPECT_EQ(c->health_checks.ready_path, "/ready");
  EXPECT_EQ(c->key_manager, "memory");
  EXPECT_TRUE(c->join_token_enabled);
  EXPECT_FALSE(c->x509pop_enabled);
}

void ExpectError(const std::string& yaml, const std::string& want) {
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(yaml, "s.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(want), std::string::npos) << c.status().message();
}

TEST(ServerConfigTest, MissingTrustDomain) {
  ExpectError(std::string("server:\n  data_dir: /tmp/d\n") + kPlugins,
              "server.trust_domain: is required");
}

TEST(ServerConfigTest, InvalidTrustDomainNamesLine) {
  ExpectError(std::string("server:\n  trust_domain: \"Ex ample\"\n  data_dir: /d\n") + kPlugins,
              "s.yaml:2: server.trust_domain:");
}

TEST(ServerConfigTest, MissingDataDir) {
  ExpectError(std::string("server:\n  trust_domain: example.org\n") + kPlugins,
              "server.data_dir: is required");
}

TEST(ServerConfigTest, UnknownKeyNamesLine) {
  ExpectError(WithServer("  colour: blue\n"), "s.yaml:4: server.colour:");
}

TEST(ServerConfigTest, BadDuration) {
  ExpectError(WithServer("  ca_ttl: soon\n"), "s.yaml:4: server.ca_ttl:");
}

TEST(ServerConfigTest, ZeroDuration) {
  ExpectError(WithServer("  ca_ttl: 0s\n"), "server.ca_ttl: must be greater than zero");
}

TEST(ServerConfigTest, SvidTtlLongerThanCa) {
  ExpectError(WithServer("  ca_ttl: 1h\n  default_x509_svid_ttl: 2h\n"),
              "server.default_x509_svid_ttl: must not be longer than ca_ttl");
}

TEST(ServerConfigTest, BadKeyType) {
  ExpectError(WithServer("  ca_key_type: dsa\n"), "s.yaml:4: server.ca_key_type:");
}

TEST(ServerConfigTest, BadPort) {
  ExpectError(WithServer("  bind_port: 70000\n"), "s.yaml:4: server.bind_port:");
}

TEST(ServerConfigTest, PreauthLimitsDefaults) {
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(WithServer(""), "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->attestation_max_concurrent, 32);
  EXPECT_EQ(c->attestation_timeout, absl::Seconds(30));
  EXPECT_EQ(c->tls_handshake_timeout, absl::Seconds(10));
  EXPECT_EQ(c->node_api_memory_limit_mb, 32);
}

TEST(ServerConfigTest, PreauthLimitsSet) {
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(
      WithServer("  attestation_max_concurrent: 4\n  attestation_timeout: 5s\n"
                 "  tls_handshake_timeout: 2s\n  node_api_memory_limit_mb: 256\n"),
      "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->attestation_max_concurrent, 4);
  EXPECT_EQ(c->attestation_timeout, absl::Seconds(5));
  EXPECT_EQ(c->tls_handshake_timeout, absl::Seconds(2));
  EXPECT_EQ(c->node_api_memory_limit_mb, 256);
}

TEST(ServerConfigTest, TinyNodeApiMemoryLimit) {
  ExpectError(WithServer("  node_api_memory_limit_mb: 1\n"),
              "s.yaml:4: server.node_api_memory_limit_mb: value 1 is out of range [8, 65536]");
}

TEST(ServerConfigTest, ZeroAttestationMaxConcurrent) {
  ExpectError(WithServer("  attestation_max_concurrent: 0\n"),
              "s.yaml:4: server.attestation_max_concurrent: value 0 is out of range [1, 10000]");
}

TEST(ServerConfigTest, ZeroAttestationTimeout) {
  ExpectError(WithServer("  attestation_timeout: 0s\n"),
              "server.attestation_timeout: must be greater than zero");
}

TEST(ServerConfigTest, LongAttestationTimeout) {
  ExpectError(WithServer("  attestation_timeout: 1h\n"),
              "server.attestation_timeout: must not be longer than 10m");
}

TEST(ServerConfigTest, LongTlsHandshakeTimeout) {
  ExpectError(WithServer("  tls_handshake_timeout: 5m\n"),
              "server.tls_handshake_timeout: must not be longer than 2m");
}

TEST(ServerConfigTest, BadLogLevel) {
  ExpectError(WithServer("  log_level: chatty\n"),
              "server.log_level: must be one of debug, info, warn, error");
}

TEST(ServerConfigTest, BadHealthPath) {
  ExpectError(WithServer("  health_checks:\n    live_path: live\n"),
              "server.health_checks.live_path: must start with \"/\"");
}

TEST(ServerConfigTest, UnsupportedDatabase) {
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      database_type: mysql\n      connection_string: x\n  KeyManager:\n    disk: {}\n"
      "  NodeAttestor:\n    join_token: {}\n",
      "s.yaml:7: plugins.DataStore.sql.database_type: unsupported database_type");
}

TEST(ServerConfigTest, MissingConnectionString) {
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      database_type: sqlite3\n  KeyManager:\n    disk: {}\n"
      "  NodeAttestor:\n    join_token: {}\n",
      "plugins.DataStore.sql.connection_string: is required");
}

TEST(ServerConfigTest, TwoKeyManagers) {
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      connection_string: x\n  KeyManager:\n    disk: {}\n    memory: {}\n"
      "  NodeAttestor:\n    join_token: {}\n",
      "plugins.KeyManager: exactly one KeyManager");
}

TEST(ServerConfigTest, NoNodeAttestor) {
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      connection_string: x\n  KeyManager:\n    disk: {}\n",
      "plugins.NodeAttestor: at least one NodeAttestor");
}

TEST(ServerConfigTest, X509PopNeedsBundle) {
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      connection_string: x\n  KeyManager:\n    disk: {}\n  NodeAttestor:\n    x509pop: {}\n",
      "plugins.NodeAttestor.x509pop.ca_bundle_path: is required");
}

// SPIRE nests each plugin's settings under plugin_data; every plugin accepts
// that form as well as the flat one.
TEST(ServerConfigTest, PluginDataNestingForEveryPlugin) {
  // Only readability is checked at config time; any readable file will do.
  const std::string bundle = testutil::SourceDir() + "/conf/server.yaml";
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n"
      "  DataStore:\n    sql:\n      plugin_data:\n        database_type: sqlite3\n"
      "        connection_string: /tmp/nested.db\n"
      "  KeyManager:\n    disk:\n      plugin_data:\n        keys_path: /tmp/nested-keys\n"
      "  NodeAttestor:\n    join_token:\n      plugin_data: {}\n"
      "    x509pop:\n      plugin_data:\n        ca_bundle_path: " +
          bundle + "\n",
      "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->datastore_type, "sqlite3");
  EXPECT_EQ(c->datastore_connection_string, "/tmp/nested.db");
  EXPECT_EQ(c->key_manager, "disk");
  EXPECT_EQ(c->keys_path, "/tmp/nested-keys");
  EXPECT_TRUE(c->join_token_enabled);
  EXPECT_TRUE(c->x509pop_enabled);
  EXPECT_EQ(c->x509pop_ca_bundle_path, bundle);
}

TEST(ServerConfigTest, FlatPluginSettingsStillWork) {
  // Only readability is checked at config time; any readable file will do.
  const std::string bundle = testutil::SourceDir() + "/conf/server.yaml";
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n"
      "  DataStore:\n    sql:\n      connection_string: /tmp/flat.db\n"
      "  KeyManager:\n    memory:\n      plugin_data:\n"
      "  NodeAttestor:\n    x509pop:\n      ca_bundle_path: " +
          bundle + "\n",
      "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->datastore_connection_string, "/tmp/flat.db");
  EXPECT_EQ(c->key_manager, "memory");
  EXPECT_FALSE(c->join_token_enabled);
  EXPECT_EQ(c->x509pop_ca_bundle_path, bundle);
}

TEST(ServerConfigTest, NestedPluginDataErrorNamesNestedKey) {
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      plugin_data:\n        database_type: sqlite3\n  KeyManager:\n    memory: {}\n"
      "  NodeAttestor:\n    x509pop:\n      plugin_data:\n        colour: blue\n",
      "plugins.DataStore.sql.plugin_data.connection_string: is required");
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      connection_string: x\n  KeyManager:\n    memory: {}\n"
      "  NodeAttestor:\n    x509pop:\n      plugin_data:\n        colour: blue\n",
      "s.yaml:13: plugins.NodeAttestor.x509pop.plugin_data.colour: unknown key");
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      connection_string: x\n  KeyManager:\n    memory: {}\n"
      "  NodeAttestor:\n    x509pop:\n      plugin_data:\n        colour: blue\n",
      "plugins.NodeAttestor.x509pop.plugin_data.ca_bundle_path: is required");
}

// Settings beside plugin_data are not silently ignored.
TEST(ServerConfigTest, FlatKeyBesidePluginDataRejected) {
  ExpectError(
      "server:\n  trust_domain: example.org\n  data_dir: /d\nplugins:\n  DataStore:\n    sql:\n"
      "      plugin_data:\n        connection_string: x\n      connection_string: y\n"
      "  KeyManager:\n    memory: {}\n  NodeAttestor:\n    join_token: {}\n",
      "s.yaml:9: plugins.DataStore.sql.connection_string: unknown key");
}

TEST(ServerConfigTest, ReportsEveryProblem) {
  absl::StatusOr<ServerConfig> c =
      ParseServerConfigYaml("server:\n  bind_port: -1\n  ca_ttl: x\n  junk: 1\n", "s.yaml");
  ASSERT_FALSE(c.ok());
  std::string m(c.status().message());
  for (const char* want : {"bind_port", "ca_ttl", "junk", "trust_domain", "data_dir", "plugins"}) {
    EXPECT_NE(m.find(want), std::string::npos) << want << " missing in: " << m;
  }
}

TEST(ServerConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<ServerConfig> c = LoadServerConfig("/nonexistent/server.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST(ServerConfigTest, YamlSyntaxError) {
  absl::StatusOr<ServerConfig> c = ParseServerConfigYaml("server: [\n", "s.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("s.yaml:"), std::string::npos);
}

}  // namespace
}  // namespace signet::server
