// The workload attestors shipped with signet-agent: one line each. A new
// attestor lives in its own folder under attestors/ and adds its line here.
#include "attestors/docker/docker_attestor.h"
#include "attestors/k8s/k8s_attestor.h"
#include "attestors/registry.h"
#include "attestors/unix/unix_attestor.h"
#include "common/log.h"

namespace signet::attestors {
namespace {

void AddBuiltin(WorkloadAttestorRegistry& registry, const std::string& name,
                WorkloadAttestorFactory factory) {
  if (absl::Status s = registry.Register(name, std::move(factory)); !s.ok()) {
    LogError("built-in workload attestor not registered", {{"error", s.ToString()}});
  }
}

}  // namespace

// The order here is the order `validate` lists the supported plugins in.
void RegisterBuiltinWorkloadAttestors(WorkloadAttestorRegistry& registry) {
  AddBuiltin(registry, "unix", NewUnixAttestorFromConfig);
  AddBuiltin(registry, "docker", NewDockerAttestorFromConfig);
  AddBuiltin(registry, "k8s", NewK8sAttestorFromConfig);
}

}  // namespace signet::attestors
