#include "agent/config.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/nodeattestor/registry.h"
#include "attestors/catalog.h"
#include "common/config.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace signet::agent {
namespace {

// PluginData returns the settings of one plugin: its "plugin_data" mapping
// when present, else the plugin's own mapping.
ConfigSection PluginData(ConfigSection& plugin) {
  if (plugin.Has("plugin_data")) return plugin.Section("plugin_data");
  return plugin;
}

// OnePlugin returns the single configured plugin name under `kind`, recording
// an error when none or several are configured.
std::string OnePlugin(ConfigSection& plugins, ConfigSection& kind, const std::string& kind_name,
                      bool required) {
  std::vector<std::string> names = kind.Keys();
  if (names.empty()) {
    if (required) plugins.Error(kind_name, "exactly one plugin must be configured");
    return "";
  }
  if (names.size() > 1) {
    plugins.Error(kind_name, "exactly one plugin must be configured");
    return "";
  }
  return names[0];
}

// ReadDiskKeyManagerDirectory reads SPIRE's `directory` of the agent's disk
// KeyManager. Signet keeps the agent's key with its SVID in data_dir, so the
// key is accepted only when it names that directory (as SPIRE's examples do)
// rather than being silently ignored.
void ReadDiskKeyManagerDirectory(ConfigSection& d, const std::string& data_dir) {
  if (!d.Has("directory")) {
    d.MarkKnown("directory");
    return;
  }
  const std::string dir = d.String("directory");
  auto clean = [](std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  };
  if (clean(dir) != clean(data_dir)) {
    d.Error("directory", absl::StrCat("must be agent.data_dir (\"", data_dir,
                                      "\"): Signet keeps the agent key in data_dir"));
  }
}

// CleanDir returns the directory part of the absolute `path`, lexically
// normalised: no empty or "." components, ".." resolved, no trailing slash
// ("/" for the root).
std::string CleanDir(const std::string& path) {
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(p);
  }
  if (!parts.empty()) parts.pop_back();  // the file name
  return "/" + absl::StrJoin(parts, "/");
}

// IsSameOrBelow returns whether directory `dir` is `base` or inside it.
bool IsSameOrBelow(const std::string& dir, const std::string& base) {
  if (base == "/") return true;
  return dir == base || absl::StartsWith(dir, base + "/");
}

}  // namespace

absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path,
                                            const std::string& join_token_flag) {
  ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
  ConfigErrors errors(path);
  ConfigSection top(root, "", &errors);
  AgentConfig c;
  c.config_path = path;

  ConfigSection a = top.Section("agent");
  if (!a.present()) top.Error("agent", "missing section");
  c.data_dir = a.String("data_dir", c.data_dir);
  c.log_level = a.String("log_level", c.log_level);
  c.log_format = a.String("log_format", c.log_format);
  {
    std::string lvl = c.log_level;
    for (auto& ch : lvl) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lvl != "debug" && lvl != "info" && lvl != "warn" && lvl != "error") {
      a.Error("log_level", "must be one of debug, info, warn, error");
    }
    c.log_level = lvl;
    if (c.log_format != "text" && c.log_format != "json") {
      a.Error("log_format", "must be text or json");
    }
  }
  c.server_address = a.String("server_address");
  if (c.server_address.empty()) a.Error("server_address", "is required");
  c.server_port = static_cast<int>(a.Int("server_port", 8081, 1, 65535));
  c.socket_path = a.String("socket_path", c.socket_path);
  if (c.socket_path.empty() || c.socket_path[0] != '/') {
    a.Error("socket_path", "must be an absolute path");
  } else if (c.socket_path.size() >= 108) {
    a.Error("socket_path", "is longer than a unix socket path may be (107 bytes)");
  }
  std::string td = a.String("trust_domain");
  if (td.empty()) {
    a.Error("trust_domain", "is required");
  } else {
    auto t = TrustDomain::FromString(td);
    if (!t.ok()) {
      a.Error("trust_domain", t.status().message());
    } else {
      c.trust_domain = *t;
    }
  }
  c.trust_bundle_path = a.String("trust_bundle_path");
  c.insecure_bootstrap = a.Bool("insecure_bootstrap", false);
  if (c.trust_bundle_path.empty() && !c.insecure_bootstrap) {
    a.Error("trust_bundle_path", "is required unless insecure_bootstrap is true");
  }
  if (!c.trust_bundle_path.empty() && c.insecure_bootstrap) {
    a.Error("insecure_bootstrap", "cannot be combined with trust_bundle_path");
  }
  c.join_token = a.String("join_token");
  if (!join_token_flag.empty()) c.join_token = join_token_flag;
  c.selector_cache_ttl = a.Duration("selector_cache_ttl", c.selector_cache_ttl);
  if (c.selector_cache_ttl < absl::ZeroDuration() || c.selector_cache_ttl > absl::Minutes(1)) {
    a.Error("selector_cache_ttl", "must be between 0s and 1m");
    c.selector_cache_ttl = absl::Seconds(1);
  }
  c.max_connections = static_cast<int>(a.Int("max_connections", c.max_connections, 1, 1 << 20));
  c.max_connections_per_uid =
      static_cast<int>(a.Int("max_connections_per_uid", c.max_connections_per_uid, 1, 1 << 20));
  if (c.max_connections_per_uid > c.max_connections) {
    a.Error("max_connections_per_uid", "must not be greater than max_connections");
  }
  c.connection_preface_timeout =
      a.Duration("connection_preface_timeout", c.connection_preface_timeout);
  if (c.connection_preface_timeout < absl::Milliseconds(100) ||
      c.connection_preface_timeout > absl::Minutes(5)) {
    a.Error("connection_preface_timeout", "must be between 100ms and 5m");
    c.connection_preface_timeout = absl::Seconds(10);
  }
  c.connection_idle_timeout = a.Duration("connection_idle_timeout", c.connection_idle_timeout);
  if (c.connection_idle_timeout < absl::Seconds(1) || c.connection_idle_timeout > absl::Hours(24)) {
    a.Error("connection_idle_timeout", "must be between 1s and 24h");
    c.connection_idle_timeout = absl::Minutes(5);
  }
  c.jwt_cache_max_bytes =
      a.Int("jwt_cache_max_bytes", c.jwt_cache_max_bytes, 64 << 10, int64_t{1} << 32);
  c.admin_socket_path = a.String("admin_socket_path");
  if (!c.admin_socket_path.empty()) {
    if (c.admin_socket_path[0] != '/') {
      a.Error("admin_socket_path", "must be an absolute path");
    } else if (c.admin_socket_path.size() >= 108) {
      a.Error("admin_socket_path", "is longer than a unix socket path may be (107 bytes)");
    } else if (!c.socket_path.empty() && c.socket_path[0] == '/' &&
               IsSameOrBelow(CleanDir(c.admin_socket_path), CleanDir(c.socket_path))) {
      // Workloads reach the Workload API socket's directory; the admin API
      // must live where they cannot.
      a.Error("admin_socket_path", kAdminSocketSameDirError);
    }
  }
  a.Finish();

  ConfigSection plugins = top.Section("plugins");
  if (!plugins.present()) {
    top.Error("plugins", "missing section");
  }
  // NodeAttestor.
  ConfigSection na = plugins.Section("NodeAttestor");
  c.node_attestor = OnePlugin(plugins, na, "NodeAttestor", plugins.present());
  if (const NodeAttestorPlugin* plugin = NodeAttestors().Find(c.node_attestor)) {
    ConfigSection p = na.Section(c.node_attestor);
    ConfigSection d = PluginData(p);
    plugin->read_config(d, c);
    d.Finish();
    if (p.Has("plugin_data")) p.Finish();
  } else if (!c.node_attestor.empty()) {
    na.MarkKnown(c.node_attestor);
    na.Error(
        c.node_attestor,
        absl::StrCat("unknown NodeAttestor plugin (supported: ", NodeAttestors().NamesText(), ")"));
  }
  na.Finish();
  // KeyManager.
  if (plugins.Has("KeyManager")) {
    ConfigSection km = plugins.Section("KeyManager");
    std::string name = OnePlugin(plugins, km, "KeyManager", false);
    if (name == "disk" || name == "memory") {
      c.key_manager = name;
      ConfigSection p = km.Section(name);
      if (p.present()) {
        ConfigSection d = PluginData(p);
        if (name == "disk") ReadDiskKeyManagerDirectory(d, c.data_dir);
        d.Finish();
        if (p.Has("plugin_data")) p.Finish();
      }
    } else if (!name.empty()) {
      km.MarkKnown(name);
      km.Error(name, "unknown KeyManager plugin (supported: disk, memory)");
    }
    km.Finish();
  }
  // WorkloadAttestor.
  ConfigSection wa = plugins.Section("WorkloadAttestor");
  if (!wa.present()) {
    if (plugins.present())
      plugins.Error("WorkloadAttestor", "at least one plugin must be configured");
  } else {
    // Built here only to report every problem with its line; the agent's
    // wiring builds its own catalog from the kept section.
    if (attestors::AttestorCatalog::FromConfig(wa).ok()) {
      const YAML::Node& const_root = root;
      c.workload_attestor_plugins = std::make_shared<const YAML::Node>(
          YAML::Clone(const_root["plugins"]["WorkloadAttestor"]));
    }
  }
  plugins.Finish();
  top.Finish();
  RETURN_IF_ERROR(errors.ToStatus());
  return c;
}

}  // namespace signet::agent
