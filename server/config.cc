#include "server/config.h"

#include <unistd.h>

#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/spiffe_id.h"
#include "common/status_macros.h"
#include "server/nodeattestor/registry.h"

namespace signet::server {
namespace {

// ReadKeyType reads a key type name; records an error and returns `def` when
// the name is unknown.
KeyType ReadKeyType(ConfigSection& s, const std::string& key, KeyType def) {
  if (!s.Has(key)) {
    s.MarkKnown(key);
    return def;
  }
  std::string v = s.String(key, KeyTypeName(def));
  absl::StatusOr<KeyType> t = KeyTypeFromString(v);
  if (!t.ok()) {
    s.Error(key, t.status().message());
    return def;
  }
  return *t;
}

// ReadPositiveDuration reads a duration that must be > 0 when present.
absl::Duration ReadPositiveDuration(ConfigSection& s, const std::string& key, absl::Duration def) {
  bool had = s.Has(key);
  absl::Duration d = s.Duration(key, def);
  if (had && d <= absl::ZeroDuration()) {
    s.Error(key, "must be greater than zero");
    return def;
  }
  return d;
}

// ReadSubjectValue reads a ca_subject attribute given as SPIRE writes it (a
// list, `country: ["US"]`) or as a plain string. Signet puts one value of
// each attribute in the CA subject, so a list of several is an error.
std::string ReadSubjectValue(ConfigSection& subj, const std::string& key, const std::string& def) {
  if (!subj.IsList(key)) return subj.String(key, def);
  std::vector<std::string> values = subj.StringList(key);
  if (values.size() > 1) subj.Error(key, "only one value is supported");
  return values.empty() ? "" : values[0];
}

void ReadServer(ConfigSection s, ServerConfig& c) {
  c.bind_address = s.String("bind_address", c.bind_address);
  c.bind_port = static_cast<int>(s.Int("bind_port", c.bind_port, 0, 65535));
  c.socket_path = s.String("socket_path", c.socket_path);
  if (c.socket_path.empty()) s.Error("socket_path", "must not be empty");
  if (c.socket_path.size() >= 104) s.Error("socket_path", "is too long for a unix socket path");
  if (!s.Has("trust_domain")) {
    s.Error("trust_domain", "is required");
  } else {
    c.trust_domain = s.String("trust_domain");
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString(c.trust_domain);
    if (!td.ok()) {
      s.Error("trust_domain", td.status().message());
    } else {
      c.trust_domain = td->name();
    }
  }
  c.data_dir = s.String("data_dir");
  if (c.data_dir.empty()) s.Error("data_dir", "is required");
  c.log_level = absl::AsciiStrToLower(s.String("log_level", c.log_level));
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    s.Error("log_level", "must be one of debug, info, warn, error");
  }
  c.log_format = absl::AsciiStrToLower(s.String("log_format", c.log_format));
  if (c.log_format != "text" && c.log_format != "json") {
    s.Error("log_format", "must be text or json");
  }
  c.ca_key_type = ReadKeyType(s, "ca_key_type", c.ca_key_type);
  c.ca_ttl = ReadPositiveDuration(s, "ca_ttl", c.ca_ttl);
  ConfigSection subj = s.Section("ca_subject");
  if (subj.present()) {
    c.ca_subject.country = ReadSubjectValue(subj, "country", "");
    c.ca_subject.organization = ReadSubjectValue(subj, "organization", c.ca_subject.organization);
    c.ca_subject.common_name = subj.String("common_name");
    subj.Finish();
  }
  c.jwt_key_type = ReadKeyType(s, "jwt_key_type", c.jwt_key_type);
  c.jwt_issuer = s.String("jwt_issuer");
  c.default_x509_svid_ttl =
      ReadPositiveDuration(s, "default_x509_svid_ttl", c.default_x509_svid_ttl);
  c.default_jwt_svid_ttl = ReadPositiveDuration(s, "default_jwt_svid_ttl", c.default_jwt_svid_ttl);
  c.agent_ttl = ReadPositiveDuration(s, "agent_ttl", c.agent_ttl);
  if (c.default_x509_svid_ttl > c.ca_ttl) {
    s.Error("default_x509_svid_ttl", "must not be longer than ca_ttl");
  }
  if (c.default_jwt_svid_ttl > c.ca_ttl) {
    s.Error("default_jwt_svid_ttl", "must not be longer than ca_ttl");
  }
  if (c.agent_ttl > c.ca_ttl) s.Error("agent_ttl", "must not be longer than ca_ttl");
  c.audit_log_enabled = s.Bool("audit_log_enabled", false);
  c.attestation_max_concurrent =
      static_cast<int>(s.Int("attestation_max_concurrent", c.attestation_max_concurrent, 1, 10000));
  c.attestation_timeout = ReadPositiveDuration(s, "attestation_timeout", c.attestation_timeout);
  if (c.attestation_timeout > absl::Minutes(10)) {
    s.Error("attestation_timeout", "must not be longer than 10m");
  }
  c.tls_handshake_timeout =
      ReadPositiveDuration(s, "tls_handshake_timeout", c.tls_handshake_timeout);
  if (c.tls_handshake_timeout > absl::Minutes(2)) {
    s.Error("tls_handshake_timeout", "must not be longer than 2m");
  }
  c.node_api_memory_limit_mb =
      static_cast<int>(s.Int("node_api_memory_limit_mb", c.node_api_memory_limit_mb, 8, 65536));
  ConfigSection hc = s.Section("health_checks");
  if (hc.present()) {
    c.health_checks.listener_enabled = hc.Bool("listener_enabled", false);
    c.health_checks.bind_address = hc.String("bind_address", c.health_checks.bind_address);
    c.health_checks.bind_port =
        static_cast<int>(hc.Int("bind_port", c.health_checks.bind_port, 0, 65535));
    c.health_checks.live_path = hc.String("live_path", c.health_checks.live_path);
    c.health_checks.ready_path = hc.String("ready_path", c.health_checks.ready_path);
    if (c.health_checks.live_path.empty() || c.health_checks.live_path[0] != '/') {
      hc.Error("live_path", "must start with \"/\"");
    }
    if (c.health_checks.ready_path.empty() || c.health_checks.ready_path[0] != '/') {
      hc.Error("ready_path", "must start with \"/\"");
    }
    hc.Finish();
  }
  s.Finish();
}

// ReadPlugin calls `read` with the settings of plugin `name` under `kind`:
// SPIRE's nesting `<name>: {plugin_data: {...}}` when the plugin has a
// "plugin_data" key, else the flat form `<name>: {...}`. Unknown keys at either
// level are recorded as errors (so flat settings beside plugin_data are
// refused).
template <typename ReadFn>
void ReadPlugin(ConfigSection& kind, const std::string& name, ReadFn read) {
  ConfigSection plugin = kind.Section(name);
  plugin.MarkKnown("plugin_data");  // `plugin_data:` left empty means no settings
  if (plugin.Has("plugin_data")) {
    ConfigSection data = plugin.Section("plugin_data");
    read(data);
    data.Finish();
  } else {
    read(plugin);
  }
  plugin.Finish();
}

void ReadPlugins(ConfigSection p, ServerConfig& c) {
  // DataStore
  ConfigSection ds = p.Section("DataStore");
  if (!ds.present()) {
    p.Error("DataStore", "a DataStore plugin is required");
  } else {
    if (!ds.Has("sql")) {
      ds.Error("sql", "the \"sql\" DataStore is required");
    } else {
      ReadPlugin(ds, "sql", [&c](ConfigSection& sql) {
        c.datastore_type = sql.String("database_type", "sqlite3");
        if (c.datastore_type != "sqlite3" && c.datastore_type != "memory") {
          sql.Error("database_type", "unsupported database_type (supported: sqlite3)");
        }
        c.datastore_connection_string = sql.String("connection_string");
        if (c.datastore_type == "sqlite3" && c.datastore_connection_string.empty()) {
          sql.Error("connection_string", "is required");
        }
      });
    }
    ds.Finish();
  }
  // KeyManager
  ConfigSection km = p.Section("KeyManager");
  if (!km.present()) {
    p.Error("KeyManager", "a KeyManager plugin is required (disk or memory)");
  } else {
    std::vector<std::string> keys = km.Keys();
    if (keys.size() != 1) {
      p.Error("KeyManager", "exactly one KeyManager (disk or memory) must be configured");
    }
    if (km.Has("disk")) {
      c.key_manager = "disk";
      ReadPlugin(km, "disk", [&c](ConfigSection& disk) { c.keys_path = disk.String("keys_path"); });
    } else if (km.Has("memory")) {
      c.key_manager = "memory";
      ReadPlugin(km, "memory", [](ConfigSection&) {});
    }
    km.Finish();
  }
  // NodeAttestor: every kind in the registry that the file names.
  ConfigSection na = p.Section("NodeAttestor");
  const std::string required =
      absl::StrCat("at least one NodeAttestor (", NodeAttestors().NamesText(), ") is required");
  if (!na.present()) {
    p.Error("NodeAttestor", required);
  } else {
    for (const std::string& name : NodeAttestors().Names()) {
      if (!na.Has(name)) continue;
      const NodeAttestorPlugin* plugin = NodeAttestors().Find(name);
      c.node_attestors.push_back(name);
      ReadPlugin(na, name, [&](ConfigSection& settings) { plugin->read_config(settings, c); });
    }
    if (c.node_attestors.empty()) p.Error("NodeAttestor", required);
    na.Finish();
  }
  p.Finish();
}

}  // namespace

namespace {

// BuildConfig reads every key of a parsed configuration.
absl::StatusOr<ServerConfig> BuildConfig(const YAML::Node& root, const std::string& file) {
  ServerConfig c;
  c.config_path = file;
  ConfigErrors errors(file);
  if (!root.IsMap()) {
    errors.AddGeneral("the configuration must be a YAML mapping with \"server\" and \"plugins\"");
    return errors.ToStatus();
  }
  ConfigSection top(root, "", &errors);
  if (top.Has("server")) {
    ReadServer(top.Section("server"), c);
  } else {
    top.Error("server", "missing section \"server\"");
  }
  if (top.Has("plugins")) {
    ReadPlugins(top.Section("plugins"), c);
  } else {
    top.Error("plugins", "missing section \"plugins\"");
  }
  top.Finish();
  if (c.keys_path.empty() && !c.data_dir.empty()) c.keys_path = c.data_dir + "/keys";
  RETURN_IF_ERROR(errors.ToStatus());
  return c;
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerConfigYaml(const std::string& yaml,
                                                   const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  return BuildConfig(root, file);
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
  return BuildConfig(root, path);
}

}  // namespace signet::server
