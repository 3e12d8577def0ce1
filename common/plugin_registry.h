// PluginRegistry: the table of one plugin kind's implementations by name
// (SPIRE's BuiltIns()). Server and agent each keep one per kind; a built-in
// is one line in its kind's builtins.cc.
#ifndef SIGNET_COMMON_PLUGIN_REGISTRY_H_
#define SIGNET_COMMON_PLUGIN_REGISTRY_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace signet {

// PluginRegistry maps names to `Plugin`s, a struct with a `std::string name`
// member (the rest is the kind's business: functions that read settings and
// build an instance). Thread-safe; a registered plugin stays, at the same
// address, for the life of the registry.
template <typename Plugin>
class PluginRegistry {
 public:
  // `kind` names the plugin kind in messages ("node attestor").
  explicit PluginRegistry(std::string kind) : kind_(std::move(kind)) {}
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Register adds `plugin`. InvalidArgument when its name is empty,
  // AlreadyExists when the name is taken.
  [[nodiscard]] absl::Status Register(Plugin plugin) {
    if (plugin.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("a ", kind_, " needs a name"));
    }
    absl::MutexLock l(&mu_);
    for (const auto& p : plugins_) {
      if (p->name == plugin.name) {
        return absl::AlreadyExistsError(
            absl::StrCat(kind_, " \"", plugin.name, "\" is already registered"));
      }
    }
    plugins_.push_back(std::make_unique<const Plugin>(std::move(plugin)));
    return absl::OkStatus();
  }

  // Find returns the plugin called `name`, or null.
  const Plugin* Find(absl::string_view name) const {
    absl::MutexLock l(&mu_);
    for (const auto& p : plugins_) {
      if (p->name == name) return p.get();
    }
    return nullptr;
  }

  // Names returns every plugin's name in registration order.
  std::vector<std::string> Names() const {
    absl::MutexLock l(&mu_);
    std::vector<std::string> out;
    out.reserve(plugins_.size());
    for (const auto& p : plugins_) out.push_back(p->name);
    return out;
  }

  // NamesText returns Names() as "a, b, c", or with `last` before the final
  // name when not empty ("a, b or c").
  std::string NamesText(absl::string_view last = "") const {
    std::vector<std::string> names = Names();
    if (last.empty() || names.size() < 2) return absl::StrJoin(names, ", ");
    std::string final_name = std::move(names.back());
    names.pop_back();
    return absl::StrCat(absl::StrJoin(names, ", "), " ", last, " ", final_name);
  }

 private:
  const std::string kind_;
  mutable absl::Mutex mu_;
  // Guarded by mu_
  std::vector<std::unique_ptr<const Plugin>> plugins_ ABSL_GUARDED_BY(mu_);
};

// NewRegistryWithBuiltins returns a registry of `kind` holding `builtins`,
// for a kind's process-wide registry (a function-local static). Built-ins have
// distinct names; a clash is a programming error every test of that kind
// catches, so it is not reported here.
template <typename Plugin>
PluginRegistry<Plugin>* NewRegistryWithBuiltins(std::string kind, std::vector<Plugin> builtins) {
  auto* r = new PluginRegistry<Plugin>(std::move(kind));
  for (Plugin& p : builtins) (void)r->Register(std::move(p));
  return r;
}

}  // namespace signet

#endif  // SIGNET_COMMON_PLUGIN_REGISTRY_H_
