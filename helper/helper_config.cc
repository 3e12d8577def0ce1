#include "helper/helper_config.h"

#include <signal.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace signet::helper {
namespace {

// ParseMode reads an octal file mode ("0644", "644", "0o600").
bool ParseMode(std::string s, mode_t* out) {
  if (absl::StartsWith(s, "0o")) s = s.substr(2);
  if (s.empty() || s.size() > 4) return false;
  mode_t m = 0;
  for (char c : s) {
    if (c < '0' || c > '7') return false;
    m = m * 8 + static_cast<mode_t>(c - '0');
  }
  *out = m;
  return true;
}

void ReadMode(ConfigSection& sec, const std::string& key, mode_t* out) {
  std::string v = sec.String(key);
  if (v.empty()) return;
  if (!ParseMode(v, out)) sec.Error(key, absl::StrCat("invalid file mode \"", v, "\" (octal)"));
}

}  // namespace

absl::StatusOr<int> SignalFromName(absl::string_view name) {
  std::string n = absl::AsciiStrToUpper(name);
  if (absl::StartsWith(n, "SIG")) n = n.substr(3);
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},   {"USR1", SIGUSR1},   {"USR2", SIGUSR2},
      {"INT", SIGINT},   {"TERM", SIGTERM},   {"QUIT", SIGQUIT},
      {"KILL", SIGKILL}, {"WINCH", SIGWINCH}, {"ALRM", SIGALRM}};
  for (const auto& [sname, num] : kSignals) {
    if (n == sname) return num;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown signal \"", name, "\""));
}

absl::StatusOr<std::vector<std::string>> SplitArgs(absl::string_view args) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    char c = args[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < args.size()) {
        cur += args[++i];
      } else {
        cur += c;
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < args.size()) {
      cur += args[++i];
      in_word = true;
    } else if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote != 0) return absl::InvalidArgumentError("cmd_args: unterminated quote");
  if (in_word) out.push_back(std::move(cur));
  return out;
}

std::string WorkloadAddress(const std::string& agent_address) {
  if (agent_address.empty() || absl::StrContains(agent_address, "://") ||
      absl::StartsWith(agent_address, "unix:") || absl::StartsWith(agent_address, "tcp:")) {
    return agent_address;
  }
  return "unix://" + agent_address;
}

absl::StatusOr<HelperConfig> ParseHelperConfig(absl::string_view yaml, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ":", e.mark.line + 1, ": ", e.msg));
  }
  ConfigErrors errors(file);
  if (!root.IsMap()) {
    errors.AddGeneral("configuration must be a mapping");
    return errors.ToStatus();
  }
  ConfigSection sec(root, "", &errors);
  HelperConfig c;
  c.agent_address = sec.String("agent_address");
  c.cert_dir = sec.String("cert_dir");
  if (c.cert_dir.empty()) sec.Error("cert_dir", "cert_dir is required");
  c.svid_file_name = sec.String("svid_file_name", c.svid_file_name);
  c.svid_key_file_name = sec.String("svid_key_file_name", c.svid_key_file_name);
  c.svid_bundle_file_name = sec.String("svid_bundle_file_name", c.svid_bundle_file_name);
  c.cmd = sec.String("cmd");
  c.cmd_args = sec.String("cmd_args");
  c.renew_signal = sec.String("renew_signal");
  c.pid_file_name = sec.String("pid_file_name");
  c.daemon_mode = sec.Bool("daemon_mode", c.daemon_mode);
  c.add_intermediates_to_bundle =
      sec.Bool("add_intermediates_to_bundle", c.add_intermediates_to_bundle);
  ReadMode(sec, "cert_file_mode", &c.cert_file_mode);
  ReadMode(sec, "key_file_mode", &c.key_file_mode);
  ReadMode(sec, "jwt_svid_file_mode", &c.jwt_svid_file_mode);
  if (!c.renew_signal.empty() && !SignalFromName(c.renew_signal).ok()) {
    sec.Error("renew_signal", absl::StrCat("unknown signal \"", c.renew_signal, "\""));
  }
  if (!SplitArgs(c.cmd_args).ok()) sec.Error("cmd_args", "unterminated quote");
  if (!c.pid_file_name.empty() && c.renew_signal.empty()) {
    sec.Error("pid_file_name", "pid_file_name needs renew_signal");
  }
  for (const std::string* name :
       {&c.svid_file_name, &c.svid_key_file_name, &c.svid_bundle_file_name}) {
    if (name->empty() || absl::StrContains(*name, "/")) {
      errors.AddGeneral(absl::StrCat("file name \"", *name, "\" must be a plain file name"));
    }
  }
  sec.MarkKnown("jwt_svids");
  YAML::Node jwts = root["jwt_svids"];
  if (jwts.IsDefined() && !jwts.IsNull()) {
    if (!jwts.IsSequence()) {
      sec.Error("jwt_svids", "expected a list");
    } else {
      for (size_t i = 0; i < jwts.size(); ++i) {
        ConfigSection item(jwts[i], absl::StrCat("jwt_svids[", i, "]"), &errors);
        JwtSvidFile f{item.String("jwt_audience"), item.String("jwt_svid_file_name")};
        if (f.audience.empty()) item.Error("jwt_audience", "jwt_audience is required");
        if (f.file_name.empty() || absl::StrContains(f.file_name, "/")) {
          item.Error("jwt_svid_file_name", "jwt_svid_file_name must be a plain file name");
        }
        item.Finish();
        c.jwt_svids.push_back(std::move(f));
      }
    }
  }
  sec.Finish();
  RETURN_IF_ERROR(errors.ToStatus());
  return c;
}

absl::StatusOr<HelperConfig> LoadHelperConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(path, kMaxSmallFileBytes));
  return ParseHelperConfig(text, path);
}

}  // namespace signet::helper
