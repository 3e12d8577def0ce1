// The workload attestor catalog: the configured attestors behind the one
// WorkloadAttestor interface, fanning a process out to all of them.
#ifndef SIGNET_ATTESTORS_CATALOG_H_
#define SIGNET_ATTESTORS_CATALOG_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attestors/registry.h"
#include "attestors/workload_attestor.h"
#include "common/config.h"

namespace signet::attestors {

// AttestorCatalog runs every configured attestor. Thread-safe (the attestors
// are).
class AttestorCatalog : public WorkloadAttestor {
 public:
  // Create takes ownership of `attestors`; InvalidArgument when empty.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AttestorCatalog>> Create(
      std::vector<std::unique_ptr<WorkloadAttestor>> attestors);

  // FromConfig builds the attestors of a `plugins.WorkloadAttestor` section
  // (keys are plugin names found in `registry`; each value holds the
  // plugin's settings, directly or under "plugin_data"). Problems are
  // recorded in the section's ConfigErrors (unknown plugin, naming the
  // registered ones; bad values; none configured) and the result is then
  // InvalidArgument. Unknown keys inside a plugin's settings are recorded but
  // do not make the result an error: the caller checks the ConfigErrors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AttestorCatalog>> FromConfig(
      ConfigSection section,
      const WorkloadAttestorRegistry& registry = WorkloadAttestorRegistry::Global());

  // FromPlugins is FromConfig on a plugins.WorkloadAttestor mapping read
  // from `file` (kept by the agent's configuration): InvalidArgument listing
  // every problem when there is any.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AttestorCatalog>> FromPlugins(
      const YAML::Node& plugins, const std::string& file,
      const WorkloadAttestorRegistry& registry = WorkloadAttestorRegistry::Global());

  // Attest runs all attestors on `process` (each with `deadline`) and
  // returns the union of their selectors (sorted, unique). A failing
  // attestor is logged and contributes nothing; the call fails (with the
  // first attestor's error) only when every attestor fails.
  [[nodiscard]] absl::StatusOr<std::vector<Selector>> Attest(const WorkloadProcess& process,
                                                             absl::Time deadline) override;
  std::string name() const override { return "catalog"; }

  size_t size() const { return attestors_.size(); }

 private:
  explicit AttestorCatalog(std::vector<std::unique_ptr<WorkloadAttestor>> a)
      : attestors_(std::move(a)) {}
  const std::vector<std::unique_ptr<WorkloadAttestor>> attestors_;
};

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_CATALOG_H_
