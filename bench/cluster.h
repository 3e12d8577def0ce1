// Real signet-server / signet-agent processes for the benchmarks, a client
// of the admin API, a simulated agent speaking the Node protocol, and
// Workload API helpers.
#ifndef SIGNET_BENCH_CLUSTER_H_
#define SIGNET_BENCH_CLUSTER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/bench_util.h"
#include "common/openssl_util.h"
#include "signet/admin.grpc.pb.h"
#include "signet/agent.grpc.pb.h"
#include "workload/workload.grpc.pb.h"

namespace signet::bench {

inline constexpr char kTrustDomain[] = "example.org";

// BinDir returns the directory holding signet-server and signet-agent
// ($SIGNET_BENCH_BIN_DIR, default: the bench binary's build dir's parent
// layout: <build>/server and <build>/agent).
std::string ServerBinary();
std::string AgentBinary();

// ServerProc is a signet-server process with its own temp dir. Not
// thread-safe; the admin stub is.
class ServerProc {
 public:
  ServerProc();
  ~ServerProc();
  // Start launches the server and waits until the admin API reports ready.
  // Unavailable when it does not come up within 30 s.
  [[nodiscard]] absl::Status Start();
  int Stop();
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  int port() const { return port_; }
  const TempDir& dir() const { return dir_; }
  std::string Log() const { return proc_ ? proc_->Log() : ""; }
  signet::admin::Admin::Stub* admin() { return admin_.get(); }

  // GenerateToken returns a fresh join token.
  [[nodiscard]] absl::StatusOr<std::string> GenerateToken();
  // CreateEntry registers `spiffe_id` under `parent_id` with `selectors`
  // ("type:value"); returns the entry id.
  [[nodiscard]] absl::StatusOr<std::string> CreateEntry(const std::string& parent_id,
                                                        const std::string& spiffe_id,
                                                        const std::vector<std::string>& selectors);
  [[nodiscard]] absl::Status DeleteEntry(const std::string& id);
  // BundlePem returns the trust bundle's X.509 authorities as PEM.
  [[nodiscard]] absl::StatusOr<std::string> BundlePem();

 private:
  TempDir dir_;
  int port_ = 0;
  std::string sock_;
  std::unique_ptr<Process> proc_;
  std::unique_ptr<signet::admin::Admin::Stub> admin_;
};

// AgentProc is a signet-agent process with its own temp dir.
class AgentProc {
 public:
  // `agent_extra` is added to the agent block of the config (YAML lines).
  AgentProc(int server_port, const std::string& bundle_pem, bool discover_workload_path,
            const std::string& agent_extra = "");
  ~AgentProc();
  // Start launches the agent (with -joinToken unless empty); does not wait.
  [[nodiscard]] absl::Status Start(const std::string& join_token);
  int Stop();
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  const std::string& socket() const { return socket_; }
  std::string Log() const { return proc_ ? proc_->Log() : ""; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::string socket_;
  std::unique_ptr<Process> proc_;
};

// AgentIdFor returns the agent SPIFFE ID a join token yields.
std::string AgentIdFor(const std::string& token);

// SimAgent is a simulated agent: attests with a join token over TLS, then
// calls the Node API with its agent SVID. Thread-compatible.
class SimAgent {
 public:
  // Create generates the agent key. Internal on key errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SimAgent>> Create(int port,
                                                                        std::string bundle_pem);
  // Attest runs join-token attestation.
  [[nodiscard]] absl::Status Attest(const std::string& token);
  // Channel returns a new TLS channel presenting the agent SVID; `salt`
  // keeps it from sharing a connection with other channels.
  std::shared_ptr<grpc::Channel> Channel(bool with_identity, int salt = 0);
  const std::string& id() const { return id_; }

 private:
  SimAgent(int port, std::string bundle_pem, EvpPkeyPtr key)
      : port_(port), bundle_pem_(std::move(bundle_pem)), key_(std::move(key)) {}
  int port_;
  std::string bundle_pem_;
  EvpPkeyPtr key_;
  std::string key_pem_;
  std::string svid_pem_;
  std::string id_;
};

// WorkloadChannel returns an insecure channel to a unix socket; `salt`
// forces a connection of its own; `max_recv` bounds received messages.
std::shared_ptr<grpc::Channel> WorkloadChannel(const std::string& socket, int salt = 0,
                                               int max_recv = 4 << 20);

// FirstX509 opens a FetchX509SVID stream, reads the first message into `out`
// and cancels the stream. Returns the stream's status when no message came.
[[nodiscard]] absl::Status FirstX509(SpiffeWorkloadAPI::Stub* stub, X509SVIDResponse* out,
                                     absl::Duration timeout = absl::Seconds(10));

// WaitFirstSvid retries FirstX509 on a fresh channel every 1 ms until a
// message arrives (or `timeout`); returns whether one did.
bool WaitFirstSvid(const std::string& socket, absl::Duration timeout);

}  // namespace signet::bench

#endif  // SIGNET_BENCH_CLUSTER_H_
