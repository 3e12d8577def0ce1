// The "docker" workload attestor (SPIRE's docker plugin): the container id
// from the process's cgroups, then the container's configuration from the
// Docker Engine API on its unix socket.
#ifndef SIGNET_ATTESTORS_DOCKER_DOCKER_ATTESTOR_H_
#define SIGNET_ATTESTORS_DOCKER_DOCKER_ATTESTOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attestors/cgroup/container_info.h"
#include "attestors/workload_attestor.h"
#include "common/config.h"
#include "common/http/http_client.h"

namespace signet::attestors {

struct DockerAttestorConfig {
  // Docker Engine API socket.
  std::string docker_socket_path = "/var/run/docker.sock";
  // Engine API version to pin ("1.41"); empty = the daemon's current API.
  std::string docker_version;
  // Per-request bounds (not YAML settings).
  absl::Duration request_timeout = absl::Seconds(10);
  size_t max_response_bytes = http::kDefaultMaxResponseBytes;
};

// ParseDockerAttestorConfig reads a plugin_data section (docker_socket_path,
// docker_version). Problems are recorded in the section's ConfigErrors; the
// section is Finish()ed.
DockerAttestorConfig ParseDockerAttestorConfig(ConfigSection& data);

// DockerAttestor implements WorkloadAttestor. Thread-safe (no mutable state).
class DockerAttestor : public WorkloadAttestor {
 public:
  // Create returns an attestor reading containers through `locator` (the real
  // /proc when null). InvalidArgument for an empty socket path or a malformed
  // docker_version.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DockerAttestor>> Create(
      DockerAttestorConfig config, std::unique_ptr<ContainerLocator> locator = nullptr);

  // Attest returns docker:label:<k>:<v>, docker:env:<VAR>=<val> and
  // docker:image_id:<Config.Image> of the process's container, and no
  // selectors (OK) when the process is not in a container. Errors: NotFound
  // (process gone, or dockerd does not know the container), Unavailable /
  // DeadlineExceeded / ResourceExhausted (the daemon cannot be asked, is too
  // slow or answers too much), Internal (other HTTP status), InvalidArgument
  // (malformed response, or one about another container).
  absl::StatusOr<std::vector<Selector>> Attest(pid_t pid) override;
  std::string name() const override { return "docker"; }

 private:
  DockerAttestor(DockerAttestorConfig config, std::unique_ptr<ContainerLocator> locator)
      : config_(std::move(config)), locator_(std::move(locator)) {}

  const DockerAttestorConfig config_;
  const std::unique_ptr<ContainerLocator> locator_;
};

// NewDockerAttestor is Create returning the interface, for the catalog.
[[nodiscard]] absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewDockerAttestor(
    const DockerAttestorConfig& config);

// DockerSelectorsFromInspect returns the selectors of a
// GET /containers/<id>/json response body for container `container_id`.
// InvalidArgument when the body is malformed or describes another container.
[[nodiscard]] absl::StatusOr<std::vector<Selector>> DockerSelectorsFromInspect(
    absl::string_view body, absl::string_view container_id);

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_DOCKER_DOCKER_ATTESTOR_H_
