// signet-helper configuration (YAML; option names follow spiffe-helper's).
#ifndef SIGNET_HELPER_HELPER_CONFIG_H_
#define SIGNET_HELPER_HELPER_CONFIG_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet::helper {

struct JwtSvidFile {
  std::string audience;   // jwt_audience
  std::string file_name;  // jwt_svid_file_name
};

struct HelperConfig {
  std::string agent_address;  // socket path or workload endpoint URI; empty -> env
  std::string cert_dir;       // required
  std::string svid_file_name = "svid.pem";
  std::string svid_key_file_name = "svid_key.pem";
  std::string svid_bundle_file_name = "svid_bundle.pem";
  std::vector<JwtSvidFile> jwt_svids;
  std::string cmd;
  std::string cmd_args;
  std::string renew_signal;  // e.g. "SIGHUP"; empty: no signal
  std::string pid_file_name;
  bool daemon_mode = true;
  bool add_intermediates_to_bundle = false;
  mode_t cert_file_mode = 0644;
  mode_t key_file_mode = 0600;
  mode_t jwt_svid_file_mode = 0600;
};

// ParseHelperConfig parses YAML text (`file` names it in errors). Returns
// InvalidArgument listing every problem: unknown keys, a missing cert_dir,
// bad modes, unknown signal names, jwt_svids entries without audience or file.
[[nodiscard]] absl::StatusOr<HelperConfig> ParseHelperConfig(absl::string_view yaml,
                                                             const std::string& file);
// LoadHelperConfig reads and parses `path` (NotFound when unreadable).
[[nodiscard]] absl::StatusOr<HelperConfig> LoadHelperConfig(const std::string& path);

// SignalFromName maps "SIGHUP"/"HUP" (and USR1, USR2, INT, TERM, QUIT, KILL,
// WINCH, ALRM) to the signal number. InvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<int> SignalFromName(absl::string_view name);

// SplitArgs splits cmd_args like a shell: blanks separate words, single and
// double quotes group, backslash escapes. InvalidArgument on an open quote.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> SplitArgs(absl::string_view args);

// WorkloadAddress turns agent_address into a workload endpoint URI: a bare
// path becomes "unix://<path>" (spiffe-helper takes a socket path).
std::string WorkloadAddress(const std::string& agent_address);

}  // namespace signet::helper

#endif  // SIGNET_HELPER_HELPER_CONFIG_H_
