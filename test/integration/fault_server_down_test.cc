// Faults with real processes: the server goes away (agents keep serving
// cached SVIDs, reconnect with backoff), the agent restarts (workload
// streams reconnect and get the same identities without a new join token),
// and the agent comes back after its own SVID expired while it was offline.
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "test/integration/fault_agent_fixture.h"

namespace signet::faulttest {
namespace {

using ::testing::HasSubstr;

class FaultTest : public ::testing::Test {
 protected:
  void StartAll(const std::string& agent_extra = "") {
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    bundle_pem_ = server_.BundlePem();
    agent_ = std::make_unique<AgentProcess>(server_, bundle_pem_, 0, "    join_token: {}\n",
                                            agent_extra);
    token_ = server_.GenerateToken();
    ASSERT_TRUE(agent_->Start(token_)) << agent_->Logs();
    agent_id_ = absl::StrCat("spiffe://example.org/spire/agent/join_token/", token_);
  }
  std::string CreateEntry(const std::string& id) {
    RunResult r = server_.Cli({"entry", "create", "-parentID", agent_id_, "-spiffeID", id,
                               "-selector", absl::StrCat("unix:uid:", geteuid())});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ServerProcess::Field(r.out, "Entry ID");
  }
  RunResult FetchUntilOk() {
    RunResult r;
    EXPECT_TRUE(testutil::WaitFor([&] {
      r = agent_->Cli({"api", "fetch", "x509"});
      return r.exit_code == 0;
    })) << r.err
        << agent_->Logs();
    return r;
  }

  ServerProcess server_;
  std::string bundle_pem_;
  std::unique_ptr<AgentProcess> agent_;
  std::string token_;
  std::string agent_id_;
};

TEST_F(FaultTest, ServerDownOpenStreamSeesNoErrorAndGetsUpdatesAfterReturn) {
  StartAll();
  CreateEntry("spiffe://example.org/steady");
  FetchUntilOk();
  auto stub = agent_->Client();
  // Generous: see AgentReconnectsWithBackoffWhileServerIsDown on how long the
  // agent's first Sync after a server restart can take.
  auto ctx = Ctx(true, absl::Seconds(500));
  auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse m;
  ASSERT_TRUE(reader->Read(&m));
  ASSERT_EQ(m.svids_size(), 1);

  // A JWT-SVID fetched while the server is up is cached by the agent.
  RunResult jwt_up = agent_->Cli({"api", "fetch", "jwt", "-audience", "svc"});
  ASSERT_EQ(jwt_up.exit_code, 0) << jwt_up.err;

  ASSERT_EQ(server_.Stop(), 0);
  // One-shot fetches, cached JWT-SVIDs and the open stream keep working.
  RunResult r = agent_->Cli({"api", "fetch", "x509"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("spiffe://example.org/steady"));
  RunResult b = agent_->Cli({"api", "fetch", "jwt", "-audience", "svc"});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out, jwt_up.out);
  // A JWT-SVID for an audience not cached must be signed by the server: that
  // one call fails, with Unavailable.
  RunResult n = agent_->Cli({"api", "fetch", "jwt", "-audience", "never-asked"});
  EXPECT_EQ(n.exit_code, 1) << n.out;
  EXPECT_THAT(n.err, HasSubstr("Unavailable")) << n.err;
  EXPECT_EQ(agent_->Cli({"healthcheck"}).exit_code, 0) << "agent with cached SVIDs is healthy";

  ASSERT_TRUE(server_.Start()) << server_.Logs();
  CreateEntry("spiffe://example.org/after-return");
  // The same stream (never broken) delivers the new identity.
  bool got = false;
  while (!got && reader->Read(&m)) got = m.svids_size() == 2;
  EXPECT_TRUE(got) << reader->Finish().error_message() << agent_->Logs();
}

TEST_F(FaultTest, AgentReconnectsWithBackoffWhileServerIsDown) {
  StartAll();
  CreateEntry("spiffe://example.org/backoff");
  FetchUntilOk();
  size_t before = agent_->Logs().size();
  ASSERT_EQ(server_.Stop(), 0);
  // Each failed reconnect logs the wait before the next one: 250 ms more per
  // consecutive failure (the 5 s cap is SyncReconnectDelayTest's: reaching it
  // takes 20 failures, about 50 s).
  std::vector<std::string> waits;
  ASSERT_TRUE(testutil::WaitFor([&] {
    waits.clear();
    for (absl::string_view line : absl::StrSplit(agent_->Logs().substr(before), '\n')) {
      if (!absl::StrContains(line, "entry stream from the server ended; reconnecting")) continue;
      size_t at = line.find("retry_in=");
      if (at == absl::string_view::npos) continue;
      absl::string_view v = line.substr(at + 9);
      waits.emplace_back(v.substr(0, v.find(' ')));
    }
    return waits.size() >= 4;
  })) << agent_->Logs().substr(before);
  waits.resize(4);
  EXPECT_EQ(waits, (std::vector<std::string>{"250ms", "500ms", "750ms", "1s"}))
      << agent_->Logs().substr(before);
  ASSERT_TRUE(server_.Start()) << server_.Logs();
  CreateEntry("spiffe://example.org/backoff-2");
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor(
      [&] {
        r = agent_->Cli({"api", "fetch", "x509"});
        return absl::StrContains(r.out, "backoff-2");
      },
      // Generous: after a restart the agent's next Sync took from 10 s to over
      // 200 s (under ASan) on this machine: TLS handshakes the restarted server
      // does not complete (a known defect, under investigation). Only the
      // arrival is checked here.
      absl::Seconds(500)))
      << agent_->Logs() << "\nserver:\n"
      << server_.Logs();
}

TEST_F(FaultTest, AgentRestartStreamsReconnectToSameIdentitiesWithoutToken) {
  StartAll();
  CreateEntry("spiffe://example.org/a");
  CreateEntry("spiffe://example.org/b");
  RunResult first;
  ASSERT_TRUE(testutil::WaitFor([&] {
    first = agent_->Cli({"api", "fetch", "x509"});
    return absl::StrContains(first.out, "Received 2 svids");
  })) << first.out
      << first.err;
  constexpr int kStreams = 20;
  std::vector<std::string> ids_before, ids_after;
  {
    auto stub = agent_->Client();
    auto ctx = Ctx(true, absl::Seconds(60));
    auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
    X509SVIDResponse m;
    ASSERT_TRUE(reader->Read(&m));
    for (const auto& s : m.svids()) ids_before.push_back(s.spiffe_id());
  }
  // Open streams, restart the agent (no -joinToken), each client reconnects
  // as a real client would (retry on Unavailable) and gets the same IDs.
  std::vector<std::thread> clients;
  absl::Mutex mu;
  std::vector<std::vector<std::string>> got(kStreams);
  std::vector<grpc::StatusCode> first_end(kStreams, grpc::StatusCode::OK);
  std::atomic<int> opened{0};
  // Join the clients on every way out (a failed ASSERT returns early): they
  // use the locals above.
  absl::Cleanup join_clients = [&clients] {
    for (auto& t : clients) {
      if (t.joinable()) t.join();
    }
  };
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] {
      auto ctx = Ctx(true, absl::Seconds(60));
      auto stub = agent_->Client();
      auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
      X509SVIDResponse m;
      if (!reader->Read(&m)) return;
      ++opened;
      while (reader->Read(&m)) {
      }
      first_end[i] = reader->Finish().error_code();
      absl::Time deadline = absl::Now() + absl::Seconds(40);
      while (absl::Now() < deadline) {
        auto c2 = Ctx(true, absl::Seconds(10));
        auto s2 = agent_->Client();
        auto r2 = s2->FetchX509SVID(c2.get(), X509SVIDRequest());
        X509SVIDResponse m2;
        if (r2->Read(&m2) && m2.svids_size() == 2) {
          absl::MutexLock l(&mu);
          for (const auto& s : m2.svids()) got[i].push_back(s.spiffe_id());
          c2->TryCancel();
          (void)r2->Finish();
          return;
        }
        (void)r2->Finish();
        absl::SleepFor(absl::Milliseconds(100));  // client retry interval
      }
    });
  }
  ASSERT_TRUE(testutil::WaitFor([&] { return opened == kStreams; }));
  ASSERT_EQ(agent_->Stop(), 0) << agent_->Logs();
  ASSERT_TRUE(agent_->Start("")) << agent_->Logs();
  std::move(join_clients).Invoke();
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(first_end[i], grpc::StatusCode::UNAVAILABLE) << i;
    EXPECT_EQ(got[i], ids_before) << i;
  }
  EXPECT_THAT(agent_->Logs(), HasSubstr("reusing the agent SVID"));
  // No token was consumed: the agent list still holds the one agent.
  EXPECT_EQ(server_.Cli({"agent", "count"}).out, "1 attested agent\n");
}

TEST_F(FaultTest, AgentKilledRestartsWithoutToken) {
  StartAll();
  CreateEntry("spiffe://example.org/k9");
  FetchUntilOk();
  agent_->Kill9();
  ASSERT_TRUE(agent_->Start("")) << agent_->Logs();
  RunResult r = FetchUntilOk();
  EXPECT_THAT(r.out, HasSubstr("spiffe://example.org/k9"));
}

// Faketime returns the libfaketime preload library, or "" when absent.
std::string Faketime() {
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"}) {
    if (access(p, R_OK) == 0) return p;
  }
  return "";
}

testutil::ProcessOptions Skewed(const std::string& offset) {
  testutil::ProcessOptions o;
  o.env["LD_PRELOAD"] = Faketime();
  o.env["FAKETIME"] = offset;
  o.env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1";
  o.env["FAKETIME_NO_CACHE"] = "1";
  return o;
}

// Clock skew of +-5 minutes between agent and server: the agent attests,
// trusts the server's SVID and serves workloads.
void RunSkewed(const std::string& offset) {
  ServerProcess server;
  ASSERT_TRUE(server.Start()) << server.Logs();
  AgentProcess agent(server, server.BundlePem());
  std::string token = server.GenerateToken();
  ASSERT_TRUE(agent.Start(token, true, Skewed(offset))) << agent.Logs();
  RunResult c = server.Cli({"entry", "create", "-parentID",
                            "spiffe://example.org/spire/agent/join_token/" + token, "-spiffeID",
                            "spiffe://example.org/skewed", "-selector",
                            absl::StrCat("unix:uid:", geteuid())});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  RunResult r;
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent.Cli({"api", "fetch", "x509"});
    return r.exit_code == 0;
  })) << r.err
      << agent.Logs();
  EXPECT_THAT(r.out, HasSubstr("spiffe://example.org/skewed"));
  // The agent learned the server's clock from the entry sync and said so.
  const std::string sign = absl::StartsWith(offset, "+") ? "-" : "";
  EXPECT_THAT(agent.Logs(), HasSubstr("clock skew with the server")) << agent.Logs();
  EXPECT_THAT(agent.Logs(),
              ::testing::ContainsRegex(absl::StrCat("server_ahead_by=", sign, "(4m5[0-9.]*s|5m)")))
      << agent.Logs();
  RunResult j = agent.Cli({"api", "fetch", "jwt", "-audience", "svc"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  std::vector<std::string> lines = absl::StrSplit(j.out, '\n');
  ASSERT_GE(lines.size(), 2u);
  // The skewed agent's own validation accepts the server-signed token.
  RunResult v = agent.Cli({"api", "validate", "jwt", "-audience", "svc", "-svid",
                           std::string(absl::StripAsciiWhitespace(lines[1]))});
  EXPECT_EQ(v.exit_code, 0) << v.err;
}

TEST(ClockSkewTest, AgentFiveMinutesAhead) {
  if (Faketime().empty()) GTEST_SKIP() << "libfaketime (Debian package faketime) not installed";
  RunSkewed("+300s");
}

// An agent 5 minutes behind the server still accepts the server's SVID and
// CA and attests.
TEST(ClockSkewTest, AgentFiveMinutesBehind) {
  if (Faketime().empty()) GTEST_SKIP() << "libfaketime (Debian package faketime) not installed";
  RunSkewed("-300s");
}

// An agent whose kept SVID expired while it was offline, with no join token
// configured, exits 1 and says how to recover (a new join token).
TEST(FaultExpiryTest, AgentWhoseSvidExpiredWhileOfflineSaysWhatToDo) {
  if (Faketime().empty()) GTEST_SKIP() << "libfaketime (Debian package faketime) not installed";
  // Agent SVIDs live 30 s here; the server's own SVID lives an hour.
  ServerProcess server("  agent_ttl: \"30s\"\n");
  ASSERT_TRUE(server.Start()) << server.Logs();
  AgentProcess agent(server, server.BundlePem());
  ASSERT_TRUE(agent.Start(server.GenerateToken())) << agent.Logs();
  ASSERT_EQ(agent.Stop(), 0);
  // The agent comes back two minutes later (faked): its kept SVID has
  // expired and the join token was used up.
  std::vector<std::string> argv{testutil::AgentBinary(), "run", "-config",
                                agent.dir().File("agent.yaml")};
  RunResult r = testutil::Run(argv, Skewed("+120s"), absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("expired"));
  // What the operator must do: a new join token.
  EXPECT_THAT(r.err, HasSubstr("-joinToken")) << r.err;
}

}  // namespace
}  // namespace signet::faulttest
