// Integration: the Node API of a real signet-server process (join-token
// attestation, the Sync push stream, SVID signing, eviction and banning).
#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/jwt.h"
#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

using signet::agent::SyncResponse;

class ServerNodeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()) << server_.Logs(); }
  ServerProcess server_;
};

std::string CreateEntry(const ServerProcess& s, const std::string& parent,
                        const std::string& spiffe_id, const std::string& selector) {
  RunResult r = s.Cli({"entry", "create", "-parentID", parent, "-spiffeID", spiffe_id, "-selector",
                       selector, "-dns", "web.example.org"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return ServerProcess::Field(r.out, "Entry ID");
}

TEST_F(ServerNodeTest, JoinTokenAttestationIssuesAgentSvid) {
  TestAgent agent(server_.port(), server_.BundlePem());
  std::string token = server_.GenerateToken();
  grpc::Status st = agent.Attest(token);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(agent.id(), "spiffe://example.org/spire/agent/join_token/" + token);
  EXPECT_GT(agent.result().bundle().x509_authorities_size(), 0);
  RunResult r = server_.Cli({"agent", "list"});
  EXPECT_NE(r.out.find(agent.id()), std::string::npos) << r.out;
  r = server_.Cli({"agent", "count"});
  EXPECT_EQ(r.out, "1 attested agent\n");
}

TEST_F(ServerNodeTest, UsedJoinTokenIsRefused) {
  std::string token = server_.GenerateToken();
  TestAgent a(server_.port(), server_.BundlePem());
  ASSERT_TRUE(a.Attest(token).ok());
  TestAgent b(server_.port(), server_.BundlePem());
  grpc::Status st = b.Attest(token);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(), "join token does not exist or has already been used");
}

TEST_F(ServerNodeTest, ExpiredJoinTokenIsRefused) {
  RunResult r = server_.Cli({"token", "generate", "-ttl", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string token = r.out.substr(7, r.out.size() - 8);
  absl::SleepFor(absl::Seconds(2));  // the token's TTL is what is under test
  TestAgent a(server_.port(), server_.BundlePem());
  grpc::Status st = a.Attest(token);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(), "join token expired");
}

TEST_F(ServerNodeTest, ConcurrentJoinTokenRaceHasOneWinner) {
  std::string bundle = server_.BundlePem();
  for (int round = 0; round < 5; ++round) {
    std::string token = server_.GenerateToken();
    constexpr int kRacers = 4;
    std::vector<std::unique_ptr<TestAgent>> agents;
    for (int i = 0; i < kRacers; ++i) {
      agents.push_back(std::make_unique<TestAgent>(server_.port(), bundle));
    }
    std::vector<grpc::Status> results(kRacers);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kRacers; ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready < kRacers) {
        }
        results[i] = agents[i]->Attest(token);
      });
    }
    for (auto& t : threads) t.join();
    int ok = 0;
    for (const grpc::Status& s : results) {
      if (s.ok()) {
        ++ok;
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_EQ(s.error_message(), "join token does not exist or has already been used");
      }
    }
    EXPECT_EQ(ok, 1) << "round " << round;
  }
}

TEST_F(ServerNodeTest, SyncPushesEntriesAndSignsSvids) {
  TestAgent agent(server_.port(), server_.BundlePem());
  ASSERT_TRUE(agent.Attest(server_.GenerateToken()).ok());
  auto stub = agent.Stub();
  grpc::ClientContext ctx;
  auto sync = stub->Sync(&ctx, signet::agent::SyncRequest());
  SyncResponse first;
  ASSERT_TRUE(sync->Read(&first)) << sync->Finish().error_message();
  EXPECT_EQ(first.entries_size(), 0);
  EXPECT_GT(first.bundle().x509_authorities_size(), 0);

  // An entry for this agent is pushed at once; one for another parent is not.
  CreateEntry(server_, "spiffe://example.org/other-node", "spiffe://example.org/not-mine",
              "unix:uid:7");
  // (How fast the push arrives is bench/ row 5's measurement.)
  std::string id = CreateEntry(server_, agent.id(), "spiffe://example.org/web", "unix:uid:1000");
  SyncResponse pushed;
  ASSERT_TRUE(sync->Read(&pushed));
  ASSERT_EQ(pushed.entries_size(), 1);
  EXPECT_EQ(pushed.entries(0).id(), id);
  EXPECT_GT(pushed.revision(), first.revision());

  // X.509-SVID for the authorized entry; refused for another one.
  EvpPkeyPtr wkey = std::move(GenerateKey(KeyType::kEcP256)).value();
  signet::agent::BatchNewX509SvidRequest breq;
  auto* p = breq.add_params();
  p->set_entry_id(id);
  p->set_csr(CreateCsrDer(wkey.get()).value());
  auto* q = breq.add_params();
  q->set_entry_id("no-such-entry");
  q->set_csr(p->csr());
  auto* bad = breq.add_params();
  bad->set_entry_id(id);
  bad->set_csr("not a csr");
  signet::agent::BatchNewX509SvidResponse bresp;
  grpc::ClientContext bctx;
  grpc::Status bs = stub->BatchNewX509Svid(&bctx, breq, &bresp);
  ASSERT_TRUE(bs.ok()) << bs.error_message();
  ASSERT_EQ(bresp.results_size(), 3);
  EXPECT_EQ(bresp.results(0).status_code(), 0) << bresp.results(0).status_message();
  EXPECT_EQ(bresp.results(0).svid().spiffe_id(), "spiffe://example.org/web");
  X509Ptr leaf = ParseCertDer(bresp.results(0).svid().cert_chain(0)).value();
  EXPECT_EQ(SpiffeIdFromCert(leaf.get())->ToString(), "spiffe://example.org/web");
  EXPECT_EQ(bresp.results(1).status_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(bresp.results(1).status_message(),
            "entry no-such-entry is not authorized for this agent");
  EXPECT_EQ(bresp.results(2).status_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(bresp.results(2).status_message(), "invalid CSR: "));

  // JWT-SVID, verified against the bundle.
  signet::agent::NewJwtSvidRequest jreq;
  jreq.set_entry_id(id);
  jreq.add_audience("aud1");
  signet::agent::NewJwtSvidResponse jresp;
  grpc::ClientContext jctx;
  ASSERT_TRUE(stub->NewJwtSvid(&jctx, jreq, &jresp).ok());
  absl::StatusOr<Bundle> b =
      Bundle::ParseJwks(TrustDomain::FromString("example.org").value(),
                        server_.Cli({"bundle", "show", "-format", "spiffe"}).out);
  ASSERT_TRUE(b.ok()) << b.status();
  BundleSet set;
  set.Put(*b);
  absl::StatusOr<JwtSvid> jwt = ValidateJwtSvid(jresp.token(), set, "aud1", absl::Now());
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(jwt->subject.ToString(), "spiffe://example.org/web");

  // Deleting the entry is pushed too.
  ASSERT_EQ(server_.Cli({"entry", "delete", "-entryID", id}).exit_code, 0);
  SyncResponse after_delete;
  ASSERT_TRUE(sync->Read(&after_delete));
  EXPECT_EQ(after_delete.entries_size(), 0);

  // Eviction ends the stream with PermissionDenied and refuses later calls.
  ASSERT_EQ(server_.Cli({"agent", "evict", "-spiffeID", agent.id()}).exit_code, 0);
  SyncResponse none;
  while (sync->Read(&none)) {
  }
  grpc::Status fin = sync->Finish();
  EXPECT_EQ(fin.error_code(), grpc::StatusCode::PERMISSION_DENIED) << fin.error_message();
  grpc::ClientContext fctx;
  signet::agent::FetchBundleResponse fresp;
  grpc::Status fs = stub->FetchBundle(&fctx, signet::agent::FetchBundleRequest(), &fresp);
  EXPECT_EQ(fs.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// A large batch is signed in parallel on the server: every result is in
// param order, carries its param's entry, SPIFFE ID and key, and a refused
// or bad param fails alone with its own status.
TEST_F(ServerNodeTest, LargeBatchKeepsParamOrderAndPerParamErrors) {
  TestAgent agent(server_.port(), server_.BundlePem());
  ASSERT_TRUE(agent.Attest(server_.GenerateToken()).ok());
  std::vector<std::string> entry_ids, spiffe_ids;
  for (int e = 0; e < 3; ++e) {
    spiffe_ids.push_back(absl::StrCat("spiffe://example.org/batch/", e));
    entry_ids.push_back(
        CreateEntry(server_, agent.id(), spiffe_ids.back(), absl::StrCat("unix:uid:", 2000 + e)));
  }
  constexpr int kParams = 120, kRefused = 40, kBadCsr = 80;
  std::vector<EvpPkeyPtr> keys;
  signet::agent::BatchNewX509SvidRequest req;
  for (int i = 0; i < kParams; ++i) {
    keys.push_back(std::move(GenerateKey(KeyType::kEcP256)).value());
    auto* p = req.add_params();
    p->set_entry_id(i == kRefused ? "no-such-entry" : entry_ids[i % 3]);
    std::string csr = CreateCsrDer(keys.back().get()).value();
    if (i == kBadCsr) csr[csr.size() - 5] ^= 0x5a;  // inside the ECDSA signature
    p->set_csr(csr);
  }
  signet::agent::BatchNewX509SvidResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status st = agent.Stub()->BatchNewX509Svid(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), kParams);
  for (int i = 0; i < kParams; ++i) {
    const signet::agent::BatchNewX509SvidResult& r = resp.results(i);
    EXPECT_EQ(r.entry_id(), req.params(i).entry_id()) << i;
    if (i == kRefused) {
      EXPECT_EQ(r.status_code(), grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_EQ(r.status_message(), "entry no-such-entry is not authorized for this agent");
      EXPECT_FALSE(r.has_svid());
      continue;
    }
    if (i == kBadCsr) {
      EXPECT_EQ(r.status_code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(r.status_message(), "invalid CSR: CSR signature is invalid");
      EXPECT_FALSE(r.has_svid());
      continue;
    }
    ASSERT_EQ(r.status_code(), 0) << i << ": " << r.status_message();
    EXPECT_EQ(r.svid().spiffe_id(), spiffe_ids[i % 3]) << i;
    ASSERT_EQ(r.svid().cert_chain_size(), 1);
    X509Ptr leaf = ParseCertDer(r.svid().cert_chain(0)).value();
    EXPECT_EQ(SpiffeIdFromCert(leaf.get())->ToString(), spiffe_ids[i % 3]) << i;
    EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(leaf.get()), keys[i].get())) << i;
  }
}

// Entry expiry is pushed: when entry_expiry passes, the Sync stream gets the
// state without the entry at once (a timer, not polling), and the expired
// entry can no longer be signed for.
TEST_F(ServerNodeTest, EntryExpiryIsPushedAndExpiredEntryIsNotAuthorized) {
  TestAgent agent(server_.port(), server_.BundlePem());
  ASSERT_TRUE(agent.Attest(server_.GenerateToken()).ok());
  const int64_t expiry = absl::ToUnixSeconds(absl::Now()) + 4;
  RunResult r = server_.Cli({"entry", "create", "-parentID", agent.id(), "-spiffeID",
                             "spiffe://example.org/short", "-selector", "unix:uid:1",
                             "-entryExpiry", absl::StrCat(expiry)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = ServerProcess::Field(r.out, "Entry ID");
  std::string keep = CreateEntry(server_, agent.id(), "spiffe://example.org/keep", "unix:uid:2");

  auto stub = agent.Stub();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto sync = stub->Sync(&ctx, signet::agent::SyncRequest());
  SyncResponse first;
  ASSERT_TRUE(sync->Read(&first)) << sync->Finish().error_message();
  ASSERT_EQ(first.entries_size(), 2);

  SyncResponse pushed;
  ASSERT_TRUE(sync->Read(&pushed)) << sync->Finish().error_message();
  // Sent no earlier than the expiry, on the server's own clock (how soon
  // after it is a latency, not a unit of correctness).
  EXPECT_GE(absl::FromUnixMillis(pushed.server_time_unix_ms()), absl::FromUnixSeconds(expiry));
  ASSERT_EQ(pushed.entries_size(), 1);
  EXPECT_EQ(pushed.entries(0).id(), keep);
  EXPECT_GT(pushed.revision(), first.revision());

  EvpPkeyPtr wkey = std::move(GenerateKey(KeyType::kEcP256)).value();
  signet::agent::BatchNewX509SvidRequest breq;
  auto* p = breq.add_params();
  p->set_entry_id(id);
  p->set_csr(CreateCsrDer(wkey.get()).value());
  signet::agent::BatchNewX509SvidResponse bresp;
  grpc::ClientContext bctx;
  ASSERT_TRUE(stub->BatchNewX509Svid(&bctx, breq, &bresp).ok());
  ASSERT_EQ(bresp.results_size(), 1);
  EXPECT_EQ(bresp.results(0).status_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(bresp.results(0).status_message(),
            absl::StrCat("entry ", id, " is not authorized for this agent"));
  ctx.TryCancel();
}

// ThreadCount returns the number of threads of process `pid`.
int ThreadCount(pid_t pid) {
  std::string status = testutil::ReadFile(absl::StrCat("/proc/", pid, "/status"));
  size_t at = status.find("\nThreads:");
  if (at == std::string::npos) return -1;
  return std::atoi(status.c_str() + at + 9);
}

// Sync runs on gRPC's callback API: a connected stream costs no server thread,
// and a cancelled stream is released at once.
TEST_F(ServerNodeTest, SyncStreamsDoNotHoldAThreadEach) {
  TestAgent agent(server_.port(), server_.BundlePem());
  ASSERT_TRUE(agent.Attest(server_.GenerateToken()).ok());
  auto stub = agent.Stub();
  // Warm up: one stream, so the server's fixed pools exist.
  {
    grpc::ClientContext ctx;
    auto sync = stub->Sync(&ctx, signet::agent::SyncRequest());
    SyncResponse first;
    ASSERT_TRUE(sync->Read(&first));
    ctx.TryCancel();
    sync->Finish();
  }
  const int before = ThreadCount(server_.pid());
  ASSERT_GT(before, 0);
  constexpr int kStreams = 64;
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<std::unique_ptr<grpc::ClientReader<SyncResponse>>> streams;
  for (int i = 0; i < kStreams; ++i) {
    ctxs.push_back(std::make_unique<grpc::ClientContext>());
    streams.push_back(stub->Sync(ctxs.back().get(), signet::agent::SyncRequest()));
    SyncResponse first;
    ASSERT_TRUE(streams.back()->Read(&first)) << i;
  }
  const int during = ThreadCount(server_.pid());
  EXPECT_LT(during - before, 16) << "before " << before << ", during " << during;

  // Every stream still gets pushes.
  CreateEntry(server_, agent.id(), "spiffe://example.org/fanout", "unix:uid:1");
  for (auto& s : streams) {
    SyncResponse pushed;
    ASSERT_TRUE(s->Read(&pushed));
    EXPECT_EQ(pushed.entries_size(), 1);
  }
  for (int i = 0; i < kStreams; ++i) {
    ctxs[i]->TryCancel();
    EXPECT_EQ(streams[i]->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
}

TEST_F(ServerNodeTest, BannedAgentIsRefusedAtOnce) {
  TestAgent agent(server_.port(), server_.BundlePem());
  ASSERT_TRUE(agent.Attest(server_.GenerateToken()).ok());
  auto stub = agent.Stub();
  grpc::ClientContext ctx;
  auto sync = stub->Sync(&ctx, signet::agent::SyncRequest());
  SyncResponse first;
  ASSERT_TRUE(sync->Read(&first));
  RunResult r = server_.Cli({"agent", "ban", "-spiffeID", agent.id()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Agent banned successfully\n");
  SyncResponse none;
  while (sync->Read(&none)) {
  }
  grpc::Status fin = sync->Finish();
  EXPECT_EQ(fin.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(fin.error_message(), "agent is banned");
  grpc::ClientContext fctx;
  signet::agent::FetchBundleResponse fresp;
  grpc::Status fs = stub->FetchBundle(&fctx, signet::agent::FetchBundleRequest(), &fresp);
  EXPECT_EQ(fs.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(fs.error_message().find("is banned"), std::string::npos) << fs.error_message();
}

TEST_F(ServerNodeTest, CallsWithoutAgentSvidAreUnauthenticated) {
  TestAgent agent(server_.port(), server_.BundlePem());
  auto stub = signet::agent::Node::NewStub(agent.Channel(false));
  grpc::ClientContext ctx;
  signet::agent::FetchBundleResponse resp;
  grpc::Status s = stub->FetchBundle(&ctx, signet::agent::FetchBundleRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "an agent SVID is required for this call");
}

TEST_F(ServerNodeTest, JoinTokenWithSpiffeIdAuthorizesAliasChildren) {
  std::string token = server_.GenerateToken("spiffe://example.org/cluster/a");
  TestAgent agent(server_.port(), server_.BundlePem());
  ASSERT_TRUE(agent.Attest(token).ok());
  std::string id = CreateEntry(server_, "spiffe://example.org/cluster/a", "spiffe://example.org/db",
                               "unix:uid:5");
  auto stub = agent.Stub();
  grpc::ClientContext ctx;
  auto sync = stub->Sync(&ctx, signet::agent::SyncRequest());
  SyncResponse first;
  ASSERT_TRUE(sync->Read(&first));
  bool found = false;
  for (const auto& e : first.entries()) found |= e.id() == id;
  EXPECT_TRUE(found);
  ctx.TryCancel();
}

}  // namespace
}  // namespace signet::servertest
