#include "attestors/docker/docker_attestor.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/http/http_client.h"
#include "common/http/json.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace signet::attestors {
namespace {

using ::signet::http::HttpDo;
using ::signet::http::HttpRequest;
using ::signet::http::HttpResponse;
using ::signet::http::ListField;
using ::signet::http::ParseJsonObject;
using ::signet::http::StringField;
using ::signet::http::StructField;

// ValidApiVersion accepts "1.41" style versions.
bool ValidApiVersion(absl::string_view v) {
  size_t dot = v.find('.');
  if (dot == absl::string_view::npos || dot == 0 || dot + 1 == v.size()) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i != dot && !absl::ascii_isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

// DockerMessage returns the "message" of a daemon error body, or the body.
std::string DockerMessage(const std::string& body) {
  absl::StatusOr<google::protobuf::Struct> obj = ParseJsonObject(body);
  if (obj.ok()) {
    absl::StatusOr<std::string> m = StringField(*obj, "message", "error");
    if (m.ok() && !m->empty()) return *m;
  }
  return body.substr(0, 200);
}

}  // namespace

absl::StatusOr<std::string> DockerSocketFilePath(absl::string_view value) {
  constexpr absl::string_view kUnixScheme = "unix://";
  absl::string_view path = value;
  if (absl::StartsWith(value, kUnixScheme)) {
    path = value.substr(kUnixScheme.size());
  } else if (size_t sep = value.find("://"); sep != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheme \"", value.substr(0, sep),
                     "://\" is not supported (use a unix:// URL or an absolute path)"));
  }
  if (path.empty()) return absl::InvalidArgumentError("must not be empty");
  if (path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", value, "\" is neither a unix:// URL with an absolute path nor an absolute path"));
  }
  return std::string(path);
}

DockerAttestorConfig ParseDockerAttestorConfig(ConfigSection& data) {
  DockerAttestorConfig c;
  c.docker_socket_path = data.String("docker_socket_path", c.docker_socket_path);
  c.docker_version = data.String("docker_version", "");
  if (absl::StatusOr<std::string> p = DockerSocketFilePath(c.docker_socket_path); !p.ok()) {
    data.Error("docker_socket_path", p.status().message());
  }
  if (!c.docker_version.empty() && !ValidApiVersion(c.docker_version)) {
    data.Error("docker_version", "must look like \"1.41\"");
  }
  if (data.Has("container_id_cgroup_matchers")) {
    data.MarkKnown("container_id_cgroup_matchers");
    data.Error("container_id_cgroup_matchers",
               "is not supported by Signet (container ids are found without patterns)");
  }
  c.verbose_container_locator_logs = ReadSpireLocatorKeys(data, "docker");
  data.Finish();
  return c;
}

absl::StatusOr<std::unique_ptr<DockerAttestor>> DockerAttestor::Create(
    DockerAttestorConfig config, std::unique_ptr<ContainerLocator> locator) {
  absl::StatusOr<std::string> socket_file = DockerSocketFilePath(config.docker_socket_path);
  if (!socket_file.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("docker_socket_path: ", socket_file.status().message()));
  }
  if (!config.docker_version.empty() && !ValidApiVersion(config.docker_version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid docker_version \"", config.docker_version, "\""));
  }
  if (!locator) locator = NewProcContainerLocator();
  return std::unique_ptr<DockerAttestor>(
      new DockerAttestor(std::move(config), *std::move(socket_file), std::move(locator)));
}

absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewDockerAttestor(
    const DockerAttestorConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<DockerAttestor> a, DockerAttestor::Create(config));
  return std::unique_ptr<WorkloadAttestor>(std::move(a));
}

absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewDockerAttestorFromConfig(ConfigSection& data) {
  return NewDockerAttestor(ParseDockerAttestorConfig(data));
}

absl::StatusOr<std::vector<Selector>> DockerAttestor::Attest(const WorkloadProcess& process,
                                                             absl::Time deadline) {
  const pid_t pid = process.pid;
  ASSIGN_OR_RETURN(ContainerInfo info, locator_->Locate(pid));
  if (config_.verbose_container_locator_logs) {
    LogInfo("docker: located the caller's container", {{"pid", absl::StrCat(pid)},
                                                       {"container_id", info.container_id},
                                                       {"pod_uid", info.pod_uid}});
  }
  if (info.container_id.empty()) return std::vector<Selector>{};  // not in a container

  HttpRequest req;
  req.unix_socket_path = socket_file_;
  req.url = absl::StrCat("http://localhost", config_.docker_version.empty() ? "" : "/v",
                         config_.docker_version, "/containers/", info.container_id, "/json");
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(
        absl::StrCat("docker: deadline passed before inspecting container ", info.container_id));
  }
  req.timeout = std::min(config_.request_timeout, left);
  req.max_response_bytes = config_.max_response_bytes;
  absl::StatusOr<HttpResponse> resp = HttpDo(req);
  if (!resp.ok()) {
    return absl::Status(resp.status().code(),
                        absl::StrCat("docker: inspecting container ", info.container_id, " via ",
                                     config_.docker_socket_path, ": ", resp.status().message()));
  }
  if (resp->status == 404) {
    return absl::NotFoundError(absl::StrCat("docker: container ", info.container_id,
                                            " not found: ", DockerMessage(resp->body)));
  }
  if (resp->status != 200) {
    return absl::InternalError(absl::StrCat("docker: inspecting container ", info.container_id,
                                            ": HTTP ", resp->status, ": ",
                                            DockerMessage(resp->body)));
  }
  absl::StatusOr<std::vector<Selector>> out =
      DockerSelectorsFromInspect(resp->body, info.container_id);
  if (!out.ok()) {
    return absl::Status(out.status().code(), absl::StrCat("docker: container ", info.container_id,
                                                          ": ", out.status().message()));
  }
  return out;
}

absl::StatusOr<std::vector<Selector>> DockerSelectorsFromInspect(absl::string_view body,
                                                                 absl::string_view container_id) {
  ASSIGN_OR_RETURN(google::protobuf::Struct root, ParseJsonObject(body));
  ASSIGN_OR_RETURN(std::string id, StringField(root, "Id", "container"));
  // dockerd answers a prefix lookup with the full id; anything else is a
  // response about another container.
  if (id.empty() || !absl::StartsWith(id, container_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("inspect response is for container \"", id, "\", not the one asked for"));
  }
  ASSIGN_OR_RETURN(const google::protobuf::Struct* config,
                   StructField(root, "Config", "container"));
  if (config == nullptr) {
    return absl::InvalidArgumentError("inspect response has no Config");
  }
  // A caller can only be in a running container's cgroup; one that claims a
  // stopped container's (a leftover or re-created cgroup) gets nothing from
  // it.
  ASSIGN_OR_RETURN(const google::protobuf::Struct* state, StructField(root, "State", "container"));
  if (state == nullptr) return absl::InvalidArgumentError("inspect response has no State");
  auto running = state->fields().find("Running");
  if (running == state->fields().end() || !running->second.has_bool_value()) {
    return absl::InvalidArgumentError("inspect response has no boolean State.Running");
  }
  if (!running->second.bool_value()) {
    return absl::FailedPreconditionError("container is not running");
  }
  std::vector<Selector> out;
  ASSIGN_OR_RETURN(const google::protobuf::Struct* labels,
                   StructField(*config, "Labels", "Config"));
  if (labels != nullptr) {
    for (const auto& [k, v] : labels->fields()) {
      if (!v.has_string_value()) {
        return absl::InvalidArgumentError(absl::StrCat("Config.Labels.", k, " is not a string"));
      }
      out.push_back(Selector{"docker", absl::StrCat("label:", k, ":", v.string_value())});
    }
  }
  ASSIGN_OR_RETURN(const google::protobuf::ListValue* env, ListField(*config, "Env", "Config"));
  if (env != nullptr) {
    for (const google::protobuf::Value& e : env->values()) {
      if (!e.has_string_value()) {
        return absl::InvalidArgumentError("Config.Env has a non-string element");
      }
      out.push_back(Selector{"docker", absl::StrCat("env:", e.string_value())});
    }
  }
  ASSIGN_OR_RETURN(std::string image, StringField(*config, "Image", "Config"));
  if (!image.empty()) out.push_back(Selector{"docker", absl::StrCat("image_id:", image)});
  return out;
}

}  // namespace signet::attestors
