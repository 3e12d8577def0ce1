#include "common/config.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file.h"

namespace signet {
namespace {

// IsDigits reports whether `s` is a non-empty run of ASCII digits.
bool IsDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Present reports whether `n` holds a value (defined and not null).
bool Present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError("invalid duration \"\": empty");
  absl::string_view digits = s;
  bool negative = false;
  if (digits[0] == '-' || digits[0] == '+') {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (IsDigits(digits)) {
    int64_t secs = 0;
    if (!absl::SimpleAtoi(digits, &secs)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid duration \"", s, "\": out of range"));
    }
    if (negative && secs != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid duration \"", s, "\": must not be negative"));
    }
    return absl::Seconds(secs);
  }
  absl::Duration d;
  if (!absl::ParseDuration(s, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid duration \"", s, "\": expected e.g. \"1h\", \"5m\", \"30s\" or seconds"));
  }
  if (d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration \"", s, "\": must not be negative"));
  }
  if (d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid duration \"", s, "\": must be finite"));
  }
  return d;
}

void ConfigErrors::Add(const YAML::Mark& mark, absl::string_view key, absl::string_view problem) {
  if (mark.is_null() || mark.line < 0) {
    errors_.push_back(absl::StrCat(file_, ": ", key, ": ", problem));
  } else {
    errors_.push_back(absl::StrCat(file_, ":", mark.line + 1, ": ", key, ": ", problem));
  }
}

void ConfigErrors::AddGeneral(absl::string_view problem) {
  errors_.push_back(absl::StrCat(file_, ": ", problem));
}

absl::Status ConfigErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
}

ConfigSection::ConfigSection(YAML::Node node, std::string path, ConfigErrors* errors)
    : node_(std::move(node)), path_(std::move(path)), errors_(errors) {
  if (Present(node_) && !node_.IsMap()) {
    errors_->Add(node_.Mark(), path_.empty() ? "(top level)" : path_, "expected a mapping");
    node_ = YAML::Node();
  }
}

namespace {

// FindEntry looks up `key` in mapping `map` without inserting (yaml-cpp's
// operator[] may throw or create zombie nodes). Sets *key_node / *value and
// returns true when found.
bool FindEntry(const YAML::Node& map, const std::string& key, YAML::Node* key_node,
               YAML::Node* value) {
  if (!map.IsDefined() || !map.IsMap()) return false;
  try {
    for (YAML::const_iterator it = map.begin(); it != map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        *key_node = it->first;
        *value = it->second;
        return true;
      }
    }
  } catch (const YAML::Exception&) {
    return false;
  }
  return false;
}

}  // namespace

bool ConfigSection::Has(const std::string& key) const {
  YAML::Node k, v;
  return FindEntry(node_, key, &k, &v) && Present(v);
}

bool ConfigSection::IsList(const std::string& key) const {
  YAML::Node k, v;
  return FindEntry(node_, key, &k, &v) && v.IsSequence();
}

std::string ConfigSection::KeyPath(const std::string& key) const {
  return path_.empty() ? key : absl::StrCat(path_, ".", key);
}

void ConfigSection::Error(const std::string& key, absl::string_view problem) {
  YAML::Node k, v;
  if (FindEntry(node_, key, &k, &v)) {
    errors_->Add(k.Mark(), KeyPath(key), problem);
  } else {
    errors_->Add(node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark(), KeyPath(key), problem);
  }
}

std::string ConfigSection::String(const std::string& key, const std::string& def) {
  known_.insert(key);
  YAML::Node k, v;
  if (!FindEntry(node_, key, &k, &v) || !Present(v)) return def;
  if (!v.IsScalar()) {
    errors_->Add(k.Mark(), KeyPath(key), "expected a string");
    return def;
  }
  return v.Scalar();
}

int64_t ConfigSection::Int(const std::string& key, int64_t def, int64_t min, int64_t max) {
  known_.insert(key);
  YAML::Node k, v;
  if (!FindEntry(node_, key, &k, &v) || !Present(v)) return def;
  if (!v.IsScalar()) {
    errors_->Add(k.Mark(), KeyPath(key), "expected an integer");
    return def;
  }
  int64_t out = 0;
  if (!absl::SimpleAtoi(v.Scalar(), &out)) {
    errors_->Add(k.Mark(), KeyPath(key),
                 absl::StrCat("expected an integer, got \"", v.Scalar(), "\""));
    return def;
  }
  if (out < min || out > max) {
    errors_->Add(k.Mark(), KeyPath(key),
                 absl::StrCat("value ", out, " is out of range [", min, ", ", max, "]"));
    return def;
  }
  return out;
}

bool ConfigSection::Bool(const std::string& key, bool def) {
  known_.insert(key);
  YAML::Node k, v;
  if (!FindEntry(node_, key, &k, &v) || !Present(v)) return def;
  if (v.IsScalar()) {
    const std::string s = absl::AsciiStrToLower(v.Scalar());
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    errors_->Add(k.Mark(), KeyPath(key),
                 absl::StrCat("expected true or false, got \"", v.Scalar(), "\""));
    return def;
  }
  errors_->Add(k.Mark(), KeyPath(key), "expected true or false");
  return def;
}

absl::Duration ConfigSection::Duration(const std::string& key, absl::Duration def) {
  known_.insert(key);
  YAML::Node k, v;
  if (!FindEntry(node_, key, &k, &v) || !Present(v)) return def;
  if (!v.IsScalar()) {
    errors_->Add(k.Mark(), KeyPath(key), "expected a duration");
    return def;
  }
  absl::StatusOr<absl::Duration> d = ParseDuration(v.Scalar());
  if (!d.ok()) {
    errors_->Add(k.Mark(), KeyPath(key), d.status().message());
    return def;
  }
  return *d;
}

std::vector<std::string> ConfigSection::StringList(const std::string& key) {
  known_.insert(key);
  std::vector<std::string> out;
  YAML::Node k, v;
  if (!FindEntry(node_, key, &k, &v) || !Present(v)) return out;
  if (!v.IsSequence()) {
    errors_->Add(k.Mark(), KeyPath(key), "expected a list of strings");
    return out;
  }
  size_t i = 0;
  for (YAML::const_iterator it = v.begin(); it != v.end(); ++it, ++i) {
    const YAML::Node item = *it;
    if (!item.IsScalar()) {
      errors_->Add(item.Mark().is_null() ? k.Mark() : item.Mark(),
                   absl::StrCat(KeyPath(key), "[", i, "]"), "expected a string");
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

ConfigSection ConfigSection::Section(const std::string& key) {
  known_.insert(key);
  YAML::Node k, v;
  if (!FindEntry(node_, key, &k, &v) || !Present(v)) {
    return ConfigSection(YAML::Node(), KeyPath(key), errors_);
  }
  if (!v.IsMap()) {
    errors_->Add(k.Mark(), KeyPath(key), "expected a mapping");
    return ConfigSection(YAML::Node(), KeyPath(key), errors_);
  }
  return ConfigSection(v, KeyPath(key), errors_);
}

std::vector<std::string> ConfigSection::Keys() const {
  std::vector<std::string> out;
  if (!node_.IsDefined() || !node_.IsMap()) return out;
  for (YAML::const_iterator it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar()) out.push_back(it->first.Scalar());
  }
  return out;
}

void ConfigSection::Finish() {
  if (!node_.IsDefined() || !node_.IsMap()) return;
  std::set<std::string> seen;
  for (YAML::const_iterator it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      errors_->Add(it->first.Mark(), path_.empty() ? "(top level)" : path_, "keys must be strings");
      continue;
    }
    const std::string& key = it->first.Scalar();
    if (!seen.insert(key).second) {
      errors_->Add(it->first.Mark(), KeyPath(key), "duplicate key");
      continue;
    }
    if (known_.count(key) == 0) errors_->Add(it->first.Mark(), KeyPath(key), "unknown key");
  }
}

absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileBounded(path, kMaxSmallFileBytes);
  if (!content.ok()) return content.status();
  try {
    return YAML::Load(*content);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  } catch (const YAML::Exception& e) {
    if (!e.mark.is_null()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
    }
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
}

}  // namespace signet
