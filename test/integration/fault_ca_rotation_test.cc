// Fault/scale test with real processes: 1,000 concurrently open Workload API
// streams survive a CA rotation (tiny ca_ttl); every stream receives an SVID
// signed by the new CA, and the agent's memory and descriptors stay bounded.
#include <openssl/x509v3.h>
#include <sys/resource.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "test/integration/fault_agent_fixture.h"

namespace signet::faulttest {
namespace {

// IssuerKeyId returns the hex authority key id of the first cert of `der`.
std::string IssuerKeyId(const std::string& der) {
  auto chain = ParseCertsDer(der);
  if (!chain.ok() || chain->empty()) return "";
  const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id((*chain)[0].get());
  if (akid == nullptr) return "";
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(ASN1_STRING_get0_data(akid)), ASN1_STRING_length(akid)));
}

TEST(FaultCaRotationTest, ThousandOpenStreamsEachGetTheNewCasSvid) {
  constexpr int kStreams = 1000;
  constexpr int kConnections = 100;  // 10 streams per connection
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < 8192 && rl.rlim_max > rl.rlim_cur) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 65536);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);  // inherited by server and agent
  }
  ServerProcess server(
      "  ca_ttl: \"20s\"\n  default_x509_svid_ttl: \"10s\"\n  default_jwt_svid_ttl: \"10s\"\n");
  ASSERT_TRUE(server.Start()) << server.Logs();
  AgentProcess agent(server, server.BundlePem());
  std::string token = server.GenerateToken();
  ASSERT_TRUE(agent.Start(token)) << agent.Logs();
  RunResult c =
      server.Cli({"entry", "create", "-parentID",
                  "spiffe://example.org/spire/agent/join_token/" + token, "-spiffeID",
                  "spiffe://example.org/many", "-selector", absl::StrCat("unix:uid:", geteuid())});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  ASSERT_TRUE(testutil::WaitFor([&] {
    return agent.Cli({"api", "fetch", "x509"}).exit_code == 0;
  })) << agent.Logs();
  long rss_before = RssKb(agent.pid());

  std::vector<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stubs;
  for (int i = 0; i < kConnections; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    stubs.push_back(SpiffeWorkloadAPI::NewStub(grpc::CreateCustomChannel(
        "unix:" + agent.socket(), grpc::InsecureChannelCredentials(), args)));
  }
  std::vector<std::string> first_issuer(kStreams);
  std::vector<char> rotated(kStreams, 0);
  std::vector<grpc::StatusCode> ended(kStreams, grpc::StatusCode::OK);
  std::atomic<int> opened{0}, done{0};
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  for (int i = 0; i < kStreams; ++i) ctxs.push_back(Ctx(true, absl::Seconds(120)));
  std::vector<std::thread> threads;
  threads.reserve(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      auto reader = stubs[i % kConnections]->FetchX509SVID(ctxs[i].get(), X509SVIDRequest());
      X509SVIDResponse m;
      if (reader->Read(&m) && m.svids_size() == 1) {
        first_issuer[i] = IssuerKeyId(m.svids(0).x509_svid());
        ++opened;
        while (reader->Read(&m)) {
          if (m.svids_size() == 1 && IssuerKeyId(m.svids(0).x509_svid()) != first_issuer[i]) {
            rotated[i] = 1;
            break;
          }
        }
      }
      ++done;
      if (!rotated[i]) ended[i] = reader->Finish().error_code();
    });
  }
  EXPECT_TRUE(testutil::WaitFor([&] { return opened + 0 == kStreams || done == kStreams; },
                                absl::Seconds(60)))
      << opened << " of " << kStreams << " streams opened";
  long rss_open = RssKb(agent.pid());
  int fds_open = CountFds(agent.pid());
  // Wait for the rotation to reach every stream (ca_ttl 20s: the next CA is
  // activated at about half of it).
  EXPECT_TRUE(testutil::WaitFor([&] { return done == kStreams; }, absl::Seconds(90)));
  for (auto& c : ctxs) c->TryCancel();
  for (auto& t : threads) t.join();
  int rotated_count = 0;
  for (int i = 0; i < kStreams; ++i) {
    rotated_count += rotated[i];
    if (!rotated[i]) ADD_FAILURE() << "stream " << i << " ended with " << ended[i];
    if (rotated_count == 0 && i > 5) break;  // one message is enough
  }
  EXPECT_EQ(rotated_count, kStreams);
  EXPECT_TRUE(agent.Running()) << agent.Logs();
  // Memory: 1,000 streams should not cost more than ~200 KB each.
  EXPECT_LT(rss_open - rss_before, 200L * kStreams)
      << "RSS before " << rss_before << " kB, with streams " << rss_open << " kB";
  // No descriptor per stream: while streams are open each connection's
  // cached caller holds two (its pidfd and its /proc/<pid>/status).
  EXPECT_LE(fds_open, CountFds(agent.pid()) + 2 * kConnections + 10);
  std::cerr << "agent RSS " << rss_before << " kB -> " << rss_open << " kB with " << kStreams
            << " streams; fds " << fds_open << "\n";
}

}  // namespace
}  // namespace signet::faulttest
