#include "attestors/catalog.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace signet::attestors {

absl::StatusOr<std::unique_ptr<AttestorCatalog>> AttestorCatalog::Create(
    std::vector<std::unique_ptr<WorkloadAttestor>> attestors) {
  if (attestors.empty()) {
    return absl::InvalidArgumentError("at least one WorkloadAttestor must be configured");
  }
  return std::unique_ptr<AttestorCatalog>(new AttestorCatalog(std::move(attestors)));
}

absl::StatusOr<std::unique_ptr<AttestorCatalog>> AttestorCatalog::FromConfig(
    ConfigSection section, const WorkloadAttestorRegistry& registry) {
  std::vector<std::unique_ptr<WorkloadAttestor>> attestors;
  bool bad = false;
  for (const std::string& name : section.Keys()) {
    ConfigSection plugin = section.Section(name);
    const bool nested = plugin.Has("plugin_data");
    ConfigSection data = nested ? plugin.Section("plugin_data") : plugin;
    WorkloadAttestorFactory factory = registry.Find(name);
    if (!factory) {
      section.Error(name, absl::StrCat("unknown WorkloadAttestor plugin (supported: ",
                                       absl::StrJoin(registry.Names(), ", "), ")"));
      bad = true;
      continue;
    }
    absl::StatusOr<std::unique_ptr<WorkloadAttestor>> built = factory(data);
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

absl::StatusOr<std::unique_ptr<AttestorCatalog>> AttestorCatalog::FromPlugins(
    const YAML::Node& plugins, const std::string& file, const WorkloadAttestorRegistry& registry) {
  ConfigErrors errors(file);
  absl::StatusOr<std::unique_ptr<AttestorCatalog>> catalog =
      FromConfig(ConfigSection(plugins, "plugins.WorkloadAttestor", &errors), registry);
  RETURN_IF_ERROR(errors.ToStatus());
  return catalog;
}

absl::StatusOr<std::vector<Selector>> AttestorCatalog::Attest(const WorkloadProcess& process,
                                                              absl::Time deadline) {
  std::set<Selector> all;
  absl::Status first_error;
  size_t failed = 0;
  for (const auto& a : attestors_) {
    absl::StatusOr<std::vector<Selector>> s = a->Attest(process, deadline);
    if (!s.ok()) {
      LogWarn("workload attestor failed", {{"attestor", a->name()},
                                           {"pid", absl::StrCat(process.pid)},
                                           {"error", s.status().ToString()}});
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
