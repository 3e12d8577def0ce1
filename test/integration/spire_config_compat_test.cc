// SPIRE's configuration, as SPIRE documents it, through the real
// `signet-agent validate` and `signet-server validate`: the example values of
// SPIRE's full example files (conf/agent/agent_full.conf,
// conf/server/server_full.conf) and plugin references, converted from HCL to
// YAML, for every key Signet supports must be accepted; every SPIRE key Signet
// does not support must be reported by name and line, never ignored.
// docs/SPIRE-CONFIG.md is the table these tests check.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using ::testing::HasSubstr;
using testutil::RunResult;

RunResult Validate(const std::string& binary, const std::string& path) {
  return testutil::Run({binary, "validate", "-config", path});
}

// LineOf returns the 1-based line of the first line of `yaml` that, with
// leading spaces removed, starts with `start`.
int LineOf(const std::string& yaml, const std::string& start) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(yaml, '\n')) {
    ++n;
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), start)) return n;
  }
  return -1;
}

// ErrorLines returns the non-empty lines of `text`.
std::vector<std::string> ErrorLines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// agent_full.conf: the agent block and the plugins Signet has (one node
// attestor and one key manager per agent, so these come in three files).
constexpr char kAgentJoinToken[] = R"(agent:
  data_dir: "./.data"
  insecure_bootstrap: false
  join_token: ""
  log_format: "text"
  log_level: "DEBUG"
  server_address: "127.0.0.1"
  server_port: "8081"
  socket_path: "/tmp/spire-agent/public/api.sock"
  trust_bundle_path: "./conf/agent/dummy_root_ca.crt"
  trust_domain: "example.org"
  admin_socket_path: "/tmp/spire-agent/private/admin.sock"
plugins:
  KeyManager:
    disk:
      plugin_data:
        directory: "./.data"
  NodeAttestor:
    join_token:
      plugin_data: {}
  WorkloadAttestor:
    docker:
      plugin_data:
        docker_socket_path: "unix:///var/run/docker.sock"
        docker_version: ""
        use_new_container_locator: true
        verbose_container_locator_logs: false
        experimental: {}
    k8s:
      plugin_data:
        kubelet_read_only_port: "10255"
        kubelet_ca_path: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
        skip_kubelet_verification: false
        token_path: "/var/run/secrets/kubernetes.io/serviceaccount/token"
        node_name_env: "MY_NODE_NAME"
        node_name: ""
        max_poll_attempts: 60
        poll_retry_interval: "500ms"
        use_new_container_locator: true
        verbose_container_locator_logs: false
        experimental: {}
    unix:
      plugin_data:
        discover_workload_path: false
        workload_size_limit: 0
)";

constexpr char kAgentX509pop[] = R"(agent:
  data_dir: "./.data"
  server_address: "127.0.0.1"
  server_port: "8081"
  trust_bundle_path: "./conf/agent/dummy_root_ca.crt"
  trust_domain: "example.org"
plugins:
  KeyManager:
    memory:
      plugin_data: {}
  NodeAttestor:
    x509pop:
      plugin_data:
        private_key_path: "./conf/agent/agent.key.pem"
        certificate_path: "./conf/agent/agent.crt.pem"
        intermediates_path: "./conf/agent/intermediates.pem"
  WorkloadAttestor:
    unix:
      plugin_data: {}
)";

constexpr char kAgentK8sPsat[] = R"(agent:
  data_dir: "./.data"
  server_address: "spire-server"
  server_port: "8081"
  insecure_bootstrap: true
  trust_domain: "example.org"
plugins:
  KeyManager:
    memory:
      plugin_data: {}
  NodeAttestor:
    k8s_psat:
      plugin_data:
        cluster: "k8s-cluster"
        token_path: "/var/run/secrets/tokens/spire-agent"
  WorkloadAttestor:
    k8s:
      plugin_data:
        kubelet_secure_port: "10250"
        skip_kubelet_verification: true
)";

// The docker block of SPIRE's agent_full.conf, copied unchanged (HCL) and as
// YAML: the operator's docker_socket_path, left at SPIRE's default.
constexpr char kSpireDockerBlockHcl[] = R"(WorkloadAttestor "docker" {
    plugin_data {
        # docker_socket_path: The location of the docker daemon socket.
        # docker_socket_path = ""
        experimental {
        }
    }
})";

TEST(SpireConfigCompatTest, AgentExampleValuesValidate) {
  testutil::TempDir dir;
  for (const char* yaml : {kAgentJoinToken, kAgentX509pop, kAgentK8sPsat}) {
    testutil::WriteFile(dir.File("agent.yaml"), yaml);
    RunResult r = Validate(testutil::AgentBinary(), dir.File("agent.yaml"));
    EXPECT_EQ(r.exit_code, 0) << yaml << r.err;
    EXPECT_EQ(r.out, "Configuration is valid.\n");
  }
}

TEST(SpireConfigCompatTest, AgentDockerBlockOfSpireValidates) {
  ASSERT_THAT(kSpireDockerBlockHcl, HasSubstr("experimental"));
  testutil::TempDir dir;
  const std::string yaml = absl::StrCat(
      "agent:\n  data_dir: \"./.data\"\n  server_address: \"127.0.0.1\"\n  trust_domain: "
      "\"example.org\"\n  insecure_bootstrap: true\nplugins:\n  NodeAttestor:\n    join_token:\n"
      "      plugin_data: {}\n  WorkloadAttestor:\n    docker:\n      plugin_data:\n"
      "        docker_socket_path: \"unix:///var/run/docker.sock\"\n        experimental: {}\n");
  testutil::WriteFile(dir.File("agent.yaml"), yaml);
  RunResult r = Validate(testutil::AgentBinary(), dir.File("agent.yaml"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Every SPIRE agent key Signet does not implement, each reported by its path
// and line (and nothing else reported).
TEST(SpireConfigCompatTest, AgentUnsupportedSpireKeysAreNamed) {
  const std::string yaml = R"(agent:
  data_dir: "./.data"
  server_address: "127.0.0.1"
  trust_domain: "example.org"
  trust_bundle_path: "./conf/agent/dummy_root_ca.crt"
  rebootstrap_mode: "never"
  rebootstrap_delay: "10m"
  log_file: ""
  log_source_location: true
  trust_bundle_url: ""
  trust_bundle_unix_socket: "/tmp/your-webserver.sock"
  trust_bundle_format: "pem"
  workload_x509_svid_key_type: "ec-p256"
  authorized_delegates: ["spiffe://example.org/authorized_client1"]
  allow_unauthenticated_verifiers: false
  allowed_foreign_jwt_claims: []
  profiling_enabled: false
  sds:
    default_svid_name: "default"
  ratelimit:
    fetch_x509_svid: 0
  experimental:
    use_sync_authorized_entries: true
plugins:
  NodeAttestor:
    join_token:
      plugin_cmd: ""
      plugin_checksum: ""
      enabled: true
      plugin_data: {}
  WorkloadAttestor:
    docker:
      plugin_data:
        container_id_cgroup_matchers: ["/docker/<id>"]
        experimental:
          sigstore:
            rekor_url: "https://rekor.sigstore.dev"
    k8s:
      plugin_data:
        certificate_path: ""
        private_key_path: ""
        use_anonymous_authentication: false
        experimental:
          sigstore:
            skipped_images: []
telemetry:
  Prometheus:
    port: 9988
health_checks:
  listener_enabled: true
)";
  const std::vector<std::string> unsupported = {
      "agent.rebootstrap_mode",
      "agent.rebootstrap_delay",
      "agent.log_file",
      "agent.log_source_location",
      "agent.trust_bundle_url",
      "agent.trust_bundle_unix_socket",
      "agent.trust_bundle_format",
      "agent.workload_x509_svid_key_type",
      "agent.authorized_delegates",
      "agent.allow_unauthenticated_verifiers",
      "agent.allowed_foreign_jwt_claims",
      "agent.profiling_enabled",
      "agent.sds",
      "agent.ratelimit",
      "agent.experimental",
      "plugins.NodeAttestor.join_token.plugin_cmd",
      "plugins.NodeAttestor.join_token.plugin_checksum",
      "plugins.NodeAttestor.join_token.enabled",
      "plugins.WorkloadAttestor.docker.plugin_data.container_id_cgroup_matchers",
      "plugins.WorkloadAttestor.docker.plugin_data.experimental.sigstore",
      "plugins.WorkloadAttestor.k8s.plugin_data.certificate_path",
      "plugins.WorkloadAttestor.k8s.plugin_data.private_key_path",
      "plugins.WorkloadAttestor.k8s.plugin_data.use_anonymous_authentication",
      "plugins.WorkloadAttestor.k8s.plugin_data.experimental.sigstore",
      "telemetry",
      "health_checks",
  };
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("agent.yaml"), yaml);
  RunResult r = Validate(testutil::AgentBinary(), dir.File("agent.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  std::vector<std::string> lines = ErrorLines(r.err);
  for (const std::string& key : unsupported) {
    bool found = false;
    for (const std::string& l : lines) {
      if (absl::StrContains(l, absl::StrCat(": ", key, ": "))) found = true;
    }
    EXPECT_TRUE(found) << key << " not reported in:\n" << r.err;
  }
  EXPECT_EQ(lines.size(), unsupported.size()) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr(absl::StrCat(dir.File("agent.yaml"), ":", LineOf(yaml, "rebootstrap_mode:"),
                                     ": agent.rebootstrap_mode: unknown key\n")));
}

// SPIRE's disk KeyManager keeps the key in `directory`; Signet keeps it in
// data_dir and says so rather than ignoring another directory.
TEST(SpireConfigCompatTest, AgentDiskDirectoryOtherThanDataDirIsRefused) {
  std::string yaml = kAgentJoinToken;
  yaml.replace(yaml.find("directory: \"./.data\""), 20, "directory: \"/var/lib/elsewhere\"");
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("agent.yaml"), yaml);
  RunResult r = Validate(testutil::AgentBinary(), dir.File("agent.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat(dir.File("agent.yaml"), ":", LineOf(yaml, "directory:"),
                                ": plugins.KeyManager.disk.plugin_data.directory: must be "
                                "agent.data_dir (\"./.data\"): Signet keeps the agent key in "
                                "data_dir\n"));
}

constexpr char kServerTemplate[] = R"(server:
  bind_address: "127.0.0.1"
  bind_port: "8081"
  ca_key_type: "ec-p256"
  ca_subject:
    country: ["US"]
    organization: ["SPIFFE"]
    common_name: ""
  ca_ttl: "24h"
  data_dir: "./.data"
  jwt_key_type: "ec-p256"
  jwt_issuer: ""
  log_level: "INFO"
  log_format: "text"
  socket_path: "/tmp/spire-server/private/api.sock"
  agent_ttl: "1h"
  default_x509_svid_ttl: "1h"
  default_jwt_svid_ttl: "5m"
  trust_domain: "example.org"
  audit_log_enabled: false
  health_checks:
    listener_enabled: true
    bind_address: "localhost"
    bind_port: "80"
    live_path: "/live"
    ready_path: "/ready"
plugins:
  DataStore:
    sql:
      plugin_data:
        database_type: "sqlite3"
        connection_string: "./.data/datastore.sqlite3"
  KeyManager:
$KEYMANAGER
  NodeAttestor:
    join_token:
      plugin_data: {}
    x509pop:
      plugin_data:
        ca_bundle_path: "$CA_BUNDLE"
    k8s_psat:
      plugin_data:
        clusters:
          "example-cluster":
            service_account_allow_list: ["production:spire-agent"]
            audience: ["spire-server"]
            kube_config_file: ""
            allowed_node_label_keys: []
            allowed_pod_label_keys: []
)";

std::string ServerYaml(const std::string& key_manager, const std::string& ca_bundle) {
  std::string out = kServerTemplate;
  out.replace(out.find("$KEYMANAGER"), 11, key_manager);
  out.replace(out.find("$CA_BUNDLE"), 10, ca_bundle);
  return out;
}

TEST(SpireConfigCompatTest, ServerExampleValuesValidate) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("ca.pem"), "");
  for (const char* km :
       {"    memory:\n      plugin_data: {}",
        "    disk:\n      plugin_data:\n        keys_path: \"/opt/spire/data/server/keys.json\""}) {
    testutil::WriteFile(dir.File("server.yaml"), ServerYaml(km, dir.File("ca.pem")));
    RunResult r = Validate(testutil::ServerBinary(), dir.File("server.yaml"));
    EXPECT_EQ(r.exit_code, 0) << km << "\n" << r.out << r.err;
  }
}

// SPIRE's example pairs agent_ttl = "72h" with the default 24h ca_ttl (SPIRE
// shortens such SVIDs to the CA's lifetime); Signet refuses the combination.
TEST(SpireConfigCompatTest, ServerAgentTtlLongerThanCaTtlIsRefused) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("ca.pem"), "");
  std::string yaml = ServerYaml("    memory: {}", dir.File("ca.pem"));
  yaml.replace(yaml.find("agent_ttl: \"1h\""), 15, "agent_ttl: \"72h\"");
  testutil::WriteFile(dir.File("server.yaml"), yaml);
  RunResult r = Validate(testutil::ServerBinary(), dir.File("server.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err,
              HasSubstr(absl::StrCat(dir.File("server.yaml"), ":", LineOf(yaml, "agent_ttl:"),
                                     ": server.agent_ttl: must not be longer than ca_ttl")));
}

TEST(SpireConfigCompatTest, ServerCaSubjectWithTwoCountriesIsRefused) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("ca.pem"), "");
  std::string yaml = ServerYaml("    memory: {}", dir.File("ca.pem"));
  yaml.replace(yaml.find("country: [\"US\"]"), 15, "country: [\"US\", \"DE\"]");
  testutil::WriteFile(dir.File("server.yaml"), yaml);
  RunResult r = Validate(testutil::ServerBinary(), dir.File("server.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err,
              HasSubstr(absl::StrCat(dir.File("server.yaml"), ":", LineOf(yaml, "country:"),
                                     ": server.ca_subject.country: only one value is supported")));
}

TEST(SpireConfigCompatTest, ServerUnsupportedSpireKeysAreNamed) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("ca.pem"), "");
  const std::string yaml = absl::StrCat(R"(server:
  bind_address: "127.0.0.1"
  data_dir: "./.data"
  trust_domain: "example.org"
  admin_ids: ["spiffe://example.org/my/admin"]
  federation:
    bundle_endpoint:
      address: "0.0.0.0"
  disable_jwt_svids: true
  log_file: ""
  log_source_location: true
  proxy_protocol_trusted_cidrs: ["10.0.0.0/8"]
  prune_attested_nodes_expired_for: "720h"
  ratelimit:
    attestation: true
  max_attested_node_info_staleness: "0s"
  tls_config:
    min_tls_version: "VersionTLS13"
  experimental:
    cache_reload_interval: "5s"
plugins:
  DataStore:
    sql:
      plugin_data:
        database_type: "sqlite3"
        connection_string: "./.data/datastore.sqlite3"
        ro_connection_string: ""
        max_open_conns: 100
        max_idle_conns: 2
        conn_max_lifetime: 0
        disable_migration: false
  KeyManager:
    memory:
      plugin_data: {}
  NodeAttestor:
    x509pop:
      plugin_data:
        ca_bundle_path: ")",
                                        dir.File("ca.pem"), R"("
        ca_bundle_paths: []
        agent_path_template: ""
    k8s_psat:
      plugin_data:
        clusters:
          "example-cluster":
            service_account_allow_list: ["production:spire-agent"]
            use_pod_uid_for_agent_id: false
telemetry:
  Prometheus:
    port: 9988
)");
  const std::vector<std::string> unsupported = {
      "server.admin_ids",
      "server.federation",
      "server.disable_jwt_svids",
      "server.log_file",
      "server.log_source_location",
      "server.proxy_protocol_trusted_cidrs",
      "server.prune_attested_nodes_expired_for",
      "server.ratelimit",
      "server.max_attested_node_info_staleness",
      "server.tls_config",
      "server.experimental",
      "plugins.DataStore.sql.plugin_data.ro_connection_string",
      "plugins.DataStore.sql.plugin_data.max_open_conns",
      "plugins.DataStore.sql.plugin_data.max_idle_conns",
      "plugins.DataStore.sql.plugin_data.conn_max_lifetime",
      "plugins.DataStore.sql.plugin_data.disable_migration",
      "plugins.NodeAttestor.x509pop.plugin_data.ca_bundle_paths",
      "plugins.NodeAttestor.x509pop.plugin_data.agent_path_template",
      "plugins.NodeAttestor.k8s_psat.plugin_data.clusters.example-cluster.use_pod_uid_for_agent_id",
      "telemetry",
  };
  testutil::WriteFile(dir.File("server.yaml"), yaml);
  RunResult r = Validate(testutil::ServerBinary(), dir.File("server.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  const std::string all = r.out + r.err;
  std::vector<std::string> lines = ErrorLines(all);
  for (const std::string& key : unsupported) {
    bool found = false;
    for (const std::string& l : lines) {
      if (absl::StrContains(l, absl::StrCat(": ", key, ": "))) found = true;
    }
    EXPECT_TRUE(found) << key << " not reported in:\n" << all;
  }
  EXPECT_EQ(lines.size(), unsupported.size()) << all;
  EXPECT_THAT(all, HasSubstr(absl::StrCat(dir.File("server.yaml"), ":", LineOf(yaml, "admin_ids:"),
                                          ": server.admin_ids: unknown key\n")));
}

}  // namespace
}  // namespace signet
