// Integration: a real signet-server refuses to start a new CA over existing CA
// state -- CA key files next to an empty (0-byte) datastore, a corrupt key
// file, key files that are gone -- with an error naming the files, exit code
// 1 and an ERROR log line; `run -allowNewCA` starts a new CA on purpose. A
// server that did start instead would report healthy, which fails the tests.
#include <dirent.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "test/integration/server_test_fixture.h"

namespace signet::servertest {
namespace {

using ::testing::HasSubstr;

// KeyFiles returns the CA key files of the server's key directory, sorted.
std::vector<std::string> KeyFiles(const ServerProcess& s, const std::string& prefix = "") {
  std::vector<std::string> out;
  const std::string dir = s.dir().File("data/keys");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if ((absl::StartsWith(n, "x509-ca-") || absl::StartsWith(n, "jwt-key-")) &&
        absl::StartsWith(n, prefix) && absl::EndsWith(n, ".pem")) {
      out.push_back(dir + "/" + n);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

struct Outcome {
  bool started = false;  // healthy: the server did not refuse
  int exit_code = -1;
  std::string err;
};

// RunServer starts `signet-server run` with `extra` flags and waits until it
// exits or answers a health check (then stops it).
Outcome RunServer(const ServerProcess& s, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{testutil::ServerBinary(), "run", "-config", s.config_path()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  testutil::Subprocess proc(argv);
  Outcome o;
  EXPECT_TRUE(testutil::WaitFor(
      [&] {
        if (!proc.Running()) return true;
        o.started = s.Cli({"healthcheck"}).exit_code == 0;
        return o.started;
      },
      absl::Seconds(60)));
  if (o.started) {
    o.exit_code = proc.Stop();
  } else {
    o.exit_code = proc.Wait();
  }
  o.err = proc.Stderr();
  return o;
}

// Prepared starts the server once (CA, keys, schema) and stops it.
class ServerStartStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    bundle_ = server_.BundlePem();
    ASSERT_EQ(server_.Stop(), 0);
    ASSERT_EQ(KeyFiles(server_, "x509-ca-").size(), 1u);
    ASSERT_EQ(KeyFiles(server_, "jwt-key-").size(), 1u);
  }
  std::string Db() const { return server_.dir().File("data/datastore.sqlite3"); }
  // EmptyDatastore replaces the datastore with a 0-byte file.
  void EmptyDatastore() {
    unlink((Db() + "-wal").c_str());
    unlink((Db() + "-shm").c_str());
    ASSERT_EQ(truncate(Db().c_str(), 0), 0);
  }
  ServerProcess server_;
  std::string bundle_;
};

TEST_F(ServerStartStateTest, EmptyDatastoreNextToKeyFilesIsRefused) {
  const std::vector<std::string> keys = KeyFiles(server_);
  std::vector<std::string> contents;
  for (const std::string& k : keys) contents.push_back(testutil::ReadFile(k));
  EmptyDatastore();
  Outcome o = RunServer(server_);
  EXPECT_FALSE(o.started) << "a new CA was started over the existing key files";
  EXPECT_EQ(o.exit_code, 1) << o.err;
  const std::string msg = absl::StrCat(
      "the datastore ", Db(), " holds no CA state but the key directory holds CA key files (",
      absl::StrJoin(keys, ", "),
      "); refusing to start with a new CA: restore the datastore, or run with -allowNewCA to "
      "start a new CA on purpose");
  EXPECT_THAT(o.err, HasSubstr("Error: " + msg + "\n"));
  EXPECT_THAT(o.err, HasSubstr(" ERROR refusing to start error="));
  // Nothing was replaced: the same key files, no new one.
  EXPECT_EQ(KeyFiles(server_), keys);
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(testutil::ReadFile(keys[i]), contents[i]);
}

TEST_F(ServerStartStateTest, CorruptCaKeyFileIsRefused) {
  const std::string key = KeyFiles(server_, "x509-ca-").at(0);
  testutil::WriteFile(key, "not a key\n", 0600);
  Outcome o = RunServer(server_);
  EXPECT_FALSE(o.started) << "the corrupt CA key was replaced by a new CA";
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_THAT(o.err, HasSubstr(absl::StrCat(
                         "Error: CA slot x509_ca/current in the datastore: the X.509 CA key "
                         "cannot be used: key file ",
                         key, " is invalid: ")));
  EXPECT_THAT(o.err, HasSubstr(absl::StrCat(
                         "; refusing to start with a new CA (datastore ", Db(),
                         "): restore the key file, or run with -allowNewCA to start a new CA on "
                         "purpose\n")));
  EXPECT_THAT(o.err, HasSubstr(" ERROR refusing to start error="));
  EXPECT_EQ(testutil::ReadFile(key), "not a key\n");  // never overwritten
  EXPECT_EQ(KeyFiles(server_, "x509-ca-"), std::vector<std::string>{key});
}

TEST_F(ServerStartStateTest, CorruptJwtKeyFileIsRefused) {
  const std::string key = KeyFiles(server_, "jwt-key-").at(0);
  testutil::WriteFile(key, "", 0600);
  Outcome o = RunServer(server_);
  EXPECT_FALSE(o.started) << "the corrupt JWT key was replaced by a new one";
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_THAT(o.err, HasSubstr(absl::StrCat(
                         "Error: CA slot jwt_key/current in the datastore: the JWT signing key "
                         "cannot be used: key file ",
                         key, " is invalid: ")));
  EXPECT_EQ(testutil::ReadFile(key), "");
}

TEST_F(ServerStartStateTest, MissingCaKeyFileIsRefused) {
  const std::string key = KeyFiles(server_, "x509-ca-").at(0);
  ASSERT_EQ(unlink(key.c_str()), 0);
  Outcome o = RunServer(server_);
  EXPECT_FALSE(o.started) << "a new CA was started in place of the lost key";
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_THAT(o.err, HasSubstr(absl::StrCat(
                         "Error: the datastore records an X.509 CA whose key file is missing: ",
                         key, "; refusing to start with a new CA (datastore ", Db(),
                         "): restore the key file, or run with -allowNewCA to start a new CA on "
                         "purpose\n")));
  EXPECT_TRUE(KeyFiles(server_, "x509-ca-").empty());
}

TEST_F(ServerStartStateTest, AllowNewCaStartsANewCaOverAnEmptyDatastore) {
  EmptyDatastore();
  ASSERT_FALSE(RunServer(server_).started);
  Outcome o = RunServer(server_, {"-allowNewCA"});
  EXPECT_TRUE(o.started) << o.err;
  EXPECT_EQ(o.exit_code, 0) << o.err;
  // A new CA (the old key files stay where they were).
  EXPECT_EQ(KeyFiles(server_, "x509-ca-").size(), 2u);
  ASSERT_TRUE(server_.Start()) << server_.Logs();  // and it persists: no flag needed again
  EXPECT_NE(server_.BundlePem(), bundle_);
}

TEST_F(ServerStartStateTest, AllowNewCaReplacesACorruptKey) {
  const std::string key = KeyFiles(server_, "x509-ca-").at(0);
  testutil::WriteFile(key, "not a key\n", 0600);
  Outcome o = RunServer(server_, {"-allowNewCA"});
  EXPECT_TRUE(o.started) << o.err;
  EXPECT_THAT(o.err, HasSubstr(" WARN the X.509 CA key cannot be used; a new one will be made"));
  EXPECT_EQ(testutil::ReadFile(key), "not a key\n");
}

TEST_F(ServerStartStateTest, IntactStateRestartsWithoutTheFlag) {
  Outcome o = RunServer(server_);
  EXPECT_TRUE(o.started) << o.err;
  EXPECT_EQ(o.exit_code, 0) << o.err;
  ASSERT_TRUE(server_.Start()) << server_.Logs();
  EXPECT_EQ(server_.BundlePem(), bundle_);
}

}  // namespace
}  // namespace signet::servertest
