#include "agent/run.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/server_builder.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "agent/debug_handler.h"
#include "agent/health_service.h"
#include "agent/workload_handler.h"
#include "attestors/catalog.h"
#include "common/log.h"
#include "common/peer_server.h"
#include "common/status_macros.h"
#include "common/version.h"

namespace signet::agent {
namespace {

// Descriptors kept free of Workload API connections (server channel, data
// files, logs, gRPC's own).
constexpr int64_t kReservedDescriptors = 256;

// DelayedCloser shuts connections down shortly after a call was refused, so
// the refusal status reaches the client first. Checks the connection id so a
// reused fd number is never touched. Thread-safe.
class DelayedCloser {
 public:
  explicit DelayedCloser(UnixSocketServer* uss) : uss_(uss), thread_([this] { Loop(); }) {}
  ~DelayedCloser() {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  void Close(const PeerCred& c) {
    absl::MutexLock l(&mu_);
    queue_.push_back({c, absl::Now() + absl::Milliseconds(200)});
  }

 private:
  struct Item {
    PeerCred cred;
    absl::Time at;
  };
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); }
  void Loop() {
    absl::MutexLock l(&mu_);
    for (;;) {
      mu_.Await(absl::Condition(this, &DelayedCloser::Ready));
      if (stopping_) return;
      Item it = queue_.front();
      queue_.pop_front();
      mu_.Unlock();
      absl::SleepFor(std::max(it.at - absl::Now(), absl::ZeroDuration()));
      absl::StatusOr<PeerCred> now = uss_->Lookup(absl::StrCat("fd:", it.cred.fd));
      if (now.ok() && now->conn_id == it.cred.conn_id) shutdown(it.cred.fd, SHUT_RDWR);
      mu_.Lock();
    }
  }

  UnixSocketServer* const uss_;
  absl::Mutex mu_;
  // Guarded by mu_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// WorkloadConnectionLimits returns the Workload API's connection limits,
// with max_connections lowered (and a warning) when the descriptor limit
// cannot hold that many: each connection may use up to 3 descriptors (the
// socket, and a cached caller's pidfd and /proc status file), and 256 are
// kept for everything else.
ConnectionLimits WorkloadConnectionLimits(const AgentConfig& config) {
  ConnectionLimits l;
  l.max_connections = config.max_connections;
  l.max_connections_per_uid = config.max_connections_per_uid;
  l.preface_timeout = config.connection_preface_timeout;
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    const int64_t fit =
        std::max<int64_t>(1, (static_cast<int64_t>(nofile.rlim_cur) - kReservedDescriptors) / 3);
    if (fit < l.max_connections) {
      LogWarn("max_connections lowered to fit the open-files limit",
              {{"max_connections", absl::StrCat(l.max_connections)},
               {"open_files_limit", absl::StrCat(nofile.rlim_cur)},
               {"lowered_to", absl::StrCat(fit)}});
      l.max_connections = static_cast<int>(fit);
      l.max_connections_per_uid = std::min(l.max_connections_per_uid, l.max_connections);
    }
  }
  return l;
}

}  // namespace

absl::Status RunAgent(AgentConfig config) {
  // gRPC's default Linux poller (epoll1) shares one epoll set among every
  // thread of the process that waits on any completion queue: the thread
  // reading the Sync stream from the server then takes Workload API events
  // and hands each one over to the handler's queue thread (a futex wake and
  // a context switch per event, about half the agent's time per call;
  // bench/NOTES.md, 1). With "poll" each queue polls only its own sockets,
  // so the Workload API socket is read by the thread that answers it. Set
  // before gRPC initialises; an operator's own GRPC_POLL_STRATEGY wins.
  setenv("GRPC_POLL_STRATEGY", "poll", /*overwrite=*/0);
  // Every open stream is a socket and every cached caller a pidfd and an
  // open /proc/<pid>/status: lift the soft descriptor limit to the hard one
  // (as Go programs such as SPIRE's agent do at start).
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // Signals are taken synchronously by this thread; block them before any
  // other thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Past a file size limit a write fails with EFBIG instead of killing us.
  signal(SIGXFSZ, SIG_IGN);

  LogInfo("signet-agent starting", {{"version", VersionString()}});
  // The workload attestors named in plugins.WorkloadAttestor (validated when
  // the configuration was loaded), behind the registry's factories.
  ASSIGN_OR_RETURN(
      std::unique_ptr<attestors::AttestorCatalog> catalog,
      attestors::AttestorCatalog::FromPlugins(
          config.workload_attestor_plugins ? *config.workload_attestor_plugins : YAML::Node(),
          config.config_path));
  ASSIGN_OR_RETURN(std::unique_ptr<Agent> agent, Agent::Create(config));
  ASSIGN_OR_RETURN(std::unique_ptr<UnixSocketServer> uss,
                   UnixSocketServer::Create(config.socket_path, 0755, 0777));
  uss->SetLimits(WorkloadConnectionLimits(config));
  std::unique_ptr<ProcessPinner> pinner = NewLinuxProcessPinner();
  WorkloadHandlerConfig hc;
  hc.manager = agent.get();
  hc.attestor = catalog.get();
  hc.pinner = pinner.get();
  hc.selector_cache_ttl = config.selector_cache_ttl;
  // Token validation uses the trust domain's time (the server's clock), so a
  // node clock up to kServerClockSkewLeeway off still accepts fresh tokens.
  Agent* agent_ptr = agent.get();
  hc.clock = [agent_ptr] { return absl::Now() + agent_ptr->ServerClockOffset(); };
  UnixSocketServer* uss_ptr = uss.get();
  hc.peer_lookup = [uss_ptr](const std::string& peer) { return uss_ptr->Lookup(peer); };
  DelayedCloser closer(uss_ptr);
  hc.close_connection = [&closer](const PeerCred& c) { closer.Close(c); };
  WorkloadHandler handler(std::move(hc));

  // Our own synchronous health service, not gRPC's default one: that one
  // runs on the callback API, whose threads would poll this server's sockets
  // too and hand every Workload API event over to the handler's thread.
  HealthService health;
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  handler.Attach(&builder);
  builder.RegisterService(&health);
  // Keep idle handler threads instead of letting the sync server end and
  // re-create one per call (gRPC's default keeps at most 2 polling):
  // thread churn (clone, stack madvise, TLB shootdowns) dominated the agent's
  // CPU with many concurrent one-shot workloads (bench/NOTES.md, 2).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
  // A connection without calls for this long gets a GOAWAY and is closed
  // (clients reconnect when they next call).
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(config.connection_idle_timeout),
                                         std::numeric_limits<int>::max())));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return absl::InternalError("could not start the Workload API server");
  handler.Start();
  uss->Start(server.get());
  LogInfo("Starting Workload API", {{"path", config.socket_path}});

  // The admin API (SPIRE's agent Debug API) on its own socket, reachable by
  // the agent's user only: directory 0700 when we create it, socket 0600.
  std::unique_ptr<UnixSocketServer> admin_uss;
  std::unique_ptr<grpc::Server> admin_server;
  DebugHandler debug_handler([agent_ptr] { return agent_ptr->DebugInfo(); });
  if (!config.admin_socket_path.empty()) {
    absl::StatusOr<std::unique_ptr<UnixSocketServer>> a =
        UnixSocketServer::Create(config.admin_socket_path, 0700, 0600);
    if (!a.ok()) {
      uss->Stop();
      server->Shutdown(std::chrono::system_clock::now());
      return absl::Status(a.status().code(),
                          absl::StrCat("admin_socket_path: ", a.status().message()));
    }
    admin_uss = std::move(*a);
    grpc::ServerBuilder admin_builder;
    admin_builder.RegisterService(&debug_handler);
    admin_server = admin_builder.BuildAndStart();
    if (!admin_server) {
      uss->Stop();
      server->Shutdown(std::chrono::system_clock::now());
      return absl::InternalError("could not start the admin API server");
    }
    admin_uss->Start(admin_server.get());
    LogInfo("Starting admin API", {{"path", config.admin_socket_path}});
  }

  std::atomic<bool> attested{false};
  absl::Status attest_status;
  std::atomic<bool> attest_done{false};
  std::thread attest_thread([&] {
    attest_status = agent->Attest();
    if (attest_status.ok()) {
      attested = true;
      agent->StartSync();
    }
    attest_done = true;
    if (!attest_status.ok()) kill(getpid(), SIGTERM);
  });

  // Readiness for the health service follows the snapshot.
  std::atomic<bool> stop_health{false};
  std::thread health_thread([&] {
    uint64_t seen = 0;
    while (!stop_health) {
      auto snap = agent->WaitForChange(seen, absl::Now() + absl::Milliseconds(200));
      seen = snap->version;
      health.SetServing(snap->ready);
    }
  });

  int sig = 0;
  sigwait(&sigs, &sig);
  LogInfo("Stopping agent", {{"signal", absl::StrCat(sig)}});
  // stop_health first: Stop() wakes WaitForChange at once, and the health
  // loop must then end instead of spinning until the attest thread is joined.
  stop_health = true;
  agent->Stop();
  attest_thread.join();
  health_thread.join();
  uss->Stop();
  if (admin_uss) admin_uss->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  handler.Shutdown();
  if (admin_server) {
    admin_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  if (attest_done && !attest_status.ok() && attest_status.code() != absl::StatusCode::kCancelled) {
    return attest_status;
  }
  return absl::OkStatus();
}

}  // namespace signet::agent
