// Shared fixture of the client-side end-to-end tests (client_e2e_test.cc,
// client_nginx_test.cc): a real signet-server (ServerProcess from
// server_test_fixture.h) and a real signet-agent attested with a join token,
// plus helpers to register workloads and run the client-side binaries.
#ifndef SIGNET_TEST_INTEGRATION_CLIENT_TEST_FIXTURE_H_
#define SIGNET_TEST_INTEGRATION_CLIENT_TEST_FIXTURE_H_

#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet::clienttest {

using servertest::ServerProcess;
using testutil::RunResult;

// ExampleBinary / HelperBinary return the built examples and signet-helper.
inline std::string ExampleBinary(const std::string& name) {
  return testutil::BuildDir() + "/examples/" + name;
}
inline std::string HelperBinary() { return testutil::BuildDir() + "/helper/signet-helper"; }

// Deployment is a server plus one agent (Workload API socket reachable by
// every uid). Start() returns false with the logs in `error` on failure.
class Deployment {
 public:
  Deployment() { chmod(agent_dir_.path().c_str(), 0755); }
  ~Deployment() {
    if (agent_) agent_->Stop();
    server_.Stop();
  }

  bool Start(std::string* error) {
    if (!server_.Start()) {
      *error = "server: " + server_.Logs();
      return false;
    }
    std::string token = server_.GenerateToken();
    agent_id_ = "spiffe://example.org/spire/agent/join_token/" + token;
    testutil::WriteFile(agent_dir_.File("bundle.pem"), server_.BundlePem());
    socket_ = agent_dir_.File("api.sock");
    testutil::WriteFile(agent_dir_.File("agent.yaml"),
                        absl::StrCat("agent:\n  data_dir: \"", agent_dir_.File("data"),
                                     "\"\n  log_level: \"debug\"\n  server_address: \"127.0.0.1\"\n"
                                     "  server_port: ",
                                     server_.port(), "\n  socket_path: \"", socket_,
                                     "\"\n  trust_domain: \"example.org\"\n  trust_bundle_path: \"",
                                     agent_dir_.File("bundle.pem"),
                                     "\"\nplugins:\n  NodeAttestor:\n    join_token: {}\n"
                                     "  KeyManager:\n    disk: {}\n  WorkloadAttestor:\n    unix:\n"
                                     "      plugin_data:\n        discover_workload_path: true\n"));
    agent_ = std::make_unique<testutil::Subprocess>(
        std::vector<std::string>{testutil::AgentBinary(), "run", "-config",
                                 agent_dir_.File("agent.yaml"), "-joinToken", token});
    bool up = testutil::WaitFor([&] {
      if (!agent_->Running()) return true;
      return access(socket_.c_str(), F_OK) == 0 && AgentCli({"healthcheck"}).exit_code == 0;
    });
    if (!up || !agent_->Running()) {
      *error = "agent: " + agent_->Stderr() + agent_->Stdout();
      return false;
    }
    return true;
  }

  // Register creates an entry for `spiffe_id` under the agent; `extra` are
  // more CLI flags (e.g. -x509SVIDTTL 5). Returns the entry ID.
  std::string Register(const std::string& spiffe_id, const std::vector<std::string>& selectors,
                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a{"entry", "create", "-parentID", agent_id_, "-spiffeID", spiffe_id};
    for (const std::string& s : selectors) {
      a.push_back("-selector");
      a.push_back(s);
    }
    a.insert(a.end(), extra.begin(), extra.end());
    RunResult r = server_.Cli(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ServerProcess::Field(r.out, "Entry ID");
  }

  // AgentCli runs `signet-agent <args> -socketPath <sock>` as `uid` (when
  // root) from `binary` (default: the agent binary).
  RunResult AgentCli(std::vector<std::string> args, uid_t uid = static_cast<uid_t>(-1),
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

  // WaitForIdentity waits until a workload running as `uid` (from `binary`)
  // is issued `spiffe_id`; the examples then get it at their first fetch.
  bool WaitForIdentity(const std::string& spiffe_id, uid_t uid = static_cast<uid_t>(-1),
                       const std::string& binary = "") const {
    RunResult r;
    bool ok = testutil::WaitFor(
        [&] {
          r = AgentCli({"api", "fetch", "x509"}, uid, binary);
          return r.exit_code == 0 && absl::StrContains(r.out, spiffe_id);
        },
        absl::Seconds(30));
    if (!ok) ADD_FAILURE() << "no " << spiffe_id << " for uid " << uid << ": " << r.out << r.err;
    return ok;
  }

  std::string Logs() const {
    return server_.Logs() + (agent_ ? agent_->Stderr() + agent_->Stdout() : "");
  }
  ServerProcess& server() { return server_; }
  const std::string& socket() const { return socket_; }
  std::string address() const { return "unix://" + socket_; }

 private:
  ServerProcess server_;
  testutil::TempDir agent_dir_;
  std::string agent_id_;
  std::string socket_;
  std::unique_ptr<testutil::Subprocess> agent_;
};

// ListeningPort waits until `proc` printed "<prefix>127.0.0.1:<port>" on
// stdout and returns the port; 0 if it exited or never did.
inline int ListeningPort(testutil::Subprocess* proc, const std::string& prefix) {
  int port = 0;
  testutil::WaitFor(
      [&] {
        std::string out = proc->Stdout();
        size_t at = out.find(prefix + "127.0.0.1:");
        if (at != std::string::npos) {
          std::string rest = out.substr(at + prefix.size() + 10);
          std::string digits = rest.substr(0, rest.find_first_not_of("0123456789"));
          if (absl::SimpleAtoi(digits, &port) && port > 0) return true;
        }
        return !proc->Running();
      },
      absl::Seconds(40));
  return port;
}

// Lines returns the lines of `text` equal to `line`.
inline int CountLines(const std::string& text, const std::string& line) {
  int n = 0;
  for (absl::string_view l : absl::StrSplit(text, '\n')) n += l == line;
  return n;
}

}  // namespace signet::clienttest

#endif  // SIGNET_TEST_INTEGRATION_CLIENT_TEST_FIXTURE_H_
