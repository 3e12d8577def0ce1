// The registry of workload attestor plugins: plugin name -> factory. A new
// attestor lives in its own folder under attestors/ and adds one
// registration line to attestors/builtins.cc.
#ifndef SIGNET_ATTESTORS_REGISTRY_H_
#define SIGNET_ATTESTORS_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "attestors/workload_attestor.h"
#include "common/config.h"
#include "common/plugin_registry.h"

namespace signet::attestors {

// WorkloadAttestorFactory reads a plugin's settings (the plugin_data
// mapping, or the plugin's own mapping when it has no plugin_data key),
// recording every problem in the section's ConfigErrors with its key and
// line and Finish()ing it, then builds the attestor. A non-OK result is
// recorded by the caller against the plugin's name.
using WorkloadAttestorFactory =
    std::function<absl::StatusOr<std::unique_ptr<WorkloadAttestor>>(ConfigSection& data)>;

// WorkloadAttestorRegistry maps plugin names to factories, in registration
// order. Thread-safe.
class WorkloadAttestorRegistry {
 public:
  WorkloadAttestorRegistry() = default;
  WorkloadAttestorRegistry(const WorkloadAttestorRegistry&) = delete;
  WorkloadAttestorRegistry& operator=(const WorkloadAttestorRegistry&) = delete;

  // Global returns the process-wide registry, holding the built-ins
  // (RegisterBuiltinWorkloadAttestors) from its first use.
  static WorkloadAttestorRegistry& Global();

  // Register adds `name`; AlreadyExists when it is taken, InvalidArgument
  // for an empty name or factory.
  [[nodiscard]] absl::Status Register(const std::string& name, WorkloadAttestorFactory factory);

  // Find returns the factory of `name`, or null when none is registered.
  WorkloadAttestorFactory Find(const std::string& name) const;

  // Names returns every registered name, in registration order.
  std::vector<std::string> Names() const { return plugins_.Names(); }

 private:
  struct Plugin {
    std::string name;
    WorkloadAttestorFactory factory;
  };
  PluginRegistry<Plugin> plugins_{"workload attestor"};
};

// RegisterBuiltinWorkloadAttestors registers the plugins shipped with
// signet-agent (attestors/builtins.cc).
void RegisterBuiltinWorkloadAttestors(WorkloadAttestorRegistry& registry);

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_REGISTRY_H_
