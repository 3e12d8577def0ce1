#include "client/tls.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/synchronization/notification.h"
#include "client/x509_source.h"
#include "gtest/gtest.h"
#include "test/client/fake_workload_api.h"

namespace signet::client {
namespace {

using clienttest::FakeWorkloadApi;
using clienttest::TestCa;

// Workload is one fake Workload API plus the X509Source reading it.
struct Workload {
  Workload(const TestCa& ca, const std::string& id) {
    api.PushX509(ca.Response(id));
    WorkloadApiOptions o;
    o.address = api.Address();
    o.backoff_unit = absl::Milliseconds(10);
    auto s = X509Source::Create(o);
    EXPECT_TRUE(s.ok()) << s.status();
    source = *std::move(s);
  }
  // Rotate pushes a new SVID for `id` and waits until the source has it.
  void Rotate(const TestCa& ca, const std::string& id) {
    absl::Notification n;
    int cb = source->AddUpdateCallback([&](const X509Context&) {
      if (!n.HasBeenNotified()) n.Notify();
    });
    api.PushX509(ca.Response(id));
    ASSERT_TRUE(n.WaitForNotificationWithTimeout(absl::Seconds(10)));
    source->RemoveUpdateCallback(cb);
  }
  FakeWorkloadApi api;
  std::unique_ptr<X509Source> source;
};

// Connection is a TLS connection over a socketpair, both ends in-process.
struct Connection {
  SslPtr server;
  SslPtr client;
  int fds[2] = {-1, -1};
  bool server_ok = false;
  bool client_ok = false;
  ~Connection() {
    server.reset();
    client.reset();
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  // RoundTrip sends "ping" client->server and "pong" back.
  bool RoundTrip() {
    bool server_side = false;
    std::thread t([&] {
      char buf[4];
      if (SSL_read(server.get(), buf, 4) != 4) return;
      server_side = SSL_write(server.get(), "pong", 4) == 4;
    });
    char buf[4] = {};
    bool ok = SSL_write(client.get(), "ping", 4) == 4 && SSL_read(client.get(), buf, 4) == 4 &&
              std::string(buf, 4) == "pong";
    if (!ok) shutdown(fds[1], SHUT_RDWR);
    t.join();
    ClearOpensslErrors();
    return ok && server_side;
  }
  std::string PeerSerialSeenByClient() {
    X509Ptr cert(SSL_get1_peer_certificate(client.get()));
    return cert ? CertSerialHex(cert.get()) : "";
  }
};

std::unique_ptr<Connection> Connect(SSL_CTX* server_ctx, SSL_CTX* client_ctx) {
  signal(SIGPIPE, SIG_IGN);  // writes to a refused peer must fail, not kill us
  auto c = std::make_unique<Connection>();
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, c->fds), 0);
  c->server.reset(SSL_new(server_ctx));
  c->client.reset(SSL_new(client_ctx));
  SSL_set_fd(c->server.get(), c->fds[0]);
  SSL_set_fd(c->client.get(), c->fds[1]);
  std::thread t([&] {
    c->server_ok = SSL_accept(c->server.get()) == 1;
    if (!c->server_ok) shutdown(c->fds[0], SHUT_RDWR);
    ClearOpensslErrors();
  });
  c->client_ok = SSL_connect(c->client.get()) == 1;
  if (!c->client_ok) shutdown(c->fds[1], SHUT_RDWR);
  ClearOpensslErrors();
  t.join();
  return c;
}

class TlsTest : public ::testing::Test {
 protected:
  TestCa ca_{"example.org"};
  Workload server_{ca_, "spiffe://example.org/server"};
  Workload client_{ca_, "spiffe://example.org/client"};
  SpiffeId server_id_ = *SpiffeId::FromString("spiffe://example.org/server");
  SpiffeId client_id_ = *SpiffeId::FromString("spiffe://example.org/client");

  SslCtxPtr ServerCtx(Authorizer a) {
    auto ctx = MakeTlsServerContext(*server_.source, *server_.source, std::move(a));
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return *std::move(ctx);
  }
  SslCtxPtr ClientCtx(const Workload& w, Authorizer a) {
    auto ctx = MakeTlsClientContext(*w.source, *w.source, std::move(a));
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return *std::move(ctx);
  }
};

TEST_F(TlsTest, AuthorizedPeersConnect) {
  SslCtxPtr s = ServerCtx(AuthorizeId(client_id_));
  SslCtxPtr c = ClientCtx(client_, AuthorizeId(server_id_));
  auto conn = Connect(s.get(), c.get());
  ASSERT_TRUE(conn->server_ok);
  ASSERT_TRUE(conn->client_ok);
  EXPECT_TRUE(conn->RoundTrip());
  EXPECT_EQ(*PeerSpiffeId(conn->server.get()), client_id_);
  EXPECT_EQ(*PeerSpiffeId(conn->client.get()), server_id_);
  EXPECT_TRUE(PeerVerificationStatus(conn->server.get()).ok());
  EXPECT_GE(SSL_version(conn->client.get()), TLS1_2_VERSION);
}

TEST_F(TlsTest, ServerAuthorizerRefusesThirdIdentity) {
  Workload intruder(ca_, "spiffe://example.org/intruder");
  SslCtxPtr s = ServerCtx(AuthorizeId(client_id_));
  SslCtxPtr c = ClientCtx(intruder, AuthorizeId(server_id_));
  auto conn = Connect(s.get(), c.get());
  EXPECT_FALSE(conn->server_ok);
  EXPECT_FALSE(conn->RoundTrip());
  absl::Status st = PeerVerificationStatus(conn->server.get());
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "unexpected ID \"spiffe://example.org/intruder\"");
  EXPECT_EQ(PeerSpiffeId(conn->server.get()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TlsTest, ClientAuthorizerRefusesUnexpectedServer) {
  SslCtxPtr s = ServerCtx(AuthorizeAny());
  SslCtxPtr c = ClientCtx(client_, AuthorizeId(*SpiffeId::FromString("spiffe://example.org/db")));
  auto conn = Connect(s.get(), c.get());
  EXPECT_FALSE(conn->client_ok);
  absl::Status st = PeerVerificationStatus(conn->client.get());
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "unexpected ID \"spiffe://example.org/server\"");
}

TEST_F(TlsTest, RefusesPeerFromAnotherTrustDomain) {
  TestCa other("other.org");
  Workload foreign(other, "spiffe://other.org/client");
  SslCtxPtr s = ServerCtx(AuthorizeAny());
  // The foreign client trusts our server (so only the server's check decides).
  auto c = *MakeTlsClientContext(*foreign.source, *client_.source, AuthorizeAny());
  auto conn = Connect(s.get(), c.get());
  EXPECT_FALSE(conn->server_ok);
  EXPECT_FALSE(conn->RoundTrip());
  absl::Status st = PeerVerificationStatus(conn->server.get());
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "no bundle for trust domain \"other.org\"");
}

TEST_F(TlsTest, RefusesPeerClaimingOurTrustDomainSignedByAnother) {
  TestCa impostor("example.org");  // a different CA for the same name
  Workload forged(impostor, "spiffe://example.org/client");
  SslCtxPtr s = ServerCtx(AuthorizeAny());
  auto c = *MakeTlsClientContext(*forged.source, *client_.source, AuthorizeAny());
  auto conn = Connect(s.get(), c.get());
  EXPECT_FALSE(conn->server_ok);
  absl::Status st = PeerVerificationStatus(conn->server.get());
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("X.509-SVID verification failed"), std::string::npos) << st;
}

TEST_F(TlsTest, NewConnectionAfterRotationUsesNewSvidOldOneStaysUp) {
  SslCtxPtr s = ServerCtx(AuthorizeMemberOf(ca_.td()));
  SslCtxPtr c = ClientCtx(client_, AuthorizeId(server_id_));
  auto old_conn = Connect(s.get(), c.get());
  ASSERT_TRUE(old_conn->server_ok && old_conn->client_ok);
  ASSERT_TRUE(old_conn->RoundTrip());
  std::string old_serial = old_conn->PeerSerialSeenByClient();
  EXPECT_EQ(old_serial, CertSerialHex(server_.source->GetX509Svid()->chain[0].get()));

  server_.Rotate(ca_, "spiffe://example.org/server");
  std::string new_serial = CertSerialHex(server_.source->GetX509Svid()->chain[0].get());
  ASSERT_NE(new_serial, old_serial);

  auto new_conn = Connect(s.get(), c.get());
  ASSERT_TRUE(new_conn->server_ok && new_conn->client_ok);
  EXPECT_TRUE(new_conn->RoundTrip());
  EXPECT_EQ(new_conn->PeerSerialSeenByClient(), new_serial);
  // The connection made before the rotation keeps working with its SVID.
  EXPECT_TRUE(old_conn->RoundTrip());
  EXPECT_EQ(old_conn->PeerSerialSeenByClient(), old_serial);
}

TEST_F(TlsTest, VerifyPeerWithoutBundlesIsUnavailable) {
  StaticX509Source empty(nullptr, nullptr);
  auto r = VerifyPeer({}, empty, AuthorizeAny(), absl::Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  std::vector<X509Ptr> chain;
  chain.push_back(CopyCert(client_.source->GetX509Svid()->chain[0].get()));
  r = VerifyPeer(chain, empty, AuthorizeAny(), absl::Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "no X.509 bundles available yet");
}

}  // namespace
}  // namespace signet::client
