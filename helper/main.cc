// signet-helper: writes SVIDs to files for programs that cannot speak the
// Workload API. Flags as spiffe-helper's: -config FILE, -daemon-mode BOOL.
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/log.h"
#include "helper/helper.h"

namespace {

signet::helper::Helper* g_helper = nullptr;

void OnTerminate(int) {
  if (g_helper != nullptr) g_helper->Stop();
}

int Usage() {
  std::fprintf(stderr,
               "usage: signet-helper [-config FILE] [-daemon-mode true|false]\n"
               "  -config       configuration file (default helper.conf)\n"
               "  -daemon-mode  keep running and renew (default: config's daemon_mode)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "helper.conf";
  std::string daemon_flag;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--")) a = a.substr(1);
    std::string value;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (a == "-config" || a == "-daemon-mode") {
      if (eq == std::string::npos) {
        if (i + 1 >= argc) return Usage();
        value = argv[++i];
      }
      (a == "-config" ? config_path : daemon_flag) = value;
    } else if (a == "-h" || a == "-help") {
      Usage();
      return 0;
    } else {
      return Usage();
    }
  }
  absl::StatusOr<signet::helper::HelperConfig> config =
      signet::helper::LoadHelperConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "signet-helper: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (!daemon_flag.empty()) {
    std::string d = absl::AsciiStrToLower(daemon_flag);
    if (d != "true" && d != "false") return Usage();
    config->daemon_mode = d == "true";
  }
  signal(SIGPIPE, SIG_IGN);
  signet::client::WorkloadApiOptions options;
  signet::helper::Helper helper(*std::move(config), options);
  g_helper = &helper;
  struct sigaction sa = {};
  sa.sa_handler = OnTerminate;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  absl::Status s = helper.Run();
  g_helper = nullptr;
  if (!s.ok()) {
    signet::LogError("signet-helper failed", {{"error", s.ToString()}});
    return 1;
  }
  return 0;
}
