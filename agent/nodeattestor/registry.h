// The agent's node attestor kinds by name (plugins.NodeAttestor.<name>). A
// new kind lives in its own folder beside this file and is added with one
// line in builtins.cc.
#ifndef SIGNET_AGENT_NODEATTESTOR_REGISTRY_H_
#define SIGNET_AGENT_NODEATTESTOR_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/config.h"
#include "agent/nodeattestor/node_attestor.h"
#include "common/config.h"
#include "common/plugin_registry.h"

namespace signet::agent {

// NodeAttestorPlugin is one node attestor kind; every function is set.
struct NodeAttestorPlugin {
  // The name under plugins.NodeAttestor and in AttestationData.type.
  std::string name;
  // ReadConfig reads the kind's settings (plugin_data, or the flat form)
  // into `config`, recording problems in `settings`.
  void (*read_config)(ConfigSection& settings, AgentConfig& config);
  // CanAttest reports whether `config` holds what a (re-)attestation needs
  // (a single-use join token may be absent once it was used).
  bool (*can_attest)(const AgentConfig& config);
  // Create returns the attestor for one attestation with `config`.
  absl::StatusOr<std::unique_ptr<NodeAttestor>> (*create)(const AgentConfig& config);
};

// BuiltinNodeAttestors returns the kinds compiled in (builtins.cc), in the
// order their names are listed in messages.
std::vector<NodeAttestorPlugin> BuiltinNodeAttestors();

using NodeAttestorRegistry = PluginRegistry<NodeAttestorPlugin>;

// NodeAttestors returns the process's registry: BuiltinNodeAttestors() plus
// what was registered since.
NodeAttestorRegistry& NodeAttestors();

// CanAttest reports whether the configured kind can attest with `config`
// (false for a kind the registry does not know).
bool CanAttest(const AgentConfig& config);

// ReadAttestationFile reads `path` (a key, certificate or token). NotFound
// "cannot read <path>" when it cannot be opened.
[[nodiscard]] absl::StatusOr<std::string> ReadAttestationFile(const std::string& path);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_NODEATTESTOR_REGISTRY_H_
