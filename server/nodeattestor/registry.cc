#include "server/nodeattestor/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace signet::server {

NodeAttestorRegistry& NodeAttestors() {
  static NodeAttestorRegistry* const registry =
      NewRegistryWithBuiltins("node attestor", BuiltinNodeAttestors());
  return *registry;
}

absl::StatusOr<std::unique_ptr<NodeAttestorCatalog>> NodeAttestorCatalog::Create(
    const NodeAttestorRegistry& registry, const ServerDeps& deps) {
  std::map<std::string, std::unique_ptr<NodeAttestor>, std::less<>> attestors;
  for (const std::string& name : deps.config->node_attestors) {
    const NodeAttestorPlugin* plugin = registry.Find(name);
    if (plugin == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown node attestor \"", name, "\""));
    }
    ASSIGN_OR_RETURN(attestors[name], plugin->create(deps));
  }
  return std::unique_ptr<NodeAttestorCatalog>(
      new NodeAttestorCatalog(&registry, std::move(attestors)));
}

absl::StatusOr<const NodeAttestor*> NodeAttestorCatalog::Find(absl::string_view type) const {
  auto it = attestors_.find(type);
  if (it != attestors_.end()) return it->second.get();
  if (registry_->Find(type) != nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("node attestor \"", type, "\" is not configured"));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown attestation type \"", type, "\" (want ",
                                                 registry_->NamesText("or"), ")"));
}

}  // namespace signet::server
