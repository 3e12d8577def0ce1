// The command-line flag parser of signet-server and signet-agent, in the
// style of Go's flag package as spire-server and spire-agent use it:
// "-name value", "-name=value", "--name value", "--name=value"; boolean flags
// take no value ("-admin", or "-admin=true" / "=false" / "=1" / "=0"); "--"
// ends the flags.
#ifndef SIGNET_COMMON_FLAGS_H_
#define SIGNET_COMMON_FLAGS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace signet {

// FlagSet is one command's flags. Thread-compatible.
class FlagSet {
 public:
  enum class Kind { kString, kBool, kInt, kList };
  // `program` names the binary ("signet-server"), `usage` is the command's
  // one-line usage ("entry create [flags]").
  FlagSet(std::string program, std::string usage, std::string description)
      : program_(std::move(program)),
        usage_(std::move(usage)),
        description_(std::move(description)) {}

  void String(const std::string& name, const std::string& def, const std::string& help);
  void Bool(const std::string& name, const std::string& help);
  void Int(const std::string& name, int64_t def, const std::string& help);
  void List(const std::string& name, const std::string& help);

  // Parse parses `args`. Returns InvalidArgument naming the flag for an
  // unknown flag, a missing value or a bad number; "help requested" as
  // Cancelled for -h/-help/--help.
  [[nodiscard]] absl::Status Parse(const std::vector<std::string>& args);

  std::string GetString(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  std::vector<std::string> GetList(const std::string& name) const;
  bool IsSet(const std::string& name) const { return set_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

  // Usage returns the help text documenting every flag.
  std::string Usage() const;

 private:
  struct Flag {
    Kind kind;
    std::string def;
    std::string help;
  };
  std::string program_;
  std::string usage_;
  std::string description_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<std::string>> values_;
  std::map<std::string, bool> set_;
  std::vector<std::string> positional_;
};

}  // namespace signet

#endif  // SIGNET_COMMON_FLAGS_H_
