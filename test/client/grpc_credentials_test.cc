// gRPC mTLS with SPIFFE authorization over TCP loopback, with credentials from
// fake Workload APIs. The service under test is SpiffeWorkloadAPI itself
// (FetchJWTSVID answers with the caller's SPIFFE ID), only as a handy proto.
#include "client/grpc_credentials.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test/client/fake_workload_api.h"

namespace signet::client {
namespace {

using clienttest::FakeWorkloadApi;
using clienttest::TestCa;

// WhoAmI answers FetchJWTSVID with the authenticated peer's SPIFFE ID.
class WhoAmI final : public SpiffeWorkloadAPI::Service {
  grpc::Status FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest*,
                            JWTSVIDResponse* resp) override {
    absl::StatusOr<SpiffeId> id = PeerSpiffeIdFromAuthContext(*ctx->auth_context());
    if (!id.ok()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no peer");
    resp->add_svids()->set_spiffe_id(id->ToString());
    return grpc::Status::OK;
  }
};

struct Workload {
  Workload(const TestCa& ca, const std::string& id) {
    api.PushX509(ca.Response(id));
    WorkloadApiOptions o;
    o.address = api.Address();
    o.backoff_unit = absl::Milliseconds(10);
    source = *X509Source::Create(o);
  }
  FakeWorkloadApi api;
  std::unique_ptr<X509Source> source;
};

class GrpcCredentialsTest : public ::testing::Test {
 protected:
  void StartServer(Authorizer a) {
    server_creds_ = *GrpcTlsCredentials::Create(server_.source.get(), std::move(a));
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", server_creds_->ServerCredentials(), &port_);
    b.RegisterService(&service_);
    grpc_server_ = b.BuildAndStart();
    ASSERT_NE(grpc_server_, nullptr);
  }
  // Call makes a new connection with `creds` and returns the status and, on
  // success, the ID the server saw and the serial of the server certificate.
  grpc::Status Call(const GrpcTlsCredentials& creds, std::string* seen_id = nullptr,
                    std::string* server_serial = nullptr) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a fresh connection each time
    auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                             creds.ChannelCredentials(), args);
    auto stub = SpiffeWorkloadAPI::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    JWTSVIDResponse resp;
    grpc::Status st = stub->FetchJWTSVID(&ctx, JWTSVIDRequest(), &resp);
    if (st.ok() && seen_id != nullptr) *seen_id = resp.svids(0).spiffe_id();
    if (st.ok() && server_serial != nullptr) {
      auto pem = ctx.auth_context()->FindPropertyValues("x509_pem_cert");
      if (!pem.empty()) {
        auto certs = ParseCertsPem(absl::string_view(pem[0].data(), pem[0].size()));
        if (certs.ok()) *server_serial = CertSerialHex((*certs)[0].get());
      }
    }
    return st;
  }
  void TearDown() override {
    if (grpc_server_) grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }

  TestCa ca_{"example.org"};
  Workload server_{ca_, "spiffe://example.org/server"};
  Workload client_{ca_, "spiffe://example.org/client"};
  SpiffeId server_id_ = *SpiffeId::FromString("spiffe://example.org/server");
  SpiffeId client_id_ = *SpiffeId::FromString("spiffe://example.org/client");
  WhoAmI service_;
  std::unique_ptr<GrpcTlsCredentials> server_creds_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int port_ = 0;
};

TEST_F(GrpcCredentialsTest, AuthorizedClientIsServed) {
  StartServer(AuthorizeId(client_id_));
  auto creds = *GrpcTlsCredentials::Create(client_.source.get(), AuthorizeId(server_id_));
  struct stat st;
  ASSERT_EQ(stat(creds->directory().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::string seen;
  grpc::Status s = Call(*creds, &seen);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(seen, "spiffe://example.org/client");
}

TEST_F(GrpcCredentialsTest, ThirdIdentityRefusedByServerAuthorizer) {
  StartServer(AuthorizeId(client_id_));
  Workload intruder(ca_, "spiffe://example.org/intruder");
  auto creds = *GrpcTlsCredentials::Create(intruder.source.get(), AuthorizeId(server_id_));
  grpc::Status s = Call(*creds);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(GrpcCredentialsTest, ClientRefusesUnexpectedServer) {
  StartServer(AuthorizeAny());
  auto creds = *GrpcTlsCredentials::Create(
      client_.source.get(), AuthorizeId(*SpiffeId::FromString("spiffe://example.org/db")));
  grpc::Status s = Call(*creds);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(GrpcCredentialsTest, PeerFromAnotherTrustDomainRefused) {
  StartServer(AuthorizeAny());
  TestCa other("other.org");
  Workload foreign(other, "spiffe://other.org/client");
  // The foreign client trusts our server, so only the server decides.
  auto creds =
      *GrpcTlsCredentials::Create(foreign.source.get(), AuthorizeAny(), client_.source.get());
  grpc::Status s = Call(*creds);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(GrpcCredentialsTest, NewConnectionsPickUpRotatedServerSvid) {
  StartServer(AuthorizeId(client_id_));
  auto creds = *GrpcTlsCredentials::Create(client_.source.get(), AuthorizeId(server_id_));
  std::string before;
  ASSERT_TRUE(Call(*creds, nullptr, &before).ok());
  EXPECT_EQ(before, CertSerialHex(server_.source->GetX509Svid()->chain[0].get()));
  server_.api.PushX509(ca_.Response("spiffe://example.org/server"));
  ASSERT_TRUE(testutil::WaitFor(
      [&] { return CertSerialHex(server_.source->GetX509Svid()->chain[0].get()) != before; }));
  std::string want = CertSerialHex(server_.source->GetX509Svid()->chain[0].get());
  std::string after;
  // gRPC's file watcher re-reads the files every second.
  EXPECT_TRUE(testutil::WaitFor(
      [&] {
        std::string serial;
        if (Call(*creds, nullptr, &serial).ok()) after = serial;
        return after == want;
      },
      absl::Seconds(10)));
}

}  // namespace
}  // namespace signet::client
