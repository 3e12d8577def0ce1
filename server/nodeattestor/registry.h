// The server's node attestor kinds by name (plugins.NodeAttestor.<name>),
// and the catalog of the configured ones that NodeService attests with.
// A new kind lives in its own folder beside this file and is added with one
// line in builtins.cc.
#ifndef SIGNET_SERVER_NODEATTESTOR_REGISTRY_H_
#define SIGNET_SERVER_NODEATTESTOR_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config.h"
#include "common/plugin_registry.h"
#include "server/config.h"
#include "server/deps.h"
#include "server/nodeattestor/node_attestor.h"

namespace signet::server {

// NodeAttestorPlugin is one node attestor kind; both functions are set.
struct NodeAttestorPlugin {
  // The name under plugins.NodeAttestor and in AttestationData.type.
  std::string name;
  // ReadConfig reads the kind's settings (plugin_data, or the flat form)
  // into `config`, recording problems in `settings`. It also runs for
  // `validate`: it must not contact anything.
  void (*read_config)(ConfigSection& settings, ServerConfig& config);
  // Create builds the attestor once the datastore and CA exist (`deps` is
  // borrowed and outlives it); an error stops the server from starting.
  absl::StatusOr<std::unique_ptr<NodeAttestor>> (*create)(const ServerDeps& deps);
  // Whether an agent attested this way can attest again by itself (its
  // evidence is not single use); shown by `agent list` / `agent show`.
  bool can_reattest = false;
};

// BuiltinNodeAttestors returns the kinds compiled in (builtins.cc), in the
// order their names are listed in messages.
std::vector<NodeAttestorPlugin> BuiltinNodeAttestors();

// NodeAttestorRegistry maps names to kinds.
using NodeAttestorRegistry = PluginRegistry<NodeAttestorPlugin>;

// NodeAttestors returns the process's registry: BuiltinNodeAttestors() plus
// what was registered since.
NodeAttestorRegistry& NodeAttestors();

// NodeAttestorCatalog holds the configured attestors by name. Immutable
// after Create, so thread-safe.
class NodeAttestorCatalog {
 public:
  // Create builds the attestor of every name in `config.node_attestors`
  // from `registry`. Errors: the first attestor's that fails, InvalidArgument
  // for a name the registry does not know.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeAttestorCatalog>> Create(
      const NodeAttestorRegistry& registry, const ServerDeps& deps);

  // Find returns the attestor for attestation type `type`: PermissionDenied
  // "node attestor \"<type>\" is not configured" for a known kind that is
  // not configured, InvalidArgument "unknown attestation type ..." otherwise.
  [[nodiscard]] absl::StatusOr<const NodeAttestor*> Find(absl::string_view type) const;

 private:
  NodeAttestorCatalog(const NodeAttestorRegistry* registry,
                      std::map<std::string, std::unique_ptr<NodeAttestor>, std::less<>> attestors)
      : registry_(registry), attestors_(std::move(attestors)) {}

  const NodeAttestorRegistry* const registry_;
  const std::map<std::string, std::unique_ptr<NodeAttestor>, std::less<>> attestors_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_REGISTRY_H_
