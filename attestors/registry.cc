#include "attestors/registry.h"

#include <utility>

namespace signet::attestors {

WorkloadAttestorRegistry& WorkloadAttestorRegistry::Global() {
  static WorkloadAttestorRegistry* const registry = [] {
    auto* r = new WorkloadAttestorRegistry();
    RegisterBuiltinWorkloadAttestors(*r);
    return r;
  }();
  return *registry;
}

absl::Status WorkloadAttestorRegistry::Register(const std::string& name,
                                                WorkloadAttestorFactory factory) {
  if (name.empty() || !factory) {
    return absl::InvalidArgumentError("a workload attestor needs a name and a factory");
  }
  return plugins_.Register({name, std::move(factory)});
}

WorkloadAttestorFactory WorkloadAttestorRegistry::Find(const std::string& name) const {
  const Plugin* p = plugins_.Find(name);
  return p == nullptr ? nullptr : p->factory;
}

}  // namespace signet::attestors
