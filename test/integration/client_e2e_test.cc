// End-to-end tests of the client library through a real signet-server and
// signet-agent: the mTLS echo examples (OpenSSL) and the gRPC greeter run as
// real workload processes under different uids, get different identities,
// authorize each other, refuse a third identity and pick up rotations.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/integration/client_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using clienttest::CountLines;
using clienttest::Deployment;
using clienttest::ExampleBinary;
using ::testing::HasSubstr;
using testutil::RunResult;

constexpr char kServerId[] = "spiffe://example.org/web";
constexpr char kClientId[] = "spiffe://example.org/client";
constexpr char kIntruderId[] = "spiffe://example.org/intruder";
constexpr uid_t kServerUid = testutil::kTestUidA;  // 65534
constexpr uid_t kClientUid = testutil::kTestUidB;  // 65533
constexpr uid_t kIntruderUid = 65532;

std::string UidSelector(uid_t uid) { return absl::StrCat("unix:uid:", uid); }

testutil::ProcessOptions As(uid_t uid) {
  testutil::ProcessOptions o;
  o.uid = uid;
  o.gid = uid;
  return o;
}

// SerialAfter returns the hex serial printed after "<prefix>... serial " on
// the first line of `out` that starts with `prefix`; "" if none.
std::string SerialAfter(const std::string& out, const std::string& prefix) {
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (!absl::StartsWith(line, prefix)) continue;
    size_t at = line.find(" serial ");
    if (at != absl::string_view::npos) return std::string(line.substr(at + 8));
  }
  return "";
}

class ClientE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testutil::IsRoot()) {
      GTEST_SKIP() << "needs root to run the workloads under uids 65534, 65533 and 65532";
    }
    std::string error;
    ASSERT_TRUE(deployment_.Start(&error)) << error;
  }

  // RegisterWorkloads creates the three identities, the server's with
  // `server_extra` CLI flags, and waits until each uid is issued its own.
  void RegisterWorkloads(const std::vector<std::string>& server_extra = {}) {
    deployment_.Register(kServerId, {UidSelector(kServerUid)}, server_extra);
    deployment_.Register(kClientId, {UidSelector(kClientUid)});
    deployment_.Register(kIntruderId, {UidSelector(kIntruderUid)});
    ASSERT_TRUE(deployment_.WaitForIdentity(kServerId, kServerUid));
    ASSERT_TRUE(deployment_.WaitForIdentity(kClientId, kClientUid));
    ASSERT_TRUE(deployment_.WaitForIdentity(kIntruderId, kIntruderUid));
  }

  // StartEchoServer runs mtls_echo_server as the server uid, accepting only
  // the client identity; returns its port (0 on failure).
  int StartEchoServer() {
    echo_server_ = std::make_unique<testutil::Subprocess>(
        std::vector<std::string>{ExampleBinary("mtls_echo_server"), "-addr", deployment_.address(),
                                 "-port", "0", "-allow", kClientId},
        As(kServerUid));
    int port = clienttest::ListeningPort(echo_server_.get(), "listening on ");
    EXPECT_GT(port, 0) << echo_server_->Stdout() << echo_server_->Stderr();
    EXPECT_THAT(echo_server_->Stdout(), HasSubstr(absl::StrCat(" as ", kServerId)));
    return port;
  }

  std::vector<std::string> EchoClientArgs(int port, const std::string& message,
                                          const std::string& server_id = kServerId) {
    return {ExampleBinary("mtls_echo_client"),
            "-addr",
            deployment_.address(),
            "-port",
            absl::StrCat(port),
            "-server",
            server_id,
            "-message",
            message};
  }

  Deployment deployment_;
  std::unique_ptr<testutil::Subprocess> echo_server_;
};

TEST_F(ClientE2ETest, TwoUidsGetDifferentIdentitiesAndTalkMtls) {
  RegisterWorkloads();
  int port = StartEchoServer();
  ASSERT_GT(port, 0);
  RunResult c = testutil::Run(EchoClientArgs(port, "hello-signet"), As(kClientUid));
  ASSERT_EQ(c.exit_code, 0) << c.out << c.err << deployment_.Logs();
  EXPECT_THAT(c.out, HasSubstr(absl::StrCat("server ", kServerId, " serial ")));
  EXPECT_EQ(CountLines(c.out, "hello-signet"), 1) << c.out;
  ASSERT_TRUE(
      testutil::WaitFor([&] { return absl::StrContains(echo_server_->Stdout(), "accepted "); }));
  EXPECT_THAT(echo_server_->Stdout(), HasSubstr(absl::StrCat("accepted ", kClientId, " serial ")));
}

TEST_F(ClientE2ETest, ThirdIdentityIsRefusedByTheServerAuthorizer) {
  RegisterWorkloads();
  int port = StartEchoServer();
  ASSERT_GT(port, 0);
  RunResult c = testutil::Run(EchoClientArgs(port, "let-me-in"), As(kIntruderUid));
  EXPECT_EQ(c.exit_code, 1) << c.out << c.err;
  EXPECT_THAT(c.out, ::testing::Not(HasSubstr("let-me-in")));
  // TLS 1.3: the server checks the client certificate after the client's
  // handshake completed, so the refusal arrives as an alert on the first read.
  EXPECT_EQ(c.err,
            "mTLS failed: echo: error:0A000410:SSL routines::sslv3 alert handshake failure (SSL "
            "alert number 40)\n");
  ASSERT_TRUE(
      testutil::WaitFor([&] { return absl::StrContains(echo_server_->Stdout(), "refused: "); }));
  EXPECT_THAT(
      echo_server_->Stdout(),
      HasSubstr(absl::StrCat("refused: PERMISSION_DENIED: unexpected ID \"", kIntruderId, "\"")));
  EXPECT_THAT(echo_server_->Stdout(), ::testing::Not(HasSubstr("accepted ")));
}

TEST_F(ClientE2ETest, ClientRefusesAServerWithAnotherId) {
  RegisterWorkloads();
  int port = StartEchoServer();
  ASSERT_GT(port, 0);
  RunResult c = testutil::Run(EchoClientArgs(port, "hello", "spiffe://example.org/elsewhere"),
                              As(kClientUid));
  EXPECT_EQ(c.exit_code, 1) << c.out << c.err;
  EXPECT_THAT(c.err, HasSubstr(absl::StrCat(
                         "mTLS failed: server refused by us: PERMISSION_DENIED: unexpected ID \"",
                         kServerId, "\"")));
}

TEST_F(ClientE2ETest, NewConnectionUsesRotatedSvidWhileOldConnectionKeepsWorking) {
  RegisterWorkloads({"-x509SVIDTTL", "5"});
  int port = StartEchoServer();
  ASSERT_GT(port, 0);
  // An old connection: 60 echoes, 250 ms apart (15 s, beyond the 5 s TTL of
  // the server SVID it was opened with).
  std::vector<std::string> args = EchoClientArgs(port, "tick");
  args.insert(args.end(), {"-count", "60", "-interval", "250ms"});
  testutil::Subprocess old_conn(args, As(kClientUid));
  ASSERT_TRUE(testutil::WaitFor([&] { return CountLines(old_conn.Stdout(), "tick") >= 1; }))
      << old_conn.Stdout() << old_conn.Stderr();
  std::string old_serial = SerialAfter(old_conn.Stdout(), "server ");
  ASSERT_FALSE(old_serial.empty()) << old_conn.Stdout();

  // New connections until one is served with a rotated SVID.
  RunResult fresh;
  std::string new_serial;
  ASSERT_TRUE(testutil::WaitFor(
      [&] {
        fresh = testutil::Run(EchoClientArgs(port, "fresh"), As(kClientUid));
        new_serial = SerialAfter(fresh.out, "server ");
        return fresh.exit_code == 0 && !new_serial.empty() && new_serial != old_serial;
      },
      absl::Seconds(30)))
      << fresh.out << fresh.err << deployment_.Logs();
  EXPECT_EQ(CountLines(fresh.out, "fresh"), 1);
  int echoes_at_rotation = CountLines(old_conn.Stdout(), "tick");

  // The old connection still works with the old SVID and finishes cleanly.
  EXPECT_EQ(old_conn.Wait(absl::Seconds(40)), 0) << old_conn.Stdout() << old_conn.Stderr();
  EXPECT_EQ(CountLines(old_conn.Stdout(), "tick"), 60) << old_conn.Stderr();
  EXPECT_LT(echoes_at_rotation, 60);
  EXPECT_EQ(SerialAfter(old_conn.Stdout(), "server "), old_serial);
}

TEST_F(ClientE2ETest, GreeterAuthorizesBySpiffeIdAndRefusesTheThirdIdentity) {
  RegisterWorkloads();
  testutil::Subprocess server(
      {ExampleBinary("greeter_server"), "-addr", deployment_.address(), "-port", "0", "-allow",
       absl::StrCat(kClientId, ",spiffe://example.org/other")},
      As(kServerUid));
  int port = clienttest::ListeningPort(&server, "greeter listening on ");
  ASSERT_GT(port, 0) << server.Stdout() << server.Stderr();
  std::vector<std::string> args{ExampleBinary("greeter_client"),
                                "-addr",
                                deployment_.address(),
                                "-port",
                                absl::StrCat(port),
                                "-server",
                                kServerId,
                                "-name",
                                "signet"};
  RunResult ok = testutil::Run(args, As(kClientUid));
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err << server.Stderr();
  EXPECT_EQ(ok.out, absl::StrCat("Hello signet (", kClientId, ")\n"));

  RunResult refused = testutil::Run(args, As(kIntruderUid));
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  // gRPC sees the server's refusal (after its TLS 1.3 handshake) as a closed
  // socket while connecting.
  EXPECT_THAT(refused.err,
              HasSubstr("SayHello failed: failed to connect to all addresses; last error: "
                        "UNAVAILABLE: "));
  EXPECT_THAT(refused.err, HasSubstr("Socket closed"));
  EXPECT_THAT(refused.out, ::testing::Not(HasSubstr("Hello")));
  ASSERT_TRUE(testutil::WaitFor([&] {
    return absl::StrContains(server.Stderr(), "gRPC TLS peer refused");
  })) << server.Stderr();
  EXPECT_THAT(server.Stderr(), HasSubstr(absl::StrCat("PERMISSION_DENIED: unexpected ID \\\"",
                                                      kIntruderId, "\\\"")));
}

}  // namespace
}  // namespace signet
