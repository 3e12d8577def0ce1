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

// kDefaultDockerSocket is SPIRE's default docker_socket_path.
inline constexpr char kDefaultDockerSocket[] = "unix:///var/run/docker.sock";

struct DockerAttestorConfig {
  // Docker Engine API socket: a "unix://" URL (SPIRE's form) or an absolute
  // path.
  std::string docker_socket_path = kDefaultDockerSocket;
  // Engine API version to pin ("1.41"); empty = the daemon's current API.
  std::string docker_version;
  // Log the container (and pod) id found for each attested pid.
  bool verbose_container_locator_logs = false;
  // Per-request bounds (not YAML settings).
  absl::Duration request_timeout = absl::Seconds(10);
  size_t max_response_bytes = http::kDefaultMaxResponseBytes;
};

// DockerSocketFilePath returns the filesystem path of a docker_socket_path
// value: "unix:///run/docker.sock" and "/run/docker.sock" both give
// "/run/docker.sock". InvalidArgument for an empty or relative path and for
// any other scheme ("tcp://...", "npipe://..."), which Signet does not speak.
[[nodiscard]] absl::StatusOr<std::string> DockerSocketFilePath(absl::string_view value);

// ParseDockerAttestorConfig reads a plugin_data section with SPIRE's keys
// (docker_socket_path, docker_version, use_new_container_locator,
// verbose_container_locator_logs, an empty experimental block). Problems,
// including SPIRE keys Signet does not implement, are recorded in the
// section's ConfigErrors with the key and line; the section is Finish()ed.
DockerAttestorConfig ParseDockerAttestorConfig(ConfigSection& data);

// DockerAttestor implements WorkloadAttestor. Thread-safe (no mutable state).
class DockerAttestor : public WorkloadAttestor {
 public:
  // Create returns an attestor reading containers through `locator` (the real
  // /proc when null). InvalidArgument for a docker_socket_path that
  // DockerSocketFilePath refuses or a malformed docker_version.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DockerAttestor>> Create(
      DockerAttestorConfig config, std::unique_ptr<ContainerLocator> locator = nullptr);

  // Attest returns docker:label:<k>:<v>, docker:env:<VAR>=<val> and
  // docker:image_id:<Config.Image> of the process's container, and no
  // selectors (OK) when the process is not in a container. Errors: NotFound
  // (process gone, or dockerd does not know the container),
  // FailedPrecondition (the container is not running), Unavailable /
  // DeadlineExceeded / ResourceExhausted (the daemon cannot be asked, is too
  // slow or answers too much, or `deadline` passes), Internal (other HTTP status), InvalidArgument
  // (malformed response, or one about another container).
  absl::StatusOr<std::vector<Selector>> Attest(const WorkloadProcess& process,
                                               absl::Time deadline) override;
  std::string name() const override { return "docker"; }

 private:
  DockerAttestor(DockerAttestorConfig config, std::string socket_file,
                 std::unique_ptr<ContainerLocator> locator)
      : config_(std::move(config)),
        socket_file_(std::move(socket_file)),
        locator_(std::move(locator)) {}

  const DockerAttestorConfig config_;
  const std::string socket_file_;  // config_.docker_socket_path as a file path
  const std::unique_ptr<ContainerLocator> locator_;
};

// NewDockerAttestor is Create returning the interface, for the catalog.
[[nodiscard]] absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewDockerAttestor(
    const DockerAttestorConfig& config);

// NewDockerAttestorFromConfig is ParseDockerAttestorConfig then
// NewDockerAttestor: the "docker" factory of the registry.
[[nodiscard]] absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewDockerAttestorFromConfig(
    ConfigSection& data);

// DockerSelectorsFromInspect returns the selectors of a
// GET /containers/<id>/json response body for container `container_id`.
// InvalidArgument when the body is malformed or describes another container,
// FailedPrecondition when State.Running is false.
[[nodiscard]] absl::StatusOr<std::vector<Selector>> DockerSelectorsFromInspect(
    absl::string_view body, absl::string_view container_id);

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_DOCKER_DOCKER_ATTESTOR_H_
