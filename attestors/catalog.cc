#include "attestors/catalog.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "attestors/docker/docker_attestor.h"
#include "attestors/k8s/k8s_attestor.h"
#include "attestors/process_info.h"
#include "attestors/unix/unix_attestor.h"
#include "common/log.h"

namespace signet::attestors {

bool SelectorsMatch(const std::vector<Selector>& entry, const std::vector<Selector>& workload) {
  if (entry.empty()) return false;
  std::set<Selector> have(workload.begin(), workload.end());
  for (const Selector& s : entry) {
    if (have.count(s) == 0) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<AttestorCatalog>> AttestorCatalog::Create(
    std::vector<std::unique_ptr<WorkloadAttestor>> attestors) {
  if (attestors.empty()) {
    return absl::InvalidArgumentError("at least one WorkloadAttestor must be configured");
  }
  return std::unique_ptr<AttestorCatalog>(new AttestorCatalog(std::move(attestors)));
}

absl::StatusOr<std::unique_ptr<AttestorCatalog>> AttestorCatalog::FromConfig(
    ConfigSection section) {
  std::vector<std::unique_ptr<WorkloadAttestor>> attestors;
  bool bad = false;
  for (const std::string& name : section.Keys()) {
    ConfigSection plugin = section.Section(name);
    const bool nested = plugin.Has("plugin_data");
    ConfigSection data = nested ? plugin.Section("plugin_data") : plugin;
    absl::StatusOr<std::unique_ptr<WorkloadAttestor>> built;
    if (name == "unix") {
      UnixAttestorConfig c;
      c.discover_workload_path = data.Bool("discover_workload_path", false);
      c.workload_size_limit = data.Int("workload_size_limit", 0);
      data.Finish();
      built = std::unique_ptr<WorkloadAttestor>(
          std::make_unique<UnixAttestor>(c, NewLinuxProcessInfo()));
    } else if (name == "docker") {
      built = NewDockerAttestor(ParseDockerAttestorConfig(data));
    } else if (name == "k8s") {
      built = NewK8sAttestor(ParseK8sAttestorConfig(data));
    } else {
      section.Error(name, absl::StrCat("unknown WorkloadAttestor plugin (supported: ",
                                       kSupportedWorkloadAttestors, ")"));
      bad = true;
      continue;
    }
    if (nested) plugin.Finish();
    if (!built.ok()) {
      section.Error(name, built.status().message());
      bad = true;
      continue;
    }
    attestors.push_back(std::move(built).value());
  }
  if (attestors.empty() && !bad) {
    section.Error("", "at least one WorkloadAttestor must be configured");
    bad = true;
  }
  if (bad) return absl::InvalidArgumentError("invalid WorkloadAttestor configuration");
  return Create(std::move(attestors));
}

absl::StatusOr<std::vector<Selector>> AttestorCatalog::Attest(pid_t pid) const {
  std::set<Selector> all;
  absl::Status first_error;
  size_t failed = 0;
  for (const auto& a : attestors_) {
    absl::StatusOr<std::vector<Selector>> s = a->Attest(pid);
    if (!s.ok()) {
      LogWarn(
          "workload attestor failed",
          {{"attestor", a->name()}, {"pid", absl::StrCat(pid)}, {"error", s.status().ToString()}});
      if (first_error.ok()) first_error = s.status();
      ++failed;
      continue;
    }
    all.insert(s->begin(), s->end());
  }
  if (failed == attestors_.size()) return first_error;
  return std::vector<Selector>(all.begin(), all.end());
}

}  // namespace signet::attestors
