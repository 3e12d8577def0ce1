#include "attestors/registry.h"

#include "absl/strings/str_cat.h"

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
  absl::MutexLock l(&mu_);
  for (const auto& p : plugins_) {
    if (p.first == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("workload attestor \"", name, "\" is already registered"));
    }
  }
  plugins_.emplace_back(name, std::move(factory));
  return absl::OkStatus();
}

WorkloadAttestorFactory WorkloadAttestorRegistry::Find(const std::string& name) const {
  absl::MutexLock l(&mu_);
  for (const auto& p : plugins_) {
    if (p.first == name) return p.second;
  }
  return nullptr;
}

std::vector<std::string> WorkloadAttestorRegistry::Names() const {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  out.reserve(plugins_.size());
  for (const auto& p : plugins_) out.push_back(p.first);
  return out;
}

}  // namespace signet::attestors
