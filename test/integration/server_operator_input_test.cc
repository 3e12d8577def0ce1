// Integration: operator-facing text against a real server. Control and
// bidirectional formatting characters in selectors and hints, absurd expiry
// times, non-numeric unix:uid values and overlong SPIFFE IDs are refused by
// the CLI before sending (exact message) and by the admin API when another
// client sends them (exact code and message); entries stored before that
// check print escaped, so a value cannot forge a line of `entry show` or
// drive the terminal.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "signet/admin.grpc.pb.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ServerOperatorInputTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()) << server_.Logs(); }

  // CreateCli runs `entry create` with a valid entry plus `extra` flags.
  RunResult CreateCli(const std::vector<std::string>& extra,
                      const std::string& selector = "unix:uid:1000",
                      const std::string& spiffe_id = "spiffe://example.org/web") const {
    std::vector<std::string> a{"entry",     "create",  "-parentID", "spiffe://example.org/host",
                               "-spiffeID", spiffe_id, "-selector", selector};
    a.insert(a.end(), extra.begin(), extra.end());
    return server_.Cli(a);
  }

  // CreateApi sends CreateEntry straight to the admin API, as a client other
  // than the CLI would.
  grpc::Status CreateApi(const std::function<void(signet::types::RegistrationEntry*)>& edit) const {
    auto admin = signet::admin::Admin::NewStub(
        grpc::CreateChannel("unix:" + server_.socket(), grpc::InsecureChannelCredentials()));
    signet::admin::CreateEntryRequest req;
    signet::types::RegistrationEntry* e = req.mutable_entry();
    e->set_spiffe_id("spiffe://example.org/web");
    e->set_parent_id("spiffe://example.org/host");
    auto* sel = e->add_selectors();
    sel->set_type("unix");
    sel->set_value("uid:1000");
    edit(e);
    signet::admin::EntryResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return admin->CreateEntry(&ctx, req, &resp);
  }

  void ExpectNoEntry() const {
    EXPECT_EQ(server_.Cli({"entry", "count"}).out, "0 registration entries\n");
  }

  ServerProcess server_;
};

void ExpectInvalidArgument(const grpc::Status& s, const std::string& message) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_code() << " " << s.error_message();
  EXPECT_EQ(s.error_message(), message);
}

TEST_F(ServerOperatorInputTest, CliRefusesNewlineInSelector) {
  RunResult r = CreateCli({}, "unix:path:/bin/a\nSelector         : unix:uid:0");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err,
            "Error: invalid -selector: selector \"unix:path:/bin/a\\x0aSelector         : "
            "unix:uid:0\": selector value (selector type \"unix\") contains control character "
            "U+000A at byte 11\n");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, CliRefusesEscapeInHint) {
  RunResult r = CreateCli({"-hint", "web\x1b[31mred"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err, "Error: invalid -hint: hint contains control character U+001B at byte 3\n");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, CliRefusesBidiOverrideInHint) {
  RunResult r = CreateCli({"-hint",
                           "abc\xe2\x80\xae"
                           "fdp"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err,
            "Error: invalid -hint: hint contains bidirectional formatting character U+202E at "
            "byte 3\n");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, AdminApiRefusesNewlineInSelector) {
  grpc::Status s = CreateApi([](signet::types::RegistrationEntry* e) {
    e->mutable_selectors(0)->set_value("path:/bin/a\nSelector         : unix:uid:0");
  });
  ExpectInvalidArgument(
      s, "selector value (selector type \"unix\") contains control character U+000A at byte 11");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, AdminApiRefusesEscapeInHint) {
  grpc::Status s =
      CreateApi([](signet::types::RegistrationEntry* e) { e->set_hint("web\x1b[31mred"); });
  ExpectInvalidArgument(s, "hint contains control character U+001B at byte 3");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, AdminApiRefusesBidiOverrideInHint) {
  grpc::Status s = CreateApi([](signet::types::RegistrationEntry* e) {
    e->set_hint(
        "abc\xe2\x80\xae"
        "fdp");
  });
  ExpectInvalidArgument(s, "hint contains bidirectional formatting character U+202E at byte 3");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, CliRefusesEntryExpiryAfterYear9999) {
  RunResult r = CreateCli({"-entryExpiry", "99999999999999999"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err, "Error: -entryExpiry must not be after 9999-12-31T23:59:59Z (253402300799)\n");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, AdminApiRefusesEntryExpiryAfterYear9999) {
  grpc::Status s = CreateApi(
      [](signet::types::RegistrationEntry* e) { e->set_entry_expiry(99999999999999999); });
  ExpectInvalidArgument(s, "entry_expiry must not be after 9999-12-31T23:59:59Z (253402300799)");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, CliRefusesNonNumericUnixUid) {
  RunResult r = CreateCli({}, "unix:uid:abc");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err,
            "Error: invalid -selector: selector \"unix:uid:abc\": selector unix:uid value \"abc\" "
            "is not a decimal number from 0 to 4294967295\n");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, AdminApiRefusesNonNumericUnixUid) {
  grpc::Status s = CreateApi(
      [](signet::types::RegistrationEntry* e) { e->mutable_selectors(0)->set_value("uid:abc"); });
  ExpectInvalidArgument(s,
                        "selector unix:uid value \"abc\" is not a decimal number from 0 to "
                        "4294967295");
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, CliRefusesOverlongSpiffeIdWithTheIdError) {
  const std::string id = "spiffe://example.org/" + std::string(10000 - 21, 'a');
  const std::string want = "Error: invalid -spiffeID \"" + id.substr(0, 256) +
                           "\"... (10000 bytes): SPIFFE ID is too long (10000 bytes; maximum "
                           "2048)\n";
  RunResult r = CreateCli({}, "unix:uid:1000", id);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err, want);
  r = server_.Cli({"entry", "show", "-spiffeID", id});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err, want);
  r = server_.Cli({"x509", "mint", "-spiffeID", id});
  EXPECT_EQ(r.err, want);
  r = server_.Cli({"agent", "show", "-spiffeID", id});
  EXPECT_EQ(r.err, want);
  ExpectNoEntry();
}

TEST_F(ServerOperatorInputTest, AdminApiAnswersOverlongSpiffeIdWithTheIdError) {
  const std::string id = "spiffe://example.org/" + std::string(10000 - 21, 'a');
  grpc::Status s = CreateApi([&](signet::types::RegistrationEntry* e) { e->set_spiffe_id(id); });
  ExpectInvalidArgument(s, "invalid spiffe_id \"" + id.substr(0, 256) +
                               "\"... (10000 bytes): SPIFFE ID is too long (10000 bytes; maximum "
                               "2048)");
  // The other calls that quote a SPIFFE ID in their error.
  auto admin = signet::admin::Admin::NewStub(
      grpc::CreateChannel("unix:" + server_.socket(), grpc::InsecureChannelCredentials()));
  const std::string want = "invalid spiffe_id \"" + id.substr(0, 256) +
                           "\"... (10000 bytes): SPIFFE ID is too long (10000 bytes; maximum 2048)";
  {
    signet::admin::AgentRequest req;
    req.set_spiffe_id(id);
    signet::admin::AgentResponse resp;
    grpc::ClientContext ctx;
    ExpectInvalidArgument(admin->ShowAgent(&ctx, req, &resp), want);
  }
  {
    signet::admin::MintX509SvidRequest req;
    req.set_spiffe_id(id);
    signet::admin::MintX509SvidResponse resp;
    grpc::ClientContext ctx;
    ExpectInvalidArgument(admin->MintX509Svid(&ctx, req, &resp), want);
  }
  {
    signet::admin::ShowEntriesRequest req;
    req.set_spiffe_id(id);
    signet::admin::ShowEntriesResponse resp;
    grpc::ClientContext ctx;
    ExpectInvalidArgument(admin->ShowEntries(&ctx, req, &resp), want);
  }
  ExpectNoEntry();
}

// An entry stored before these checks (written here straight into SQLite)
// prints with its control and bidi characters escaped: one line per field.
TEST_F(ServerOperatorInputTest, EntryShowEscapesStoredControlCharacters) {
  RunResult r = CreateCli({"-hint", "web", "-dns", "web.example.org"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = ServerProcess::Field(r.out, "Entry ID");
  ASSERT_FALSE(id.empty()) << r.out;
  ASSERT_EQ(server_.Stop(), 0);
  const std::string db = server_.dir().File("data/datastore.sqlite3");
  RunResult q = testutil::Run(
      {"/usr/bin/sqlite3", db,
       "UPDATE entries SET hint = 'web' || char(10) || 'SPIFFE ID        : "
       "spiffe://example.org/forged' || char(27) || '[31m' || char(8238) || 'x';"
       "UPDATE entry_selectors SET value = 'uid:1000' || char(13) || char(27) || '[2K' || "
       "char(155) || 'y';"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  ASSERT_TRUE(server_.Start()) << server_.Logs();

  r = server_.Cli({"entry", "show", "-entryID", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nHint             : web\\x0aSPIFFE ID        : "
                               "spiffe://example.org/forged\\x1b[31m\\u{202e}x\n"));
  EXPECT_THAT(r.out, HasSubstr("\nSelector         : unix:uid:1000\\x0d\\x1b[2K\\u{009b}y\n"));
  int id_lines = 0;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (absl::StartsWith(line, "SPIFFE ID")) ++id_lines;
  }
  EXPECT_EQ(id_lines, 1) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(r.out, Not(HasSubstr("\r")));
  EXPECT_THAT(r.out, Not(HasSubstr("\xe2\x80\xae")));
  EXPECT_THAT(r.out, Not(HasSubstr("\xc2\x9b")));

  // JSON: every such character as a \u escape, so the output stays one
  // value per line and inert in a terminal.
  r = server_.Cli({"entry", "show", "-entryID", id, "-output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\\u202e"));
  EXPECT_THAT(r.out, HasSubstr("\\u009b"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(r.out, Not(HasSubstr("\r")));
  EXPECT_THAT(r.out, Not(HasSubstr("\xe2\x80\xae")));
  EXPECT_THAT(r.out, Not(HasSubstr("\xc2\x9b")));
}

// The agent's `api fetch x509` prints an entry's hint escaped as well.
TEST_F(ServerOperatorInputTest, AgentFetchEscapesStoredHint) {
  const std::string token = server_.GenerateToken();
  ASSERT_FALSE(token.empty());
  RunResult r = server_.Cli({"entry", "create", "-parentID",
                             "spiffe://example.org/spire/agent/join_token/" + token, "-spiffeID",
                             "spiffe://example.org/hinted", "-selector",
                             absl::StrCat("unix:uid:", geteuid()), "-hint", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(server_.Stop(), 0);
  RunResult q = testutil::Run({"/usr/bin/sqlite3", server_.dir().File("data/datastore.sqlite3"),
                               "UPDATE entries SET hint = 'web' || char(10) || 'SPIFFE ID:' || "
                               "char(9) || char(9) || 'spiffe://example.org/forged' || char(27) || "
                               "'[31m' || char(8238);"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  ASSERT_TRUE(server_.Start()) << server_.Logs();
  faulttest::AgentProcess agent(server_, server_.BundlePem());
  ASSERT_TRUE(agent.Start(token)) << agent.Logs();
  ASSERT_TRUE(testutil::WaitFor([&] {
    r = agent.Cli({"api", "fetch", "x509"});
    return r.exit_code == 0;
  })) << r.err
      << agent.Logs();
  EXPECT_THAT(r.out,
              HasSubstr("SPIFFE ID:\t\tspiffe://example.org/hinted\nHint:\t\t\tweb\\x0aSPIFFE "
                        "ID:\\x09\\x09spiffe://example.org/forged\\x1b[31m\\u{202e}\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("forged\n")));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(r.out, Not(HasSubstr("\xe2\x80\xae")));
}

}  // namespace
}  // namespace signet::servertest
