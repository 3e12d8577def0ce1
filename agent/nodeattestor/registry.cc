#include "agent/nodeattestor/registry.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace signet::agent {

NodeAttestorRegistry& NodeAttestors() {
  static NodeAttestorRegistry* const registry =
      NewRegistryWithBuiltins("node attestor", BuiltinNodeAttestors());
  return *registry;
}

bool CanAttest(const AgentConfig& config) {
  const NodeAttestorPlugin* plugin = NodeAttestors().Find(config.node_attestor);
  return plugin != nullptr && plugin->can_attest(config);
}

absl::StatusOr<std::string> ReadAttestationFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace signet::agent
