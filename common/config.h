// YAML configuration reading with errors that name the file, key and line.
// Parsing collects every problem so `validate` can report them all.
#ifndef SIGNET_COMMON_CONFIG_H_
#define SIGNET_COMMON_CONFIG_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace signet {

// ParseDuration accepts "1h", "5m", "30s", "1h30m", "250ms" and a bare integer
// number of seconds. InvalidArgument otherwise (and for negative values).
[[nodiscard]] absl::StatusOr<absl::Duration> ParseDuration(absl::string_view s);

// ConfigErrors accumulates "<file>:<line>: <key>: <problem>" messages.
class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}
  void Add(const YAML::Mark& mark, absl::string_view key, absl::string_view problem);
  void AddGeneral(absl::string_view problem);
  bool empty() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& file() const { return file_; }
  // ToStatus returns OK when empty, else InvalidArgument with every error,
  // one per line.
  absl::Status ToStatus() const;

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

// ConfigSection reads typed values from one YAML mapping. Every getter records
// the key as known; Finish() reports keys that were never asked for as
// "unknown key". Missing keys yield the default. Wrong types are recorded in
// the shared ConfigErrors and yield the default.
class ConfigSection {
 public:
  // `path` is the dotted key prefix ("server", "plugins.DataStore.sql").
  ConfigSection(YAML::Node node, std::string path, ConfigErrors* errors);

  bool present() const { return node_.IsDefined() && !node_.IsNull(); }
  bool Has(const std::string& key) const;
  // IsList reports whether `key` is present with a YAML sequence value.
  bool IsList(const std::string& key) const;
  std::string String(const std::string& key, const std::string& def = "");
  int64_t Int(const std::string& key, int64_t def, int64_t min = INT64_MIN,
              int64_t max = INT64_MAX);
  bool Bool(const std::string& key, bool def);
  absl::Duration Duration(const std::string& key, absl::Duration def);
  std::vector<std::string> StringList(const std::string& key);
  // Section returns the child mapping `key` (not present when missing).
  ConfigSection Section(const std::string& key);
  // Keys returns every key of this mapping, in file order.
  std::vector<std::string> Keys() const;
  // MarkKnown records `key` as consumed without reading it.
  void MarkKnown(const std::string& key) { known_.insert(key); }
  // Error records a problem with `key` at its line (or at this section).
  void Error(const std::string& key, absl::string_view problem);
  // Finish reports every key that no getter asked for.
  void Finish();
  std::string KeyPath(const std::string& key) const;

 private:
  YAML::Node node_;
  std::string path_;
  ConfigErrors* errors_;
  std::set<std::string> known_;
};

// LoadYamlFile reads and parses `path`. InvalidArgument with "<file>:<line>:
// <problem>" on a YAML syntax error, NotFound when it cannot be read.
[[nodiscard]] absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path);

}  // namespace signet

#endif  // SIGNET_COMMON_CONFIG_H_
