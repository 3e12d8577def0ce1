// The workload attestor catalog: builds the configured attestors and fans a
// process out to all of them.
#ifndef SIGNET_ATTESTORS_CATALOG_H_
#define SIGNET_ATTESTORS_CATALOG_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "attestors/workload_attestor.h"
#include "common/config.h"

namespace signet::attestors {

// The WorkloadAttestor plugin names FromConfig knows, for messages.
inline constexpr char kSupportedWorkloadAttestors[] = "unix, docker, k8s";

// AttestorCatalog runs every configured attestor. Thread-safe (the attestors
// are).
class AttestorCatalog {
 public:
  // Create takes ownership of `attestors`; InvalidArgument when empty.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AttestorCatalog>> Create(
      std::vector<std::unique_ptr<WorkloadAttestor>> attestors);

  // FromConfig builds the attestors of a `plugins.WorkloadAttestor` section
  // (keys are plugin names: "unix", "docker", "k8s"; each value holds the
  // plugin's settings, directly or under "plugin_data"). Problems are recorded
  // in the section's ConfigErrors (unknown plugin, naming the supported ones;
  // bad values; none configured) and the result is then InvalidArgument.
  // Unknown keys inside a plugin's settings are recorded but do not make the
  // result an error: the caller checks the ConfigErrors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AttestorCatalog>> FromConfig(
      ConfigSection section);

  // Attest runs all attestors on `pid` and returns the union of their
  // selectors (sorted, unique). A failing attestor is logged and contributes
  // nothing; the call fails (with the first attestor's error) only when
  // every attestor fails.
  [[nodiscard]] absl::StatusOr<std::vector<Selector>> Attest(pid_t pid) const;

  size_t size() const { return attestors_.size(); }

 private:
  explicit AttestorCatalog(std::vector<std::unique_ptr<WorkloadAttestor>> a)
      : attestors_(std::move(a)) {}
  const std::vector<std::unique_ptr<WorkloadAttestor>> attestors_;
};

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_CATALOG_H_
