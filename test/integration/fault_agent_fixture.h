// Shared by the agent end-to-end, fault_* and hostile_* integration tests: a
// real signet-agent process (AgentProcess) and small helpers.
#ifndef SIGNET_TEST_INTEGRATION_FAULT_AGENT_FIXTURE_H_
#define SIGNET_TEST_INTEGRATION_FAULT_AGENT_FIXTURE_H_

#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"
#include "workload/workload.grpc.pb.h"

namespace signet::faulttest {

using servertest::ServerProcess;
using testutil::RunResult;

// AgentProcess runs signet-agent against `server` from its own temp dir
// (0755 so workloads under other uids reach the socket).
class AgentProcess {
 public:
  AgentProcess(const ServerProcess& server, const std::string& bundle_pem, int port = 0,
               const std::string& node_attestor = "    join_token: {}\n",
               const std::string& extra_agent_yaml = "") {
    chmod(dir_.path().c_str(), 0755);
    testutil::WriteFile(dir_.File("bundle.pem"), bundle_pem);
    socket_ = dir_.File("public/api.sock");
    std::string cfg = absl::StrCat(
        "agent:\n  data_dir: \"", dir_.File("data"), "\"\n  log_level: \"debug\"\n",
        "  server_address: \"127.0.0.1\"\n  server_port: ", port ? port : server.port(),
        "\n  socket_path: \"", socket_, "\"\n  trust_domain: \"example.org\"\n",
        "  trust_bundle_path: \"", dir_.File("bundle.pem"), "\"\n", extra_agent_yaml,
        "plugins:\n  NodeAttestor:\n", node_attestor, "  KeyManager:\n    disk: {}\n",
        "  WorkloadAttestor:\n    unix:\n      plugin_data:\n        discover_workload_path: "
        "true\n");
    testutil::WriteFile(dir_.File("agent.yaml"), cfg);
  }
  ~AgentProcess() { Stop(); }

  // Start runs the agent (with -joinToken when given) and waits until its
  // Workload API socket exists; `wait_healthy` also waits for readiness.
  bool Start(const std::string& token, bool wait_healthy = true,
             const testutil::ProcessOptions& opts = {}) {
    std::vector<std::string> argv{testutil::AgentBinary(), "run", "-config",
                                  dir_.File("agent.yaml")};
    if (!token.empty()) {
      argv.push_back("-joinToken");
      argv.push_back(token);
    }
    proc_ = std::make_unique<testutil::Subprocess>(argv, opts);
    return testutil::WaitFor([&] {
             if (!proc_->Running()) return true;
             if (access(socket_.c_str(), F_OK) != 0) return false;
             return !wait_healthy || Cli({"healthcheck"}).exit_code == 0;
           }) &&
           proc_->Running();
  }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  bool Running() const { return proc_ && proc_->Running(); }
  void Kill9() {
    if (!proc_) return;
    proc_->Signal(9);
    proc_->Wait();
    proc_.reset();
  }
  int Stop() {
    if (!proc_) return 0;
    int rc = proc_->Stop();
    proc_.reset();
    return rc;
  }
  std::string Logs() const { return proc_ ? proc_->Stderr() + proc_->Stdout() : ""; }
  const std::string& socket() const { return socket_; }
  const testutil::TempDir& dir() const { return dir_; }

  // Cli runs `signet-agent <args> -socketPath <sock>` as `uid` (when root).
  RunResult Cli(std::vector<std::string> args, uid_t uid = static_cast<uid_t>(-1),
                const std::string& binary = "") const {
    std::vector<std::string> argv{binary.empty() ? testutil::AgentBinary() : binary};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("-socketPath");
    argv.push_back(socket_);
    testutil::ProcessOptions o;
    o.uid = uid;
    o.gid = uid;
    return testutil::Run(argv, o, absl::Seconds(30));
  }

  std::unique_ptr<SpiffeWorkloadAPI::Stub> Client() const {
    return SpiffeWorkloadAPI::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }

 private:
  testutil::TempDir dir_;
  std::string socket_;
  std::unique_ptr<testutil::Subprocess> proc_;
};

// Ctx returns a client context with the Workload API security header (when
// `header`) and a deadline `timeout` from now.
inline std::unique_ptr<grpc::ClientContext> Ctx(bool header = true,
                                                absl::Duration timeout = absl::Seconds(20)) {
  auto c = std::make_unique<grpc::ClientContext>();
  if (header) c->AddMetadata("workload.spiffe.io", "true");
  c->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return c;
}

// CountFds returns the number of open descriptors of `pid` (-1 on error).
inline int CountFds(pid_t pid) {
  DIR* d = opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

// RssKb returns VmRSS of `pid` in kB (-1 on error).
inline long RssKb(pid_t pid) {
  std::string status = testutil::ReadFile(absl::StrCat("/proc/", pid, "/status"));
  size_t at = status.find("VmRSS:");
  if (at == std::string::npos) return -1;
  return strtol(status.c_str() + at + 6, nullptr, 10);
}

// Mode returns the permission bits of `path`, or -1.
inline int Mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

}  // namespace signet::faulttest

#endif  // SIGNET_TEST_INTEGRATION_FAULT_AGENT_FIXTURE_H_
