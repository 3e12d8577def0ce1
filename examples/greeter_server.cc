// greeter_server: gRPC Greeter over mTLS with X.509-SVIDs from the Workload
// API; only the callers listed in -allow (comma-separated SPIFFE IDs) or,
// without it, the members of -allow-td (default: our own trust domain) are
// served, and the reply names the caller's SPIFFE ID. Refused callers are
// logged on stderr ("gRPC TLS peer refused").
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/grpc_credentials.h"
#include "examples/example_flags.h"
#include "greeter.grpc.pb.h"

namespace {

class GreeterImpl final : public signet::examples::Greeter::Service {
  grpc::Status SayHello(grpc::ServerContext* ctx, const signet::examples::HelloRequest* req,
                        signet::examples::HelloReply* reply) override {
    auto peer = signet::client::PeerSpiffeIdFromAuthContext(*ctx->auth_context());
    reply->set_message("Hello " + req->name() + " (" +
                       (peer.ok() ? peer->ToString() : std::string("?")) + ")");
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> f;
  if (!signet::examples::ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr,
                 "usage: greeter_server [-addr unix:///path] [-port N] "
                 "[-allow ID[,ID...] | -allow-td TD]\n");
    return 2;
  }
  signet::client::WorkloadApiOptions opts;
  opts.address = f["addr"];
  auto source = signet::client::X509Source::Create(opts);
  if (!source.ok()) return std::fprintf(stderr, "%s\n", source.status().ToString().c_str()), 1;
  signet::TrustDomain td = (*source)->GetX509Svid()->id.trust_domain();
  if (f.count("allow-td")) {
    auto t = signet::TrustDomain::FromString(f["allow-td"]);
    if (!t.ok()) return std::fprintf(stderr, "bad -allow-td\n"), 2;
    td = *t;
  }
  signet::client::Authorizer authz = signet::client::AuthorizeMemberOf(td);
  if (f.count("allow")) {
    std::vector<signet::SpiffeId> ids;
    for (absl::string_view part : absl::StrSplit(f["allow"], ',', absl::SkipEmpty())) {
      auto id = signet::SpiffeId::FromString(part);
      if (!id.ok()) {
        return std::fprintf(stderr, "bad -allow: %s\n", id.status().ToString().c_str()), 2;
      }
      ids.push_back(*id);
    }
    authz = signet::client::AuthorizeOneOf(std::move(ids));
  }
  auto creds = signet::client::GrpcTlsCredentials::Create(source->get(), std::move(authz));
  if (!creds.ok()) return std::fprintf(stderr, "%s\n", creds.status().ToString().c_str()), 1;
  GreeterImpl service;
  int port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:" + (f.count("port") ? f["port"] : std::string("0")),
                     (*creds)->ServerCredentials(), &port);
  b.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  if (server == nullptr) return std::fprintf(stderr, "cannot listen\n"), 1;
  std::printf("greeter listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  server->Wait();
  return 0;
}
