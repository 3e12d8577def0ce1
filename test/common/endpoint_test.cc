// Tests for common/endpoint (checklist E7-E10).
#include "common/endpoint.h"

#include <stdlib.h>

#include <string>

#include "gtest/gtest.h"

namespace signet {
namespace {

void ExpectTarget(absl::string_view addr, absl::string_view target) {
  absl::StatusOr<std::string> t = ParseWorkloadEndpoint(addr);
  ASSERT_TRUE(t.ok()) << addr << ": " << t.status();
  EXPECT_EQ(*t, target) << addr;
}

void ExpectInvalid(absl::string_view addr, absl::string_view message) {
  absl::StatusOr<std::string> t = ParseWorkloadEndpoint(addr);
  ASSERT_FALSE(t.ok()) << addr << " accepted as " << *t;
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << addr;
  EXPECT_EQ(t.status().message(), message) << addr;
}

constexpr char kScheme[] = "workload endpoint socket URI must have a \"tcp\" or \"unix\" scheme";

// E8: scheme must be unix or tcp.
TEST(EndpointTest, E8_RejectsOtherSchemes) {
  ExpectInvalid("http://127.0.0.1:80", kScheme);
  ExpectInvalid("unixx:///a", kScheme);
  ExpectInvalid("", kScheme);
  ExpectInvalid(":///a", kScheme);
  ExpectInvalid("1unix:///a", kScheme);
}
TEST(EndpointTest, E8_E9_RejectsMissingScheme) { ExpectInvalid("/run/a.sock", kScheme); }

// E9: unix.
TEST(EndpointTest, E9_AcceptsAbsoluteUnixPath) {
  ExpectTarget("unix:///run/a.sock", "unix:/run/a.sock");
  ExpectTarget("unix:/run/a.sock", "unix:/run/a.sock");
  ExpectTarget("UNIX:///run/a.sock", "unix:/run/a.sock");
  ExpectTarget("unix:///tmp/signet-agent/public/api.sock",
               "unix:/tmp/signet-agent/public/api.sock");
}
TEST(EndpointTest, E9_RejectsOpaqueUnix) {
  ExpectInvalid("unix:rel", "workload endpoint unix socket URI must not be opaque");
  ExpectInvalid("unix:rel/a.sock", "workload endpoint unix socket URI must not be opaque");
}
TEST(EndpointTest, E9_RejectsUnixAuthority) {
  ExpectInvalid("unix://host/p", "workload endpoint unix socket URI must not include an authority");
  ExpectInvalid("unix://host", "workload endpoint unix socket URI must not include an authority");
}
TEST(EndpointTest, E9_RejectsUnixQuery) {
  ExpectInvalid("unix:///p?x", "workload endpoint unix socket URI must not include query values");
}
TEST(EndpointTest, E9_RejectsUnixFragment) {
  ExpectInvalid("unix:///p#f", "workload endpoint unix socket URI must not include a fragment");
}
TEST(EndpointTest, E9_RejectsUnixUserinfo) {
  ExpectInvalid("unix://u@h/p", "workload endpoint unix socket URI must not include user info");
}
TEST(EndpointTest, E9_RejectsUnixWithoutPath) {
  ExpectInvalid("unix:", "workload endpoint unix socket URI must include a path");
  ExpectInvalid("unix://", "workload endpoint unix socket URI must include a path");
}
TEST(EndpointTest, E9_RejectsPercentEncodedUnixPath) {
  ExpectInvalid("unix:///run/a%20b.sock",
                "workload endpoint unix socket URI path must not contain percent-encoding");
}
TEST(EndpointTest, E9_RejectsTooLongUnixPath) {
  std::string ok_path = "/" + std::string(106, 'a');  // 107 bytes + NUL fits sun_path
  ExpectTarget("unix://" + ok_path, "unix:" + ok_path);
  ExpectInvalid("unix://" + ok_path + "a",
                "workload endpoint unix socket path is too long (108 bytes; maximum 107)");
}

// E10: tcp.
TEST(EndpointTest, E10_AcceptsIpLiteralAndPort) {
  ExpectTarget("tcp://127.0.0.1:8000", "ipv4:127.0.0.1:8000");
  ExpectTarget("tcp://[::1]:8000", "ipv6:[::1]:8000");
  ExpectTarget("tcp://[fe80:0:0::1]:1", "ipv6:[fe80::1]:1");
}
TEST(EndpointTest, E10_RejectsHostname) {
  ExpectInvalid("tcp://localhost:8000",
                "workload endpoint tcp socket URI host component must be an IP:port");
}
TEST(EndpointTest, E10_RejectsBadIpLiterals) {
  for (const char* in :
       {"tcp://256.0.0.1:80", "tcp://::1:8000", "tcp://[127.0.0.1]:80", "tcp://[::1:80",
        "tcp://[::1]x:80", "tcp://:8000", "tcp://[fe80::1%25eth0]:80"}) {
    ExpectInvalid(in, "workload endpoint tcp socket URI host component must be an IP:port");
  }
}
TEST(EndpointTest, E10_RejectsMissingPort) {
  ExpectInvalid("tcp://127.0.0.1",
                "workload endpoint tcp socket URI host component must include a port");
  ExpectInvalid("tcp://127.0.0.1:",
                "workload endpoint tcp socket URI host component must include a port");
  ExpectInvalid("tcp://[::1]",
                "workload endpoint tcp socket URI host component must include a port");
}
TEST(EndpointTest, E10_RejectsBadPort) {
  ExpectInvalid("tcp://127.0.0.1:0",
                "workload endpoint tcp socket URI port \"0\" is not in the range 1-65535");
  ExpectInvalid("tcp://127.0.0.1:65536",
                "workload endpoint tcp socket URI port \"65536\" is not in the range 1-65535");
  ExpectInvalid("tcp://127.0.0.1:http",
                "workload endpoint tcp socket URI port \"http\" is not in the range 1-65535");
  ExpectInvalid("tcp://127.0.0.1:+80",
                "workload endpoint tcp socket URI port \"+80\" is not in the range 1-65535");
}
TEST(EndpointTest, E10_RejectsPath) {
  ExpectInvalid("tcp://127.0.0.1:8000/foo",
                "workload endpoint tcp socket URI must not include a path");
  ExpectInvalid("tcp://127.0.0.1:8000/",
                "workload endpoint tcp socket URI must not include a path");
}
TEST(EndpointTest, E10_RejectsQuery) {
  ExpectInvalid("tcp://127.0.0.1:8000?x=1",
                "workload endpoint tcp socket URI must not include query values");
}
TEST(EndpointTest, E10_RejectsFragment) {
  ExpectInvalid("tcp://127.0.0.1:8000#f",
                "workload endpoint tcp socket URI must not include a fragment");
}
TEST(EndpointTest, E10_RejectsUserinfo) {
  ExpectInvalid("tcp://u@127.0.0.1:8000",
                "workload endpoint tcp socket URI must not include user info");
  ExpectInvalid("tcp://u:p@127.0.0.1:8000",
                "workload endpoint tcp socket URI must not include user info");
}
TEST(EndpointTest, E10_RejectsOpaqueTcp) {
  ExpectInvalid("tcp:127.0.0.1:8000", "workload endpoint tcp socket URI must not be opaque");
}
TEST(EndpointTest, E10_RejectsMissingHost) {
  ExpectInvalid("tcp://", "workload endpoint tcp socket URI must include a host");
  ExpectInvalid("tcp:///p", "workload endpoint tcp socket URI must include a host");
  ExpectInvalid("tcp:/p", "workload endpoint tcp socket URI must include a host");
}

// E7: flag first, then $SPIFFE_ENDPOINT_SOCKET, else FailedPrecondition.
class EndpointEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv(kSpiffeEndpointSocketEnv); }
  void TearDown() override { unsetenv(kSpiffeEndpointSocketEnv); }
};

TEST_F(EndpointEnvTest, E7_FlagWins) {
  setenv(kSpiffeEndpointSocketEnv, "unix:///env.sock", 1);
  absl::StatusOr<std::string> t = WorkloadEndpointFromEnvOrFlag("unix:///flag.sock");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "unix:/flag.sock");
}
TEST_F(EndpointEnvTest, E7_FallsBackToEnv) {
  setenv(kSpiffeEndpointSocketEnv, "tcp://127.0.0.1:8000", 1);
  absl::StatusOr<std::string> t = WorkloadEndpointFromEnvOrFlag("");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "ipv4:127.0.0.1:8000");
}
TEST_F(EndpointEnvTest, E7_InvalidEnvIsInvalidArgument) {
  setenv(kSpiffeEndpointSocketEnv, "/run/a.sock", 1);
  absl::StatusOr<std::string> t = WorkloadEndpointFromEnvOrFlag("");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), kScheme);
}
TEST_F(EndpointEnvTest, E7_NotConfigured) {
  absl::StatusOr<std::string> t = WorkloadEndpointFromEnvOrFlag("");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.status().message(), "workload endpoint socket address is not configured");
}
TEST_F(EndpointEnvTest, E7_EmptyEnvIsNotConfigured) {
  setenv(kSpiffeEndpointSocketEnv, "", 1);
  absl::StatusOr<std::string> t = WorkloadEndpointFromEnvOrFlag("");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace signet
