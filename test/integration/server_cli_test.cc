// Integration: the signet-server CLI against a real server process: entry
// CRUD, tokens, bundle formats, validation errors, persistence across restart
// and kill -9, health endpoints, validate.
#include <arpa/inet.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "signet/admin.grpc.pb.h"
#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

class ServerCliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()) << server_.Logs(); }
  ServerProcess server_;
};

TEST_F(ServerCliTest, EntryCrud) {
  RunResult r = server_.Cli({"entry", "create", "-parentID", "spiffe://example.org/host",
                             "--spiffeID", "spiffe://example.org/web", "-selector", "unix:uid:1000",
                             "-selector", "unix:gid:1000", "-x509SVIDTTL", "300", "-jwtSVIDTTL",
                             "60", "-dns", "web.example.org", "-hint", "web", "-admin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = ServerProcess::Field(r.out, "Entry ID");
  ASSERT_FALSE(id.empty()) << r.out;
  EXPECT_EQ(ServerProcess::Field(r.out, "SPIFFE ID"), "spiffe://example.org/web");
  EXPECT_EQ(ServerProcess::Field(r.out, "Parent ID"), "spiffe://example.org/host");
  EXPECT_EQ(ServerProcess::Field(r.out, "X509-SVID TTL"), "300");
  EXPECT_EQ(ServerProcess::Field(r.out, "JWT-SVID TTL"), "60");
  EXPECT_EQ(ServerProcess::Field(r.out, "DNS name"), "web.example.org");
  EXPECT_EQ(ServerProcess::Field(r.out, "Hint"), "web");
  EXPECT_EQ(ServerProcess::Field(r.out, "Admin"), "true");

  r = server_.Cli({"entry", "show", "-entryID", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StartsWith(r.out, "Found 1 entry\n")) << r.out;
  EXPECT_NE(r.out.find("Selector         : unix:gid:1000"), std::string::npos);

  r = server_.Cli({"entry", "show", "-spiffeID", "spiffe://example.org/web", "-output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct js;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &js).ok()) << r.out;
  ASSERT_EQ(js.fields().at("entries").list_value().values_size(), 1);
  EXPECT_EQ(js.fields()
                .at("entries")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("id")
                .string_value(),
            id);

  r = server_.Cli({"entry", "update", "-entryID", id, "-x509SVIDTTL", "600"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ServerProcess::Field(r.out, "X509-SVID TTL"), "600");
  EXPECT_EQ(ServerProcess::Field(r.out, "Revision"), "1");

  r = server_.Cli({"entry", "count"});
  EXPECT_EQ(r.out, "1 registration entry\n");
  r = server_.Cli({"entry", "delete", "-entryID", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Deleted entry with ID: " + id + "\n");
  r = server_.Cli({"entry", "count"});
  EXPECT_EQ(r.out, "0 registration entries\n");
  r = server_.Cli({"entry", "delete", "-entryID", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

// `entry show` gathers every page of ShowEntries (the server sends at most
// 1,000 entries a page): 1,001 entries print as one list, in text and JSON.
TEST_F(ServerCliTest, EntryShowGathersEveryPage) {
  auto admin = signet::admin::Admin::NewStub(
      grpc::CreateChannel("unix:" + server_.socket(), grpc::InsecureChannelCredentials()));
  constexpr int kEntries = 1001;
  for (int i = 0; i < kEntries; ++i) {
    signet::admin::CreateEntryRequest req;
    auto* e = req.mutable_entry();
    e->set_spiffe_id(absl::StrCat("spiffe://example.org/page/", i));
    e->set_parent_id("spiffe://example.org/host");
    auto* sel = e->add_selectors();
    sel->set_type("unix");
    sel->set_value("uid:1000");
    grpc::ClientContext ctx;
    signet::admin::EntryResponse resp;
    grpc::Status st = admin->CreateEntry(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
  }
  RunResult r = server_.Cli({"entry", "show"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StartsWith(r.out, "Found 1001 entries\n")) << r.out.substr(0, 200);
  EXPECT_NE(r.out.find("spiffe://example.org/page/0\n"), std::string::npos);
  EXPECT_NE(r.out.find("spiffe://example.org/page/1000\n"), std::string::npos);

  r = server_.Cli({"entry", "show", "-output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct js;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &js).ok()) << r.out.substr(0, 200);
  const auto& list = js.fields().at("entries").list_value();
  ASSERT_EQ(list.values_size(), kEntries);
  std::set<std::string> ids;
  for (const auto& v : list.values()) ids.insert(v.struct_value().fields().at("id").string_value());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEntries));  // no page twice, none lost
  EXPECT_EQ(js.fields().at("next_page_token").string_value(), "");
}

TEST_F(ServerCliTest, NodeEntryGetsServerParent) {
  RunResult r =
      server_.Cli({"entry", "create", "-node", "-spiffeID", "spiffe://example.org/k8s-nodes",
                   "-selector", "x509pop:subject:cn:n1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ServerProcess::Field(r.out, "Parent ID"), "spiffe://example.org/spire/server");
}

TEST_F(ServerCliTest, TokenGenerate) {
  RunResult r = server_.Cli({"token", "generate", "-ttl", "60"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StartsWith(r.out, "Token: ")) << r.out;
  EXPECT_EQ(r.out.size(), std::string("Token: ").size() + 36 + 1);
  r = server_.Cli({"token", "generate", "-ttl", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-ttl must be greater than zero"), std::string::npos) << r.err;
}

TEST_F(ServerCliTest, BundleShowBothFormats) {
  RunResult pem = server_.Cli({"bundle", "show"});
  ASSERT_EQ(pem.exit_code, 0) << pem.err;
  absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertsPem(pem.out);
  ASSERT_TRUE(certs.ok()) << certs.status();
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_TRUE(CertIsCa((*certs)[0].get()));
  EXPECT_EQ(SpiffeIdFromCert((*certs)[0].get())->ToString(), "spiffe://example.org");

  RunResult spiffe = server_.Cli({"bundle", "show", "-format", "spiffe"});
  ASSERT_EQ(spiffe.exit_code, 0) << spiffe.err;
  absl::StatusOr<Bundle> b =
      Bundle::ParseJwks(TrustDomain::FromString("example.org").value(), spiffe.out);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->x509_authorities().size(), 1u);
  EXPECT_EQ(b->jwt_authorities().size(), 1u);
  ASSERT_TRUE(b->sequence_number().has_value());
  EXPECT_GE(*b->sequence_number(), 1u);
  EXPECT_EQ(CertToDer(b->x509_authorities()[0].get()).value(),
            CertToDer((*certs)[0].get()).value());

  RunResult bad = server_.Cli({"bundle", "show", "-format", "der"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("invalid value \"der\" for flag -format"), std::string::npos);
}

TEST_F(ServerCliTest, MintX509AndJwt) {
  RunResult r = server_.Cli({"x509", "mint", "-spiffeID", "spiffe://example.org/minted", "-ttl",
                             "120", "-dns", "m.example.org"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertsPem(r.out);
  ASSERT_TRUE(certs.ok());
  EXPECT_EQ(SpiffeIdFromCert((*certs)[0].get())->ToString(), "spiffe://example.org/minted");
  r = server_.Cli({"jwt", "mint", "-spiffeID", "spiffe://example.org/minted", "-audience", "a"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '.'), 2);
  r = server_.Cli({"jwt", "mint", "-spiffeID", "spiffe://example.org/minted"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-audience"), std::string::npos);
}

// Each validation rule: exit code 1 and a message naming the flag or field.
struct BadInput {
  const char* name;
  std::vector<std::string> args;
  const char* message;
};

class ServerCliBadInputTest : public ServerCliTest,
                              public ::testing::WithParamInterface<BadInput> {};

TEST_P(ServerCliBadInputTest, IsRejected) {
  std::vector<std::string> args{"entry", "create"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  RunResult r = server_.Cli(args);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
  EXPECT_EQ(server_.Cli({"entry", "count"}).out, "0 registration entries\n");
}

const std::string kP = "spiffe://example.org/host";
const std::string kS = "spiffe://example.org/web";

INSTANTIATE_TEST_SUITE_P(
    Rules, ServerCliBadInputTest,
    ::testing::Values(
        BadInput{"MissingSpiffeId", {"-parentID", kP, "-selector", "unix:uid:1"}, "-spiffeID"},
        BadInput{"MissingParentId", {"-spiffeID", kS, "-selector", "unix:uid:1"}, "-parentID"},
        BadInput{"MissingSelector", {"-parentID", kP, "-spiffeID", kS}, "-selector"},
        BadInput{"UppercaseTrustDomain",
                 {"-parentID", kP, "-spiffeID", "spiffe://Example.org/web", "-selector", "a:b"},
                 "invalid -spiffeID \"spiffe://Example.org/web\": "},
        BadInput{"DotSegment",
                 {"-parentID", kP, "-spiffeID", "spiffe://example.org/a/../b", "-selector", "a:b"},
                 "invalid -spiffeID \"spiffe://example.org/a/../b\": "},
        BadInput{"WrongScheme",
                 {"-parentID", "http://example.org/host", "-spiffeID", kS, "-selector", "a:b"},
                 "invalid -parentID \"http://example.org/host\": "},
        BadInput{"ForeignTrustDomain",
                 {"-parentID", kP, "-spiffeID", "spiffe://other.org/web", "-selector", "a:b"},
                 "is not a member of trust domain \"example.org\""},
        BadInput{"ReservedPath",
                 {"-parentID", kP, "-spiffeID", "spiffe://example.org/spire/agent/x", "-selector",
                  "a:b"},
                 "reserved /spire/ namespace"},
        BadInput{"SelectorWithoutColon",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", "unix"},
                 "invalid -selector: selector \"unix\" must be of the form type:value"},
        BadInput{"SelectorEmptyValue",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", "unix:"},
                 "selector value must not be empty"},
        BadInput{"SelectorEmptyType",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", ":uid"},
                 "selector type must not be empty"},
        BadInput{"NegativeX509Ttl",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", "a:b", "-x509SVIDTTL", "-1"},
                 "-x509SVIDTTL must not be negative"},
        BadInput{"X509TtlBeyondCa",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", "a:b", "-x509SVIDTTL", "86401"},
                 "x509_svid_ttl must not exceed the CA TTL (86400s)"},
        BadInput{"JwtTtlBeyondCa",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", "a:b", "-jwtSVIDTTL", "90000"},
                 "jwt_svid_ttl must not exceed the CA TTL (86400s)"},
        BadInput{"TtlNotANumber",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", "a:b", "-x509SVIDTTL", "1h"},
                 "invalid value \"1h\" for flag -x509SVIDTTL"},
        BadInput{
            "HintTooLong",
            {"-parentID", kP, "-spiffeID", kS, "-selector", "a:b", "-hint", std::string(1025, 'h')},
            "hint must be at most 1024 bytes"},
        BadInput{"BadDnsName",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", "a:b", "-dns", "bad_name.org"},
                 "invalid -dns: invalid DNS name \"bad_name.org\""},
        BadInput{"UnknownFlag",
                 {"-parentID", kP, "-spiffeID", kS, "-selector", "a:b", "-bogus", "1"},
                 "flag provided but not defined: -bogus"}),
    [](const ::testing::TestParamInfo<BadInput>& i) { return std::string(i.param.name); });

TEST_F(ServerCliTest, HelpDocumentsEveryCommand) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"entry", "create"},
                                       {"entry", "show"},
                                       {"entry", "update"},
                                       {"entry", "delete"},
                                       {"entry", "count"},
                                       {"token", "generate"},
                                       {"bundle", "show"},
                                       {"agent", "list"},
                                       {"agent", "show"},
                                       {"agent", "evict"},
                                       {"agent", "ban"},
                                       {"agent", "count"},
                                       {"x509", "mint"},
                                       {"jwt", "mint"},
                                       {"healthcheck"},
                                       {"validate"},
                                       {"run"}}) {
    std::vector<std::string> argv{testutil::ServerBinary()};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    argv.push_back("-h");
    RunResult r = testutil::Run(argv);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(cmd, " ");
    EXPECT_NE(r.out.find("Usage: signet-server " + cmd[0]), std::string::npos) << r.out;
  }
  RunResult r = testutil::Run({testutil::ServerBinary(), "entry", "create", "--help"});
  EXPECT_NE(r.out.find("-x509SVIDTTL"), std::string::npos);
  EXPECT_NE(r.out.find("-selector"), std::string::npos);
}

TEST_F(ServerCliTest, SurvivesRestartAndKill9) {
  RunResult r =
      server_.Cli({"entry", "create", "-parentID", kP, "-spiffeID", kS, "-selector", "unix:uid:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = ServerProcess::Field(r.out, "Entry ID");
  std::string bundle = server_.BundlePem();
  std::string token = server_.GenerateToken();

  EXPECT_EQ(server_.Stop(), 0);
  ASSERT_TRUE(server_.Start());
  r = server_.Cli({"entry", "show", "-entryID", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server_.BundlePem(), bundle);

  r = server_.Cli({"entry", "create", "-parentID", kP, "-spiffeID", "spiffe://example.org/db",
                   "-selector", "unix:uid:2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id2 = ServerProcess::Field(r.out, "Entry ID");
  server_.Kill9();
  ASSERT_TRUE(server_.Start());
  EXPECT_EQ(server_.Cli({"entry", "show", "-entryID", id2}).exit_code, 0);
  EXPECT_EQ(server_.Cli({"entry", "count"}).out, "2 registration entries\n");
  EXPECT_EQ(server_.BundlePem(), bundle);
  TestAgent agent(server_.port(), bundle);
  grpc::Status st = agent.Attest(token);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST(ServerValidateTest, ReportsEveryProblemWithLine) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("bad.yaml"),
                      "server:\n"
                      "  trust_domain: \"Bad Domain\"\n"
                      "  bind_port: 99999\n"
                      "  ca_ttl: \"soon\"\n"
                      "  bogus_key: 1\n"
                      "plugins:\n"
                      "  DataStore:\n"
                      "    sql:\n"
                      "      database_type: \"mysql\"\n"
                      "  KeyManager:\n"
                      "    disk: {}\n"
                      "  NodeAttestor:\n"
                      "    join_token: {}\n");
  RunResult r =
      testutil::Run({testutil::ServerBinary(), "validate", "-config", dir.File("bad.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("trust_domain"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bind_port"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ca_ttl"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bogus_key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("data_dir"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("database_type"), std::string::npos) << r.err;

  RunResult ok = testutil::Run({testutil::ServerBinary(), "validate", "-config",
                                testutil::SourceDir() + "/conf/server.yaml"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "Configuration is valid.\n");
}

// HttpGet sends "GET <path> HTTP/1.0" to 127.0.0.1:<port> and returns the
// whole response ("" on connection failure).
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(ServerHealthTest, LiveAndReadyEndpoints) {
  int hport = testutil::FreeTcpPort();
  ServerProcess s(
      absl::StrCat("  health_checks:\n    listener_enabled: true\n"
                   "    bind_address: \"127.0.0.1\"\n    bind_port: ",
                   hport, "\n"));
  ASSERT_TRUE(s.Start()) << s.Logs();
  EXPECT_TRUE(absl::StartsWith(HttpGet(hport, "/live"), "HTTP/1.1 200 OK\r\n"));
  std::string ready = HttpGet(hport, "/ready");
  EXPECT_TRUE(absl::StartsWith(ready, "HTTP/1.1 200 OK\r\n")) << ready;
  EXPECT_TRUE(absl::EndsWith(ready, "{\"ready\":true}")) << ready;
  EXPECT_TRUE(absl::StartsWith(HttpGet(hport, "/nope"), "HTTP/1.1 404 Not Found\r\n"));
  EXPECT_EQ(s.Cli({"healthcheck"}).out, "Server is healthy.\n");
}

TEST(ServerAuditTest, OneJsonLinePerCall) {
  ServerProcess s("  audit_log_enabled: true\n");
  ASSERT_TRUE(s.Start()) << s.Logs();
  RunResult r = s.Cli({"entry", "create", "-parentID", kP, "-spiffeID", kS, "-selector", "a:b"});
  ASSERT_EQ(r.exit_code, 0);
  r = s.Cli({"entry", "create", "-parentID", kP, "-spiffeID", kS, "-selector", "a:b",
             "-x509SVIDTTL", "90000"});
  ASSERT_EQ(r.exit_code, 1);
  ASSERT_TRUE(testutil::WaitFor([&] {
    return s.Logs().find("x509_svid_ttl must not exceed the CA TTL") != std::string::npos;
  }));
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(s.Logs(), '\n')) {
    if (!absl::StrContains(line, "\"type\":\"audit\"")) continue;
    if (!absl::StrContains(line, "CreateEntry")) continue;
    ++lines;
    google::protobuf::Struct js;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &js).ok()) << line;
    EXPECT_FALSE(js.fields().at("request_id").string_value().empty());
    EXPECT_EQ(js.fields().at("caller").struct_value().fields().at("uid").number_value(),
              static_cast<double>(getuid()));
    EXPECT_EQ(js.fields()
                  .at("request")
                  .struct_value()
                  .fields()
                  .at("entry")
                  .struct_value()
                  .fields()
                  .at("spiffe_id")
                  .string_value(),
              kS);
  }
  EXPECT_EQ(lines, 2);
}

}  // namespace
}  // namespace signet::servertest
