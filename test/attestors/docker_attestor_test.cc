#include "attestors/docker/docker_attestor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/config.h"
#include "test/fakes/cgroup_sandbox.h"
#include "test/fakes/http_fake_server.h"
#include "test/testutil/testutil.h"

namespace signet::attestors {
namespace {

using testfakes::FakeHttpRequest;
using testfakes::FakeHttpResponse;
using testfakes::FakeHttpServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const char kCid[] = "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970";

// A GET /containers/<id>/json answer as dockerd 24.0 (API 1.43) returns it,
// trimmed of the sections the attestor does not read.
std::string InspectJson(const std::string& id) {
  return absl::StrReplaceAll(R"json({
  "Id": "$ID",
  "Created": "2024-03-11T09:12:41.395729218Z",
  "Path": "/docker-entrypoint.sh",
  "Args": ["nginx", "-g", "daemon off;"],
  "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
            "OOMKilled": false, "Dead": false, "Pid": 31337, "ExitCode": 0, "Error": "",
            "StartedAt": "2024-03-11T09:12:41.771046101Z",
            "FinishedAt": "0001-01-01T00:00:00Z"},
  "Image": "sha256:92b11f67642b62bbb98e7e49169c346b30e20cd3c1c034d31087e46924b9312e",
  "ResolvConfPath": "/var/lib/docker/containers/$ID/resolv.conf",
  "Name": "/web",
  "RestartCount": 0,
  "Driver": "overlay2",
  "Platform": "linux",
  "HostConfig": {"NetworkMode": "default", "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                 "CgroupnsMode": "private", "Memory": 0, "NanoCpus": 0},
  "Mounts": [],
  "Config": {
    "Hostname": "4f797c539e6c",
    "Domainname": "",
    "User": "",
    "AttachStdin": false,
    "ExposedPorts": {"80/tcp": {}},
    "Tty": false,
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "NGINX_VERSION=1.25.4", "APP=frontend"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "Image": "nginx:1.25",
    "Volumes": null,
    "WorkingDir": "",
    "Entrypoint": ["/docker-entrypoint.sh"],
    "OnBuild": null,
    "Labels": {"com.example.team": "web", "maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
    "StopSignal": "SIGQUIT"
  },
  "NetworkSettings": {"Bridge": "", "SandboxID": "0b5c", "Ports": {"80/tcp": null},
                      "IPAddress": "172.17.0.2", "MacAddress": "02:42:ac:11:00:02"}
})json",
                             {{"$ID", id}});
}

const char* const kExpected[] = {
    "docker:env:APP=frontend",
    "docker:env:NGINX_VERSION=1.25.4",
    "docker:env:PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "docker:image_id:nginx:1.25",
    "docker:label:com.example.team:web",
    "docker:label:maintainer:NGINX Docker Maintainers <docker-maint@nginx.com>",
};

// FixedLocator reports a fixed container for every pid.
class FixedLocator : public ContainerLocator {
 public:
  explicit FixedLocator(absl::StatusOr<ContainerInfo> info) : info_(std::move(info)) {}
  absl::StatusOr<ContainerInfo> Locate(pid_t) override { return info_; }

 private:
  absl::StatusOr<ContainerInfo> info_;
};

std::vector<std::string> Strings(const std::vector<Selector>& s) {
  std::vector<std::string> out;
  for (const Selector& x : s) out.push_back(x.ToString());
  std::sort(out.begin(), out.end());
  return out;
}

class DockerAttestorTest : public ::testing::Test {
 protected:
  // Serve starts a fake dockerd on a unix socket answering with `handler`.
  void Serve(testfakes::FakeHttpHandler handler) {
    server_ = FakeHttpServer::StartUnix(socket_path(), std::move(handler));
    ASSERT_NE(server_, nullptr);
  }
  std::string socket_path() const { return dir_.File("docker.sock"); }

  std::unique_ptr<DockerAttestor> Attestor(absl::StatusOr<ContainerInfo> info,
                                           DockerAttestorConfig c = {}) {
    if (c.docker_socket_path == kDefaultDockerSocket) c.docker_socket_path = socket_path();
    auto a = DockerAttestor::Create(c, std::make_unique<FixedLocator>(std::move(info)));
    EXPECT_TRUE(a.ok()) << a.status();
    return std::move(a).value();
  }

  static FakeHttpResponse Inspect(const FakeHttpRequest& r) {
    if (r.path != absl::StrCat("/containers/", kCid, "/json")) {
      return {404, R"({"message":"page not found"})"};
    }
    return {200, InspectJson(kCid)};
  }

  testutil::TempDir dir_;
  std::unique_ptr<FakeHttpServer> server_;
};

TEST_F(DockerAttestorTest, SelectorsFromContainerInspect) {
  Serve(&Inspect);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ::testing::ElementsAreArray(kExpected));
  ASSERT_EQ(server_->requests(), 1);
  EXPECT_EQ(server_->received()[0].method, "GET");
}

TEST_F(DockerAttestorTest, DeadlinePassedSendsNoRequest) {
  Serve(&Inspect);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::Now() - absl::Seconds(1));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.status().message(),
            absl::StrCat("docker: deadline passed before inspecting container ", kCid));
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(DockerAttestorTest, PinnedApiVersion) {
  std::string path;
  Serve([&path](const FakeHttpRequest& r) {
    path = r.path;
    return FakeHttpResponse{200, InspectJson(kCid)};
  });
  DockerAttestorConfig c;
  c.docker_version = "1.41";
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""}, c)->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(path, absl::StrCat("/v1.41/containers/", kCid, "/json"));
}

TEST_F(DockerAttestorTest, NotInContainerGivesNoSelectorsAndNoRequest) {
  Serve(&Inspect);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{})->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, IsEmpty());
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(DockerAttestorTest, ProcessGone) {
  Serve(&Inspect);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(absl::NotFoundError("process 77 not found"))->Attest({77}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("process 77 not found"));
}

TEST_F(DockerAttestorTest, UnknownContainer) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{404, absl::StrCat(R"({"message":"No such container: )", kCid, "\"}")};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("No such container"));
}

TEST_F(DockerAttestorTest, ServerError) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{500, R"({"message":"driver failed"})"};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.status().message(), HasSubstr("HTTP 500: driver failed"));
}

TEST_F(DockerAttestorTest, TruncatedJson) {
  Serve([](const FakeHttpRequest&) {
    std::string body = InspectJson(kCid);
    return FakeHttpResponse{200, body.substr(0, body.size() / 2)};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("malformed JSON"));
}

TEST_F(DockerAttestorTest, ConnectionClosedMidBody) {
  Serve([](const FakeHttpRequest&) {
    FakeHttpResponse r{200, InspectJson(kCid)};
    r.send_only = 100;
    return r;
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr("request failed"));
}

TEST_F(DockerAttestorTest, HugeBodyWithContentLength) {
  Serve([](const FakeHttpRequest&) { return FakeHttpResponse{200, std::string(20 << 20, ' ')}; });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.status().message(), HasSubstr("response body exceeds 8388608 bytes"));
}

TEST_F(DockerAttestorTest, HugeChunkedBody) {
  Serve([](const FakeHttpRequest&) {
    FakeHttpResponse r{200, std::string(20 << 20, ' ')};
    r.chunked = true;
    return r;
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.status().message(), HasSubstr("response body exceeds 8388608 bytes"));
}

TEST_F(DockerAttestorTest, ChunkedBodyIsAccepted) {
  Serve([](const FakeHttpRequest&) {
    FakeHttpResponse r{200, InspectJson(kCid)};
    r.chunked = true;
    return r;
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ::testing::ElementsAreArray(kExpected));
}

TEST_F(DockerAttestorTest, ResponseAboutAnotherContainer) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{200, InspectJson(std::string(64, 'a'))};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("not the one asked for"));
}

TEST_F(DockerAttestorTest, NonStringLabel) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{
        200,
        absl::StrCat(R"({"Id":")", kCid,
                     R"(","State":{"Running":true},"Config":{"Labels":{"a":1},"Image":"x"}})")};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("Config.Labels.a is not a string"));
}

TEST_F(DockerAttestorTest, MissingConfig) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{200, absl::StrCat(R"({"Id":")", kCid, R"("})")};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("has no Config"));
}

TEST_F(DockerAttestorTest, NullLabelsAndEnv) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{
        200,
        absl::StrCat(
            R"({"Id":")", kCid,
            R"(","State":{"Running":true},"Config":{"Labels":null,"Env":null,"Image":"busybox"}})")};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ElementsAre("docker:image_id:busybox"));
}

TEST_F(DockerAttestorTest, SlowDaemonTimesOut) {
  Serve([](const FakeHttpRequest&) {
    FakeHttpResponse r{200, InspectJson(kCid)};
    r.delay = absl::Seconds(10);
    return r;
  });
  DockerAttestorConfig c;
  c.request_timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""}, c)->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.status().message(), HasSubstr("timed out"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// SPIRE's form of the setting (and its default's form): a unix:// URL.
TEST_F(DockerAttestorTest, UnixUrlSocketPathReachesTheDaemon) {
  Serve(&Inspect);
  DockerAttestorConfig c;
  c.docker_socket_path = absl::StrCat("unix://", socket_path());
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""}, c)->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ::testing::ElementsAreArray(kExpected));
  EXPECT_EQ(server_->requests(), 1);
}

TEST_F(DockerAttestorTest, StoppedContainerGivesNoSelectors) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{
        200,
        absl::StrReplaceAll(InspectJson(kCid), {{R"("Running": true)", R"("Running": false)"}})};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.status().message(),
            absl::StrCat("docker: container ", kCid, ": container is not running"));
}

TEST_F(DockerAttestorTest, MissingState) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{200, absl::StrCat(R"({"Id":")", kCid, R"(","Config":{"Image":"x"}})")};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            absl::StrCat("docker: container ", kCid, ": inspect response has no State"));
}

TEST_F(DockerAttestorTest, NoDaemon) {
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr(socket_path()));
}

TEST(DockerAttestorCreateTest, EmptySocketPath) {
  DockerAttestorConfig c;
  c.docker_socket_path = "";
  EXPECT_EQ(DockerAttestor::Create(c).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DockerAttestorCreateTest, BadApiVersion) {
  DockerAttestorConfig c;
  c.docker_version = "v1/../../x";
  auto a = DockerAttestor::Create(c);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("invalid docker_version"));
}

TEST(DockerAttestorConfigTest, ParsesKeys) {
  ConfigErrors errors("agent.conf");
  ConfigSection s(YAML::Load("docker_socket_path: /run/docker.sock\ndocker_version: \"1.41\"\n"),
                  "plugins.WorkloadAttestor.docker.plugin_data", &errors);
  DockerAttestorConfig c = ParseDockerAttestorConfig(s);
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(c.docker_socket_path, "/run/docker.sock");
  EXPECT_EQ(c.docker_version, "1.41");
}

TEST(DockerSocketFilePathTest, UnixUrlAndPlainPath) {
  EXPECT_EQ(DockerSocketFilePath("unix:///var/run/docker.sock").value(), "/var/run/docker.sock");
  EXPECT_EQ(DockerSocketFilePath("/run/podman/podman.sock").value(), "/run/podman/podman.sock");
}

// ParseErrors returns the errors of parsing `yaml` as the docker plugin_data
// section of agent.yaml.
std::string ParseErrors(const std::string& yaml, DockerAttestorConfig* out = nullptr) {
  ConfigErrors errors("agent.yaml");
  ConfigSection s(YAML::Load(yaml), "plugins.WorkloadAttestor.docker.plugin_data", &errors);
  DockerAttestorConfig c = ParseDockerAttestorConfig(s);
  if (out != nullptr) *out = c;
  return std::string(errors.ToStatus().message());
}

TEST(DockerAttestorConfigTest, SpireDefaultFormIsAccepted) {
  DockerAttestorConfig c;
  EXPECT_EQ(ParseErrors("docker_socket_path: \"unix:///var/run/docker.sock\"\n", &c), "");
  EXPECT_EQ(c.docker_socket_path, "unix:///var/run/docker.sock");
  EXPECT_TRUE(DockerAttestor::Create(c).ok());
}

TEST(DockerAttestorConfigTest, TcpSchemeIsRejectedWithKeyAndLine) {
  EXPECT_EQ(ParseErrors("docker_version: \"1.41\"\ndocker_socket_path: tcp://127.0.0.1:2375\n"),
            "agent.yaml:2: plugins.WorkloadAttestor.docker.plugin_data.docker_socket_path: scheme "
            "\"tcp://\" is not supported (use a unix:// URL or an absolute path)");
}

TEST(DockerAttestorConfigTest, NpipeSchemeIsRejected) {
  EXPECT_EQ(ParseErrors("docker_socket_path: npipe:////./pipe/docker_engine\n"),
            "agent.yaml:1: plugins.WorkloadAttestor.docker.plugin_data.docker_socket_path: scheme "
            "\"npipe://\" is not supported (use a unix:// URL or an absolute path)");
}

TEST(DockerAttestorConfigTest, RelativePathIsRejected) {
  EXPECT_EQ(ParseErrors("docker_socket_path: run/docker.sock\n"),
            "agent.yaml:1: plugins.WorkloadAttestor.docker.plugin_data.docker_socket_path: "
            "\"run/docker.sock\" is neither a unix:// URL with an absolute path nor an absolute "
            "path");
  EXPECT_EQ(ParseErrors("docker_socket_path: unix://run/docker.sock\n"),
            "agent.yaml:1: plugins.WorkloadAttestor.docker.plugin_data.docker_socket_path: "
            "\"unix://run/docker.sock\" is neither a unix:// URL with an absolute path nor an "
            "absolute path");
}

TEST(DockerAttestorCreateTest, TcpSchemeIsRejected) {
  DockerAttestorConfig c;
  c.docker_socket_path = "tcp://127.0.0.1:2375";
  absl::StatusOr<std::unique_ptr<DockerAttestor>> a = DockerAttestor::Create(c);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(),
            "docker_socket_path: scheme \"tcp://\" is not supported (use a unix:// URL or an "
            "absolute path)");
}

TEST(DockerAttestorConfigTest, SpireLocatorKeys) {
  DockerAttestorConfig c;
  EXPECT_EQ(ParseErrors("use_new_container_locator: true\nverbose_container_locator_logs: true\n"
                        "experimental: {}\n",
                        &c),
            "");
  EXPECT_TRUE(c.verbose_container_locator_logs);
  EXPECT_EQ(ParseErrors("use_new_container_locator: false\n"),
            "agent.yaml:1: plugins.WorkloadAttestor.docker.plugin_data.use_new_container_locator: "
            "false is not supported: Signet has only the cgroup v1/v2 container locator");
}

TEST(DockerAttestorConfigTest, UnsupportedSpireKeysAreNamed) {
  EXPECT_EQ(
      ParseErrors("container_id_cgroup_matchers: [\"/docker/<id>\"]\n"
                  "experimental:\n  sigstore:\n    rekor_url: https://rekor.sigstore.dev\n"),
      "agent.yaml:1: plugins.WorkloadAttestor.docker.plugin_data.container_id_cgroup_matchers: "
      "is not supported by Signet (container ids are found without patterns)\n"
      "agent.yaml:3: plugins.WorkloadAttestor.docker.plugin_data.experimental.sigstore: is "
      "not supported by Signet (no experimental docker features)");
}

TEST(DockerAttestorConfigTest, DefaultsAndUnknownKey) {
  ConfigErrors errors("agent.conf");
  ConfigSection s(YAML::Load("docker_sock: /x\n"), "plugins.WorkloadAttestor.docker.plugin_data",
                  &errors);
  DockerAttestorConfig c = ParseDockerAttestorConfig(s);
  EXPECT_EQ(c.docker_socket_path, "unix:///var/run/docker.sock");
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(errors.ToStatus().message(), HasSubstr("docker_sock"));
}

// End to end: a real process in a real cgroup named as Docker's systemd
// driver names it, attested through the real /proc and a fake dockerd.
TEST_F(DockerAttestorTest, RealProcessInRealDockerCgroup) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  std::string why;
  auto sandbox = testfakes::CgroupSandbox::Create(
      absl::StrCat("signet-test-", getpid(), ".slice/docker-", kCid, ".scope"), &why);
  if (!sandbox) GTEST_SKIP() << "cannot create a cgroup on this machine: " << why;
  testutil::Subprocess child({"/bin/sleep", "30"});
  if (!sandbox->Move(child.pid(), &why)) {
    GTEST_SKIP() << "cannot move a process into a cgroup on this machine: " << why;
  }
  Serve(&Inspect);
  DockerAttestorConfig c;
  c.docker_socket_path = socket_path();
  auto a = NewDockerAttestor(c);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::vector<Selector>> s = (*a)->Attest({child.pid()}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ::testing::ElementsAreArray(kExpected));
  // The test process itself is not in a container: no selectors, no query.
  absl::StatusOr<std::vector<Selector>> self = (*a)->Attest({getpid()}, absl::InfiniteFuture());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_THAT(*self, IsEmpty());
  EXPECT_EQ(server_->requests(), 1);
  child.Signal(SIGKILL);
  child.Wait();
}

}  // namespace
}  // namespace signet::attestors
