#include "common/flags.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace signet {

void FlagSet::String(const std::string& name, const std::string& def, const std::string& help) {
  flags_[name] = {Kind::kString, def, help};
  order_.push_back(name);
}
void FlagSet::Bool(const std::string& name, const std::string& help) {
  flags_[name] = {Kind::kBool, "false", help};
  order_.push_back(name);
}
void FlagSet::Int(const std::string& name, int64_t def, const std::string& help) {
  flags_[name] = {Kind::kInt, absl::StrCat(def), help};
  order_.push_back(name);
}
void FlagSet::List(const std::string& name, const std::string& help) {
  flags_[name] = {Kind::kList, "", help};
  order_.push_back(name);
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional_.insert(positional_.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "h" || name == "help") return absl::CancelledError("help requested");
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("flag provided but not defined: -", name));
    }
    const Flag& f = it->second;
    if (f.kind == Kind::kBool) {
      if (!has_value) value = "true";
      if (value != "true" && value != "false" && value != "1" && value != "0") {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid boolean value \"", value, "\" for flag -", name));
      }
      value = (value == "true" || value == "1") ? "true" : "false";
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: -", name));
      }
      value = args[++i];
    }
    if (f.kind == Kind::kInt) {
      int64_t v;
      if (!absl::SimpleAtoi(value, &v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid value \"", value, "\" for flag -", name, ": not an integer"));
      }
    }
    if (f.kind == Kind::kList) {
      values_[name].push_back(value);
    } else {
      values_[name] = {value};
    }
    set_[name] = true;
  }
  return absl::OkStatus();
}

std::string FlagSet::GetString(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) return it->second.back();
  auto f = flags_.find(name);
  return f == flags_.end() ? "" : f->second.def;
}
bool FlagSet::GetBool(const std::string& name) const { return GetString(name) == "true"; }
int64_t FlagSet::GetInt(const std::string& name) const {
  int64_t v = 0;
  (void)absl::SimpleAtoi(GetString(name), &v);
  return v;
}
std::vector<std::string> FlagSet::GetList(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("Usage: ", program_, " ", usage_, "\n\n", description_, "\n");
  if (!order_.empty()) out += "\nFlags (-flag and --flag are equivalent):\n";
  for (const std::string& n : order_) {
    const Flag& f = flags_.at(n);
    std::string kind = f.kind == Kind::kBool   ? ""
                       : f.kind == Kind::kInt  ? " int"
                       : f.kind == Kind::kList ? " value (repeatable)"
                                               : " string";
    absl::StrAppend(&out, "  -", n, kind, "\n    \t", f.help);
    if (f.kind == Kind::kString && !f.def.empty())
      absl::StrAppend(&out, " (default \"", f.def, "\")");
    if (f.kind == Kind::kInt && f.def != "0") absl::StrAppend(&out, " (default ", f.def, ")");
    out += "\n";
  }
  return out;
}

}  // namespace signet
