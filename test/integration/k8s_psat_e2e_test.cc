// Integration: k8s_psat node attestation end to end. A real signet-server
// (k8s_psat configured through a kubeconfig, as SPIRE's kube_config_file)
// talks over real HTTPS on 127.0.0.1 to a fake kube-apiserver serving
// real-format TokenReview / Pod / Node answers; a real signet-agent reads its
// projected service-account token from a file and attests with it.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/http_fake_server.h"
#include "test/fakes/kube_api_payloads.h"
#include "test/fakes/test_pki.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using faulttest::AgentProcess;
using servertest::ServerProcess;
using testfakes::FakeHttpRequest;
using testfakes::FakeHttpResponse;
using testfakes::FakeHttpServer;
using testfakes::TestPki;
using ::testing::HasSubstr;
using testutil::RunResult;

constexpr char kCluster[] = "prod-cluster";
// The agent's projected service-account token (audience spire-server), as
// the kubelet writes it: no trailing newline.
constexpr char kAgentToken[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6Ijk4ZDEifQ.eyJhdWQiOlsic3BpcmUtc2VydmVyIl0sImV4cCI6MTcwOTI4NzIwMCw"
    "ic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OnNwaXJlOnNwaXJlLWFnZW50In0.YWdlbnQtc2lnbmF0dXJl";
// The server's own service-account token, used as its apiserver credentials.
constexpr char kServerToken[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6Ijk4ZDEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c3BpcmU6c3Bp"
    "cmUtc2VydmVyIn0.c2VydmVyLXNpZ25hdHVyZQ";
constexpr char kPodName[] = "spire-agent-q8w4z";
constexpr char kPodUid[] = "2b6f0c1e-8a4d-4f3b-9c2e-7d1a5b3c9e40";
constexpr char kNodeName[] = "worker-1";
constexpr char kNodeUid[] = "c4e9a1f7-3b2d-4c8e-a6f0-9d7b5e3c1a28";
constexpr char kReviewPath[] = "/apis/authentication.k8s.io/v1/tokenreviews";
constexpr char kPodPath[] = "/api/v1/namespaces/spire/pods/spire-agent-q8w4z";
constexpr char kNodePath[] = "/api/v1/nodes/worker-1";

// Pod is the agent pod and node the fake apiserver reports.
const testfakes::KubeAgentPod& Pod() {
  static const testfakes::KubeAgentPod* const pod =
      new testfakes::KubeAgentPod{kAgentToken, "system:serviceaccount:spire:spire-agent",
                                  kPodName,    kPodUid,
                                  kNodeName,   kNodeUid,
                                  "10.0.3.7",  "eu-central-1b"};
  return *pod;
}

// ReviewJson is the TokenReview for the agent's token belonging to `user` (a
// service account user name) bound to the agent pod.
std::string ReviewJson(const std::string& user) {
  testfakes::KubeAgentPod p = Pod();
  p.user = user;
  return testfakes::TokenReviewJson(p);
}

// UnauthenticatedReviewJson is kube-apiserver's answer for a token it does
// not accept: "authenticated" is false, or left out (omitempty) as the real
// apiserver does, the user is empty and "error" says why.
std::string UnauthenticatedReviewJson(bool explicit_false) {
  return absl::StrCat(R"json({
  "kind": "TokenReview",
  "apiVersion": "authentication.k8s.io/v1",
  "metadata": {"creationTimestamp": null},
  "spec": {"token": ")json",
                      kAgentToken, R"json(", "audiences": ["spire-server"]},
  "status": {)json",
                      explicit_false ? R"json("authenticated": false, )json" : "",
                      R"json("user": {},
    "error": "[invalid bearer token, service account token has expired]"}
})json");
}

FakeHttpResponse NotFound() {
  return {404, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
               R"("reason":"NotFound","code":404})"};
}

// Values returns the values of the "<name> : value" lines of `out`, sorted.
std::vector<std::string> Values(const std::string& out, const std::string& name) {
  std::vector<std::string> v;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    size_t colon = line.find(" : ");
    if (colon != absl::string_view::npos) v.emplace_back(line.substr(colon + 3));
  }
  std::sort(v.begin(), v.end());
  return v;
}

class K8sPsatE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    apiserver_ = FakeHttpServer::StartTcp([this](const FakeHttpRequest& r) { return Answer(r); },
                                          pki_.ServerContext("localhost"));
    ASSERT_NE(apiserver_, nullptr);
    // The server reaches the apiserver as SPIRE's k8s_psat does outside the
    // cluster: a kubeconfig with the cluster CA and a token file.
    const testutil::TempDir& sd = server_.dir();
    testutil::WriteFile(sd.File("k8s-ca.crt"), pki_.ca_pem);
    testutil::WriteFile(sd.File("k8s-token"), absl::StrCat(kServerToken, "\n"), 0600);
    testutil::WriteFile(
        sd.File("kubeconfig"),
        absl::StrCat("apiVersion: v1\nkind: Config\ncurrent-context: signet\n",
                     "contexts:\n- name: signet\n  context: {cluster: prod, user: signet-server}\n",
                     "clusters:\n- name: prod\n  cluster:\n    server: https://localhost:",
                     apiserver_->port(), "\n    certificate-authority: k8s-ca.crt\n",
                     "users:\n- name: signet-server\n  user: {tokenFile: k8s-token}\n"));
    server_.SetNodeAttestors(
        absl::StrCat("    k8s_psat:\n      plugin_data:\n        clusters:\n          ", kCluster,
                     ":\n", "            service_account_allow_list: [\"spire:spire-agent\"]\n",
                     "            allowed_node_label_keys: [\"topology.kubernetes.io/zone\"]\n",
                     "            allowed_pod_label_keys: [\"app\"]\n",
                     "            kube_config_file: \"", sd.File("kubeconfig"), "\"\n"));
    ASSERT_TRUE(server_.Start()) << server_.Logs();
    // The agent's projected token, where the kubelet would mount it.
    token_path_ = tokens_.File("spire-agent");
    testutil::WriteFile(token_path_, kAgentToken, 0600);
    agent_ = std::make_unique<AgentProcess>(
        server_, server_.BundlePem(), 0,
        absl::StrCat("    k8s_psat:\n      plugin_data:\n        cluster: \"", kCluster,
                     "\"\n        token_path: \"", token_path_, "\"\n"));
  }

  // Answer plays kube-apiserver: the TokenReview answer set by the test, and
  // the agent's pod and node.
  FakeHttpResponse Answer(const FakeHttpRequest& r) {
    if (r.method == "POST" && r.path == kReviewPath) {
      absl::MutexLock l(&mu_);
      return {201, review_};
    }
    if (r.method == "GET" && r.path == kPodPath) return {200, testfakes::PodJson(Pod())};
    if (r.method == "GET" && r.path == kNodePath) return {200, testfakes::NodeJson(Pod())};
    return NotFound();
  }

  void SetReview(std::string json) {
    absl::MutexLock l(&mu_);
    review_ = std::move(json);
  }

  // StartFails starts the agent, expects it to exit 1 and returns its
  // stderr and log.
  std::string StartFails() {
    EXPECT_FALSE(agent_->Start(""));
    EXPECT_TRUE(testutil::WaitFor([&] { return !agent_->Running(); }));
    std::string logs = agent_->Logs();
    EXPECT_EQ(agent_->Stop(), 1) << logs;
    return logs;
  }

  // ExpectRefused checks the agent failed with the server's PermissionDenied
  // `message`, after one TokenReview carrying its token, and that the server
  // registered no agent.
  void ExpectRefused(const std::string& logs, const std::string& message) {
    std::vector<std::string> lines = absl::StrSplit(logs, '\n');
    EXPECT_THAT(lines, ::testing::Contains(absl::StrCat("signet-agent: ", message))) << logs;
    EXPECT_THAT(logs, HasSubstr("ERROR agent stopped error=\"PERMISSION_DENIED: k8s_psat: "))
        << logs;
    std::vector<FakeHttpRequest> got = apiserver_->received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].method, "POST");
    EXPECT_EQ(got[0].path, kReviewPath);
    EXPECT_EQ(ReviewedToken(got[0]), kAgentToken);
    RunResult list = server_.Cli({"agent", "list"});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_EQ(list.out, "No attested agents found\n");
    EXPECT_THAT(server_.Logs(), HasSubstr("agent attestation failed"));
  }

  // ReviewedToken returns spec.token of a TokenReview request.
  static std::string ReviewedToken(const FakeHttpRequest& r) {
    google::protobuf::Struct review;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &review).ok()) << r.body;
    const auto& f = review.fields();
    if (f.count("spec") == 0) return "";
    const auto& spec = f.at("spec").struct_value().fields();
    return spec.count("token") ? spec.at("token").string_value() : "";
  }

  TestPki pki_ = TestPki::Make("kubernetes");
  absl::Mutex mu_;
  std::string review_ ABSL_GUARDED_BY(mu_) = ReviewJson("system:serviceaccount:spire:spire-agent");
  std::unique_ptr<FakeHttpServer> apiserver_;
  ServerProcess server_;
  testutil::TempDir tokens_;
  std::string token_path_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(K8sPsatE2ETest, AgentAttestsAndServesWorkloadSvid) {
  ASSERT_TRUE(agent_->Start("")) << agent_->Logs() << server_.Logs();
  const std::string agent_id =
      absl::StrCat("spiffe://example.org/spire/agent/k8s_psat/", kCluster, "/", kNodeUid);

  RunResult list = server_.Cli({"agent", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("Found 1 attested agent:\n"));
  EXPECT_EQ(ServerProcess::Field(list.out, "SPIFFE ID"), agent_id);
  EXPECT_EQ(ServerProcess::Field(list.out, "Attestation type"), "k8s_psat");

  RunResult show = server_.Cli({"agent", "show", "-spiffeID", agent_id});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(ServerProcess::Field(show.out, "Can re-attest"), "true");
  EXPECT_EQ(Values(show.out, "Selectors"),
            (std::vector<std::string>{
                "k8s_psat:agent_node_ip:10.0.3.7",
                "k8s_psat:agent_node_label:topology.kubernetes.io/zone:eu-central-1b",
                "k8s_psat:agent_node_name:worker-1",
                absl::StrCat("k8s_psat:agent_node_uid:", kNodeUid),
                "k8s_psat:agent_ns:spire",
                "k8s_psat:agent_pod_label:app:spire-agent",
                "k8s_psat:agent_pod_name:spire-agent-q8w4z",
                absl::StrCat("k8s_psat:agent_pod_uid:", kPodUid),
                "k8s_psat:agent_sa:spire-agent",
                absl::StrCat("k8s_psat:cluster:", kCluster),
            }))
      << show.out;

  // The apiserver saw the token the agent read from its file, reviewed for
  // the server's audience, then the pod and node lookups, each with the
  // server's own Bearer credentials.
  std::vector<FakeHttpRequest> got = apiserver_->received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].path, kReviewPath);
  EXPECT_EQ(got[0].headers["content-type"], "application/json");
  EXPECT_EQ(ReviewedToken(got[0]), kAgentToken);
  EXPECT_THAT(got[0].body, HasSubstr(R"("audiences":["spire-server"])"));
  EXPECT_THAT(got[0].body, HasSubstr(R"("kind":"TokenReview")"));
  EXPECT_EQ(got[1].method, "GET");
  EXPECT_EQ(got[1].path, kPodPath);
  EXPECT_EQ(got[2].method, "GET");
  EXPECT_EQ(got[2].path, kNodePath);
  for (FakeHttpRequest& r : got) {
    EXPECT_EQ(r.headers["authorization"], absl::StrCat("Bearer ", kServerToken)) << r.path;
  }

  // A workload entry under the k8s_psat agent reaches the workload.
  RunResult entry = server_.Cli({"entry", "create", "-parentID", agent_id, "-spiffeID",
                                 "spiffe://example.org/ns/spire/workload", "-selector",
                                 absl::StrCat("unix:uid:", geteuid())});
  ASSERT_EQ(entry.exit_code, 0) << entry.err;
  EXPECT_EQ(ServerProcess::Field(entry.out, "Parent ID"), agent_id);
  RunResult fetch;
  ASSERT_TRUE(testutil::WaitFor([&] {
    fetch = agent_->Cli({"api", "fetch", "x509"});
    return fetch.exit_code == 0;
  })) << fetch.err
      << agent_->Logs();
  EXPECT_THAT(fetch.out, HasSubstr("Received 1 svid after"));
  EXPECT_THAT(fetch.out, HasSubstr("SPIFFE ID:\t\tspiffe://example.org/ns/spire/workload\n"));
  // No re-attestation happened on the way.
  EXPECT_EQ(apiserver_->requests(), 3);
}

TEST_F(K8sPsatE2ETest, ServiceAccountNotInAllowListIsRefused) {
  SetReview(ReviewJson("system:serviceaccount:default:intruder"));
  std::string logs = StartFails();
  ExpectRefused(logs, "k8s_psat: service account \"default:intruder\" is not allowed");
}

TEST_F(K8sPsatE2ETest, UnauthenticatedTokenIsRefused) {
  SetReview(UnauthenticatedReviewJson(/*explicit_false=*/true));
  std::string logs = StartFails();
  ExpectRefused(logs,
                "k8s_psat: token not authenticated: [invalid bearer token, service account token "
                "has expired]");
}

TEST_F(K8sPsatE2ETest, TokenReviewWithoutAuthenticatedFieldIsRefused) {
  // kube-apiserver omits "authenticated" when false (omitempty).
  SetReview(UnauthenticatedReviewJson(/*explicit_false=*/false));
  std::string logs = StartFails();
  ExpectRefused(logs,
                "k8s_psat: token not authenticated: [invalid bearer token, service account token "
                "has expired]");
}

}  // namespace
}  // namespace signet
