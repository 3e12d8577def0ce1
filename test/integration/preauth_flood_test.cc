// Unauthenticated peers against the Node API of a real signet-server process:
// a flood of concurrent Attest streams with oversized payloads, more
// concurrent attestations than the server admits, an Attest stream that never
// sends its request, and a TCP peer that never starts the TLS handshake. None
// of them presents a client certificate. Meanwhile agents still attest (the
// real agent waits out a full server) and an authenticated agent's largest
// batch still goes through. SECURITY.md, "Server Node API before
// authentication", states the bounds these tests check.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

using signet::agent::AttestRequest;
using signet::agent::AttestResponse;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::MatchesRegex;

// The server's refusal beyond its limit of concurrent attestations, for the
// default limit (32) and the one the cap test configures (2).
constexpr char kTooManyDefault[] = "8: too many concurrent attestations (at most 32); retry later";
constexpr char kTooManyMessage[] = "too many concurrent attestations (at most 2); retry later";

// RssKiB returns VmRSS of `pid` in KiB, or -1.
int64_t RssKiB(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::string v = line.substr(6);
      v.erase(v.find("kB"));
      int64_t kib;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &kib)) return kib;
    }
  }
  return -1;
}

// UnauthenticatedChannel is a TLS channel that trusts the server's bundle and
// presents no client certificate; each has its own TCP connection.
std::shared_ptr<grpc::Channel> UnauthenticatedChannel(int port, const std::string& bundle_pem) {
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(bundle_pem);
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(provider);
  opts.watch_root_certs();
  opts.set_check_call_host(false);
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("signet-server");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::experimental::TlsCredentials(opts), args);
}

AttestRequest JoinTokenRequest(const std::string& token) {
  EvpPkeyPtr key = std::move(GenerateKey(KeyType::kEcP256)).value();
  AttestRequest req;
  req.mutable_params()->mutable_data()->set_type("join_token");
  req.mutable_params()->mutable_data()->set_payload(token);
  req.mutable_params()->set_csr(CreateCsrDer(key.get()).value());
  return req;
}

// HeldAttest is an Attest stream that the server has admitted (its initial
// metadata arrived) and that sends nothing.
struct HeldAttest {
  grpc::ClientContext ctx;
  std::unique_ptr<signet::agent::Node::Stub> stub;
  std::unique_ptr<grpc::ClientReaderWriter<AttestRequest, AttestResponse>> stream;

  HeldAttest(int port, const std::string& bundle_pem) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    stub = signet::agent::Node::NewStub(UnauthenticatedChannel(port, bundle_pem));
    stream = stub->Attest(&ctx);
  }
};

class PreauthFloodTest : public ::testing::Test {
 protected:
  void Start(const std::string& extra_yaml = "") {
    server_ = std::make_unique<ServerProcess>(extra_yaml);
    ASSERT_TRUE(server_->Start()) << server_->Logs();
    bundle_ = server_->BundlePem();
  }

  // AttestWithJoinToken attests a fresh agent with a new join token.
  grpc::Status AttestWithJoinToken() {
    TestAgent agent(server_->port(), bundle_);
    return agent.Attest(server_->GenerateToken());
  }

  std::unique_ptr<ServerProcess> server_;
  std::string bundle_;
};

TEST_F(PreauthFloodTest, FloodOfOversizedAttestsIsRefusedAndLeavesRssBounded) {
  ASSERT_NO_FATAL_FAILURE(Start());
  // Warm up the paths a legitimate attestation takes before measuring.
  ASSERT_TRUE(AttestWithJoinToken().ok());
  const int64_t before = RssKiB(server_->pid());
  ASSERT_GT(before, 0);

  constexpr int kStreams = 40;
  const std::string payload(15 << 20, 'T');
  std::vector<grpc::Status> statuses(kStreams);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      auto stub = signet::agent::Node::NewStub(UnauthenticatedChannel(server_->port(), bundle_));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      auto stream = stub->Attest(&ctx);
      AttestRequest req = JoinTokenRequest(payload);
      stream->Write(req);
      stream->WritesDone();
      AttestResponse resp;
      while (stream->Read(&resp)) {
      }
      statuses[i] = stream->Finish();
    });
  }
  for (std::thread& t : threads) t.join();
  const int64_t after = RssKiB(server_->pid());

  // Each stream is refused before its payload is looked at: beyond the
  // attestation limit, by gRPC's message limit, or by the memory quota
  // (RST_STREAM ENHANCE_YOUR_CALM for a stream, GOAWAY or a closed socket for a
  // connection). None reaches the join-token check.
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_THAT(
        absl::StrCat(statuses[i].error_code(), ": ", statuses[i].error_message()),
        AnyOf(Eq(kTooManyDefault),
              MatchesRegex("8: Received message larger than max \\(157288[0-9]+ vs\\. "
                           "4194304\\)"),
              Eq("8: Received RST_STREAM with error code 11"), Eq("14: GOAWAY received"),
              Eq("14: Broken pipe"), Eq("14: Socket closed"), Eq("14: Connection reset by peer")))
        << i;
  }
  std::cerr << "VmRSS " << before << " kB before, " << after << " kB after\n";
  EXPECT_LT(after - before, 50 * 1024)
      << "VmRSS " << before << " kB before, " << after << " kB after";
  // A legitimate agent still attests.
  grpc::Status legit = AttestWithJoinToken();
  EXPECT_TRUE(legit.ok()) << legit.error_message();
}

TEST_F(PreauthFloodTest, AgentRetriesWhileTheServerIsAtItsAttestationLimit) {
  ASSERT_NO_FATAL_FAILURE(Start("  attestation_max_concurrent: 1\n"));
  auto held = std::make_unique<HeldAttest>(server_->port(), bundle_);
  held->stream->WaitForInitialMetadata();
  faulttest::AgentProcess agent(*server_, bundle_);
  ASSERT_TRUE(agent.Start(server_->GenerateToken(), /*wait_healthy=*/false)) << agent.Logs();
  // Refused while the slot is taken, and retrying rather than exiting.
  ASSERT_TRUE(testutil::WaitFor([&] {
    return absl::StrContains(agent.Logs(),
                             "too many concurrent attestations (at most 1); retry later") ||
           !agent.Running();
  })) << agent.Logs();
  ASSERT_TRUE(agent.Running()) << agent.Logs();
  held->ctx.TryCancel();
  held.reset();
  EXPECT_TRUE(testutil::WaitFor([&] {
    return !agent.Running() || agent.Cli({"healthcheck"}).exit_code == 0;
  })) << agent.Logs();
  EXPECT_TRUE(agent.Running()) << agent.Logs();
}

TEST_F(PreauthFloodTest, AttestMessageOverTheLimitIsResourceExhausted) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto stub = signet::agent::Node::NewStub(UnauthenticatedChannel(server_->port(), bundle_));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->Attest(&ctx);
  // Within gRPC's message limit, over the Attest one.
  AttestRequest req = JoinTokenRequest(std::string(100 << 10, 'T'));
  const size_t size = req.ByteSizeLong();
  stream->Write(req);
  stream->WritesDone();
  AttestResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(s.error_message(), absl::StrCat("attestation message of ", size,
                                            " bytes is over the limit of 65536 bytes"));
}

TEST_F(PreauthFloodTest, AttestsBeyondTheConcurrencyCapAreResourceExhausted) {
  ASSERT_NO_FATAL_FAILURE(Start("  attestation_max_concurrent: 2\n"));
  std::vector<std::unique_ptr<HeldAttest>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<HeldAttest>(server_->port(), bundle_));
    // The server sends initial metadata once it has admitted the stream.
    held.back()->stream->WaitForInitialMetadata();
  }
  // A third unauthenticated attestation, even a legitimate one, is refused.
  grpc::Status third = AttestWithJoinToken();
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();
  EXPECT_EQ(third.error_message(), kTooManyMessage);

  // Once the held streams go away the slots are free again.
  for (auto& h : held) h->ctx.TryCancel();
  held.clear();
  grpc::Status legit;
  EXPECT_TRUE(testutil::WaitFor([&] {
    legit = AttestWithJoinToken();
    return legit.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED;
  }));
  EXPECT_TRUE(legit.ok()) << legit.error_message();
}

TEST_F(PreauthFloodTest, AttestThatNeverSendsItsRequestIsCutOff) {
  ASSERT_NO_FATAL_FAILURE(Start("  attestation_timeout: \"1s\"\n"));
  HeldAttest h(server_->port(), bundle_);
  h.stream->WaitForInitialMetadata();
  AttestResponse resp;
  EXPECT_FALSE(h.stream->Read(&resp));
  grpc::Status s = h.stream->Finish();
  // The server cancels the call (its deadline is not the client's, so the
  // client sees CANCELLED) and logs why.
  EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED) << s.error_message();
  EXPECT_EQ(s.error_message(), "Cancelled on the server side");
  EXPECT_TRUE(testutil::WaitFor([&] {
    return absl::StrContains(server_->Logs(), "attestation not completed within 1s");
  })) << server_->Logs();
  // The slot was released: a legitimate agent attests.
  grpc::Status legit = AttestWithJoinToken();
  EXPECT_TRUE(legit.ok()) << legit.error_message();
}

TEST_F(PreauthFloodTest, LargestBatchOfAnAuthenticatedAgentStillWorks) {
  ASSERT_NO_FATAL_FAILURE(Start());
  TestAgent agent(server_->port(), bundle_);
  ASSERT_TRUE(agent.Attest(server_->GenerateToken()).ok());
  RunResult r = server_->Cli({"entry", "create", "-parentID", agent.id(), "-spiffeID",
                              "spiffe://example.org/batch", "-selector", "unix:uid:1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string entry = ServerProcess::Field(r.out, "Entry ID");
  // The server's largest batch, RSA-2048 CSRs: far more than one Attest
  // message may carry, well within the Node API's message limit.
  EvpPkeyPtr key = std::move(GenerateKey(KeyType::kRsa2048)).value();
  const std::string csr = CreateCsrDer(key.get()).value();
  signet::agent::BatchNewX509SvidRequest req;
  for (int i = 0; i < 1000; ++i) {
    auto* p = req.add_params();
    p->set_entry_id(entry);
    p->set_csr(csr);
  }
  ASSERT_GT(req.ByteSizeLong(), 500u << 10);
  signet::agent::BatchNewX509SvidResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  grpc::Status s = agent.Stub()->BatchNewX509Svid(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  ASSERT_EQ(resp.results_size(), 1000);
  for (const auto& res : resp.results()) {
    EXPECT_EQ(res.status_code(), 0) << res.status_message();
    EXPECT_EQ(res.svid().spiffe_id(), "spiffe://example.org/batch");
  }
  // And the agent's Sync stream delivers the entry.
  grpc::ClientContext sctx;
  sctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto sync = agent.Stub()->Sync(&sctx, signet::agent::SyncRequest());
  signet::agent::SyncResponse first;
  ASSERT_TRUE(sync->Read(&first));
  ASSERT_EQ(first.entries_size(), 1);
  EXPECT_EQ(first.entries(0).spiffe_id(), "spiffe://example.org/batch");
  sctx.TryCancel();
}

TEST_F(PreauthFloodTest, TcpPeerThatNeverHandshakesIsDisconnected) {
  ASSERT_NO_FATAL_FAILURE(Start("  tls_handshake_timeout: \"1s\"\n"));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(server_->port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  // Generous: the server is expected to close after about a second; without
  // a handshake deadline gRPC waits 120 s and recv times out first.
  timeval tv{60, 0};
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  char buf[64];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  int err = errno;
  close(fd);
  EXPECT_EQ(n, 0) << "recv: " << (n < 0 ? strerror(err) : "data");
  // The server is still serving.
  grpc::Status legit = AttestWithJoinToken();
  EXPECT_TRUE(legit.ok()) << legit.error_message();
}

}  // namespace
}  // namespace signet::servertest
