// greeter_client: calls Greeter.SayHello over mTLS, accepting only the
// server whose SPIFFE ID is -server.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <map>
#include <string>

#include "client/grpc_credentials.h"
#include "examples/example_flags.h"
#include "greeter.grpc.pb.h"

int main(int argc, char** argv) {
  std::map<std::string, std::string> f;
  if (!signet::examples::ParseFlags(argc, argv, &f) || !f.count("port") || !f.count("server")) {
    std::fprintf(
        stderr, "usage: greeter_client [-addr unix:///path] -port N -server SPIFFE_ID [-name N]\n");
    return 2;
  }
  auto server_id = signet::SpiffeId::FromString(f["server"]);
  if (!server_id.ok()) return std::fprintf(stderr, "bad -server\n"), 2;
  signet::client::WorkloadApiOptions opts;
  opts.address = f["addr"];
  auto source = signet::client::X509Source::Create(opts);
  if (!source.ok()) return std::fprintf(stderr, "%s\n", source.status().ToString().c_str()), 1;
  auto creds = signet::client::GrpcTlsCredentials::Create(source->get(),
                                                          signet::client::AuthorizeId(*server_id));
  if (!creds.ok()) return std::fprintf(stderr, "%s\n", creds.status().ToString().c_str()), 1;
  auto stub = signet::examples::Greeter::NewStub(
      grpc::CreateChannel("127.0.0.1:" + f["port"], (*creds)->ChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  signet::examples::HelloRequest req;
  req.set_name(f.count("name") ? f["name"] : "world");
  signet::examples::HelloReply reply;
  grpc::Status st = stub->SayHello(&ctx, req, &reply);
  if (!st.ok()) {
    std::fprintf(stderr, "SayHello failed: %s\n", st.error_message().c_str());
    return 1;
  }
  std::printf("%s\n", reply.message().c_str());
  return 0;
}
