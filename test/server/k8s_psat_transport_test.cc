// The k8s_psat server plugin against a fake kube-apiserver over real HTTPS
// on 127.0.0.1 (test CA, real-format TokenReview / Pod / Node answers), its
// apiserver settings (explicit, kubeconfig, in-cluster) and its YAML config.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/config.h"
#include "server/nodeattestor/k8s_psat/k8s_psat.h"
#include "server/nodeattestor/k8s_psat/k8s_psat_config.h"
#include "server/nodeattestor/k8s_psat/kube_api_client.h"
#include "test/fakes/http_fake_server.h"
#include "test/fakes/kube_api_payloads.h"
#include "test/fakes/test_pki.h"
#include "test/testutil/testutil.h"

namespace signet::server {
namespace {

using testfakes::FakeHttpRequest;
using testfakes::FakeHttpResponse;
using testfakes::FakeHttpServer;
using testfakes::TestPki;
using ::testing::HasSubstr;

// The agent's projected token (audience spire-server) and the server's own
// service-account token.
const char kAgentToken[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjRkM2YifQ.eyJhdWQiOlsic3BpcmUtc2VydmVyIl0sInN1YiI6InN5c3RlbTpzZX"
    "J2aWNlYWNjb3VudDpzcGlyZTpzcGlyZS1hZ2VudCJ9.c2lnbmF0dXJl";
const char kServerToken[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmVyIn0.c2ln";
const char kPodUid[] = "5e1a8c3f-7b2d-4e9a-b6c1-0d2f3a4b5c6d";
const char kNodeUid[] = "7f3b2a1c-9d8e-4f6a-b5c4-3e2d1f0a9b8c";

// The agent pod and node the fake apiserver reports.
const testfakes::KubeAgentPod& Pod() {
  static const testfakes::KubeAgentPod* const pod =
      new testfakes::KubeAgentPod{kAgentToken,
                                  "system:serviceaccount:spire:spire-agent",
                                  "spire-agent-x7k2p",
                                  kPodUid,
                                  "node-a",
                                  kNodeUid,
                                  "10.0.0.12",
                                  "eu-west-1a"};
  return *pod;
}
std::string ReviewJson() { return testfakes::TokenReviewJson(Pod()); }
std::string PodJson() { return testfakes::PodJson(Pod()); }
std::string NodeJson() { return testfakes::NodeJson(Pod()); }

constexpr char kReviewPath[] = "/apis/authentication.k8s.io/v1/tokenreviews";
constexpr char kPodPath[] = "/api/v1/namespaces/spire/pods/spire-agent-x7k2p";
constexpr char kNodePath[] = "/api/v1/nodes/node-a";

// ApiServer answers like a kube-apiserver that knows the agent's pod.
FakeHttpResponse ApiServer(const FakeHttpRequest& r) {
  if (r.method == "POST" && r.path == kReviewPath) return {201, ReviewJson()};
  if (r.method == "GET" && r.path == kPodPath) return {200, PodJson()};
  if (r.method == "GET" && r.path == kNodePath) return {200, NodeJson()};
  return {
      404,
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404})"};
}

std::vector<std::string> SelectorStrings(const K8sPsatResult& r) {
  std::vector<std::string> out;
  for (const auto& s : r.selectors) out.push_back(absl::StrCat(s.type(), ":", s.value()));
  std::sort(out.begin(), out.end());
  return out;
}

std::string EnvNone(const std::string&) { return ""; }

class KubeApiTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testutil::WriteFile(dir_.File("token"), absl::StrCat(kServerToken, "\n"), 0600);
    testutil::WriteFile(dir_.File("ca.crt"), pki_.ca_pem);
  }

  // Serve starts the fake apiserver on HTTPS with a certificate for `dns`.
  void Serve(testfakes::FakeHttpHandler h = &ApiServer, const std::string& dns = "localhost") {
    server_ = FakeHttpServer::StartTcp(std::move(h), pki_.ServerContext(dns));
    ASSERT_NE(server_, nullptr);
  }

  std::string Url() const { return absl::StrCat("https://localhost:", server_->port()); }

  KubeApiClientConfig Config() const {
    KubeApiClientConfig c;
    c.api_server_url = Url();
    c.ca_path = dir_.File("ca.crt");
    c.token_path = dir_.File("token");
    c.connect_address = "127.0.0.1";
    return c;
  }

  KubeApiTransport Transport(const KubeApiClientConfig& c) {
    absl::StatusOr<KubeApiTransport> t = NewHttpsKubeApiTransport(c);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : KubeApiTransport();
  }

  std::unique_ptr<K8sPsatVerifier> Verifier(const KubeApiClientConfig& api) {
    K8sPsatClusterConfig c;
    c.service_account_allow_list = {"spire:spire-agent"};
    c.allowed_node_label_keys = {"topology.kubernetes.io/zone"};
    c.allowed_pod_label_keys = {"app"};
    c.transport = Transport(api);
    auto v = K8sPsatVerifier::Create(TrustDomain::FromString("example.org").value(),
                                     {{"prod", std::move(c)}});
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? std::move(v).value() : nullptr;
  }

  testutil::TempDir dir_;
  TestPki pki_ = TestPki::Make("kubernetes");
  std::unique_ptr<FakeHttpServer> server_;
};

TEST_F(KubeApiTransportTest, AttestsThroughRealHttps) {
  Serve();
  auto v = Verifier(Config());
  ASSERT_NE(v, nullptr);
  absl::StatusOr<K8sPsatResult> r = v->Attest(K8sPsatPayload("prod", kAgentToken));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->agent_id.ToString(),
            absl::StrCat("spiffe://example.org/spire/agent/k8s_psat/prod/", kNodeUid));
  EXPECT_THAT(SelectorStrings(*r),
              ::testing::ElementsAreArray({
                  std::string("k8s_psat:agent_node_ip:10.0.0.12"),
                  std::string("k8s_psat:agent_node_label:topology.kubernetes.io/zone:eu-west-1a"),
                  std::string("k8s_psat:agent_node_name:node-a"),
                  absl::StrCat("k8s_psat:agent_node_uid:", kNodeUid),
                  std::string("k8s_psat:agent_ns:spire"),
                  std::string("k8s_psat:agent_pod_label:app:spire-agent"),
                  std::string("k8s_psat:agent_pod_name:spire-agent-x7k2p"),
                  absl::StrCat("k8s_psat:agent_pod_uid:", kPodUid),
                  std::string("k8s_psat:agent_sa:spire-agent"),
                  std::string("k8s_psat:cluster:prod"),
              }));
  std::vector<FakeHttpRequest> got = server_->received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].path, kReviewPath);
  EXPECT_EQ(got[0].headers["authorization"], absl::StrCat("Bearer ", kServerToken));
  EXPECT_EQ(got[0].headers["content-type"], "application/json");
  EXPECT_THAT(got[0].body, HasSubstr(absl::StrCat("\"token\":\"", kAgentToken, "\"")));
  EXPECT_THAT(got[0].body, HasSubstr("\"kind\":\"TokenReview\""));
  EXPECT_EQ(got[1].method, "GET");
  EXPECT_EQ(got[1].path, kPodPath);
  EXPECT_EQ(got[1].headers["authorization"], absl::StrCat("Bearer ", kServerToken));
  EXPECT_EQ(got[2].path, kNodePath);
}

TEST_F(KubeApiTransportTest, TokenFileIsReReadOnEveryRequest) {
  Serve();
  KubeApiTransport t = Transport(Config());
  ASSERT_TRUE(t);
  ASSERT_TRUE(t("GET", kNodePath, "").ok());
  testutil::WriteFile(dir_.File("token"), "rotated-token\n", 0600);
  absl::StatusOr<KubeApiResponse> r = t("GET", kNodePath, "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  std::vector<FakeHttpRequest> got = server_->received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].headers["authorization"], "Bearer rotated-token");
}

TEST_F(KubeApiTransportTest, NonSuccessStatusIsAResponse) {
  Serve();
  KubeApiTransport t = Transport(Config());
  ASSERT_TRUE(t);
  absl::StatusOr<KubeApiResponse> r = t("GET", "/api/v1/nodes/gone", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_THAT(r->body, HasSubstr("NotFound"));
}

TEST_F(KubeApiTransportTest, UntrustedServerCertificateIsUnavailable) {
  Serve();
  TestPki other = TestPki::Make("other");
  testutil::WriteFile(dir_.File("ca.crt"), other.ca_pem);
  auto v = Verifier(Config());
  ASSERT_NE(v, nullptr);
  auto r = v->Attest(K8sPsatPayload("prod", kAgentToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("k8s_psat: TokenReview request failed"));
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(KubeApiTransportTest, WrongServerNameIsUnavailable) {
  Serve(&ApiServer, "kube-apiserver.other");
  KubeApiTransport t = Transport(Config());
  ASSERT_TRUE(t);
  absl::StatusOr<KubeApiResponse> r = t("GET", kNodePath, "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(KubeApiTransportTest, HugeAnswerIsResourceExhausted) {
  Serve([](const FakeHttpRequest&) {
    return FakeHttpResponse{
        200, absl::StrCat("{\"kind\":\"Node\",\"pad\":\"", std::string(64 << 10, 'x'), "\"}")};
  });
  KubeApiClientConfig c = Config();
  c.max_response_bytes = 16 << 10;
  KubeApiTransport t = Transport(c);
  ASSERT_TRUE(t);
  absl::StatusOr<KubeApiResponse> r = t("GET", kNodePath, "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("response body exceeds 16384 bytes"));
}

TEST_F(KubeApiTransportTest, SlowApiServerIsDeadlineExceeded) {
  Serve([](const FakeHttpRequest&) {
    FakeHttpResponse r{200, NodeJson()};
    r.delay = absl::Seconds(5);
    return r;
  });
  KubeApiClientConfig c = Config();
  c.request_timeout = absl::Milliseconds(300);
  KubeApiTransport t = Transport(c);
  ASSERT_TRUE(t);
  absl::StatusOr<KubeApiResponse> r = t("GET", kNodePath, "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(KubeApiTransportTest, TruncatedTokenReviewIsInternal) {
  Serve([](const FakeHttpRequest& r) {
    FakeHttpResponse resp = ApiServer(r);
    if (r.path == kReviewPath) resp.body = resp.body.substr(0, resp.body.size() / 2);
    return resp;
  });
  auto v = Verifier(Config());
  ASSERT_NE(v, nullptr);
  auto r = v->Attest(K8sPsatPayload("prod", kAgentToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(r.status().message(), HasSubstr("k8s_psat: malformed TokenReview"));
}

TEST_F(KubeApiTransportTest, ConnectionCutMidBodyIsUnavailable) {
  Serve([](const FakeHttpRequest& r) {
    FakeHttpResponse resp = ApiServer(r);
    resp.send_only = 100;
    return resp;
  });
  KubeApiTransport t = Transport(Config());
  ASSERT_TRUE(t);
  absl::StatusOr<KubeApiResponse> r = t("GET", kNodePath, "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(KubeApiTransportTest, MissingTokenFileFailsAtConstruction) {
  KubeApiClientConfig c;
  c.api_server_url = "https://localhost:6443";
  c.ca_path = dir_.File("ca.crt");
  c.token_path = dir_.File("no-token");
  auto t = NewHttpsKubeApiTransport(c);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), HasSubstr("cannot read apiserver token file"));
}

TEST_F(KubeApiTransportTest, MissingCaFileFailsAtConstruction) {
  KubeApiClientConfig c;
  c.api_server_url = "https://localhost:6443";
  c.ca_path = dir_.File("no-ca.crt");
  c.token_path = dir_.File("token");
  auto t = NewHttpsKubeApiTransport(c);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), HasSubstr("cannot read apiserver CA file"));
}

TEST_F(KubeApiTransportTest, TokenFileRemovedLaterIsUnavailable) {
  Serve();
  KubeApiTransport t = Transport(Config());
  ASSERT_TRUE(t);
  ASSERT_EQ(::unlink(dir_.File("token").c_str()), 0);
  absl::StatusOr<KubeApiResponse> r = t("GET", kNodePath, "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("cannot read apiserver token file"));
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(KubeApiTransportTest, PlainHttpUrlIsInvalidArgument) {
  KubeApiClientConfig c;
  c.api_server_url = "http://localhost:8080";
  c.ca_path = dir_.File("ca.crt");
  c.token_path = dir_.File("token");
  auto t = NewHttpsKubeApiTransport(c);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("must be https://<host>[:<port>]"));
}

// --- ResolveKubeApiClientConfig ---------------------------------------------

TEST(ResolveKubeApiClientConfigTest, InClusterDefaults) {
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  auto c = ResolveKubeApiClientConfig({}, [&env](const std::string& k) { return env[k]; });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->api_server_url, "https://10.96.0.1:443");
  EXPECT_EQ(c->ca_path, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_EQ(c->token_path, "/var/run/secrets/kubernetes.io/serviceaccount/token");
}

TEST(ResolveKubeApiClientConfigTest, InClusterIpv6HostIsBracketed) {
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"},
                                            {"KUBERNETES_SERVICE_PORT", "6443"}};
  auto c = ResolveKubeApiClientConfig({}, [&env](const std::string& k) { return env[k]; });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->api_server_url, "https://[fd00:10:96::1]:6443");
}

TEST(ResolveKubeApiClientConfigTest, ExplicitSettingsWin) {
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}};
  KubeApiClientConfig in;
  in.api_server_url = "https://api.example:6443/";
  in.ca_path = "/etc/signet/k8s-ca.pem";
  in.token_path = "/etc/signet/k8s-token";
  auto c = ResolveKubeApiClientConfig(in, [&env](const std::string& k) { return env[k]; });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->api_server_url, "https://api.example:6443");
  EXPECT_EQ(c->ca_path, "/etc/signet/k8s-ca.pem");
  EXPECT_EQ(c->token_path, "/etc/signet/k8s-token");
}

TEST(ResolveKubeApiClientConfigTest, NoApiServerIsInvalidArgument) {
  auto c = ResolveKubeApiClientConfig({}, &EnvNone);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("KUBERNETES_SERVICE_HOST is not set"));
}

TEST(ResolveKubeApiClientConfigTest, MissingKubeconfigIsNotFound) {
  KubeApiClientConfig in;
  in.kube_config_file = "/nonexistent/kubeconfig";
  auto c = ResolveKubeApiClientConfig(in, &EnvNone);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST(ResolveKubeApiClientConfigTest, KubeconfigWithClientCertificatesIsRefused) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("kubeconfig"), R"(apiVersion: v1
kind: Config
current-context: admin@kind
contexts:
- name: admin@kind
  context: {cluster: kind, user: admin}
clusters:
- name: kind
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: "LS0t"}
users:
- name: admin
  user: {client-certificate-data: "LS0t", client-key-data: "LS0t"}
)");
  KubeApiClientConfig in;
  in.kube_config_file = dir.File("kubeconfig");
  auto c = ResolveKubeApiClientConfig(in, &EnvNone);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("client certificates and exec plugins"));
}

TEST(ResolveKubeApiClientConfigTest, KubeconfigUnknownContextIsInvalidArgument) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.File("kubeconfig"),
                      "apiVersion: v1\nkind: Config\ncurrent-context: nope\ncontexts: []\n");
  KubeApiClientConfig in;
  in.kube_config_file = dir.File("kubeconfig");
  auto c = ResolveKubeApiClientConfig(in, &EnvNone);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("no context named \"nope\""));
}

TEST_F(KubeApiTransportTest, KubeconfigWithCaDataAndTokenFileAttests) {
  Serve();
  testutil::WriteFile(
      dir_.File("kubeconfig"),
      absl::StrCat("apiVersion: v1\nkind: Config\ncurrent-context: signet\n",
                   "contexts:\n- name: signet\n  context: {cluster: prod, user: signet-server}\n",
                   "clusters:\n- name: prod\n  cluster:\n    server: ", Url(),
                   "\n    certificate-authority-data: ", absl::Base64Escape(pki_.ca_pem),
                   "\nusers:\n- name: signet-server\n  user: {tokenFile: token}\n"));
  KubeApiClientConfig in;
  in.kube_config_file = dir_.File("kubeconfig");
  auto c = ResolveKubeApiClientConfig(in, &EnvNone);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->api_server_url, Url());
  EXPECT_EQ(c->token_path, dir_.File("token"));
  EXPECT_EQ(c->ca_pem, pki_.ca_pem);
  c->connect_address = "127.0.0.1";
  auto v = Verifier(*c);
  ASSERT_NE(v, nullptr);
  auto r = v->Attest(K8sPsatPayload("prod", kAgentToken));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(server_->received()[0].headers["authorization"], absl::StrCat("Bearer ", kServerToken));
}

// --- ParseK8sPsatConfig / NewK8sPsatVerifier --------------------------------

struct Parsed {
  K8sPsatConfig config;
  std::string errors;
};

Parsed Parse(const std::string& yaml) {
  YAML::Node n = YAML::Load(yaml);
  ConfigErrors errors("server.yaml");
  ConfigSection data(n, "plugins.NodeAttestor.k8s_psat.plugin_data", &errors);
  Parsed p{ParseK8sPsatConfig(data), ""};
  data.Finish();
  p.errors = std::string(errors.ToStatus().message());
  return p;
}

TEST(K8sPsatConfigTest, ParsesSpireKeys) {
  Parsed p = Parse(R"(clusters:
  prod:
    service_account_allow_list: ["spire:spire-agent", "infra:agent"]
    audience: ["spire-server", "signet"]
    allowed_node_label_keys: ["topology.kubernetes.io/zone"]
    allowed_pod_label_keys: ["app"]
    kube_config_file: /etc/k/kubeconfig
  staging:
    service_account_allow_list: ["spire:spire-agent"]
    api_server_url: "https://10.0.0.1:6443"
    ca_path: /etc/k/ca.crt
    token_path: /etc/k/token
    request_timeout: 3s
)");
  EXPECT_EQ(p.errors, "");
  ASSERT_EQ(p.config.clusters.size(), 2u);
  const K8sPsatClusterSettings& prod = p.config.clusters.at("prod");
  EXPECT_EQ(prod.service_account_allow_list,
            (std::vector<std::string>{"spire:spire-agent", "infra:agent"}));
  EXPECT_EQ(prod.audience, (std::vector<std::string>{"spire-server", "signet"}));
  EXPECT_EQ(prod.allowed_node_label_keys,
            (std::vector<std::string>{"topology.kubernetes.io/zone"}));
  EXPECT_EQ(prod.allowed_pod_label_keys, (std::vector<std::string>{"app"}));
  EXPECT_EQ(prod.api.kube_config_file, "/etc/k/kubeconfig");
  const K8sPsatClusterSettings& staging = p.config.clusters.at("staging");
  EXPECT_EQ(staging.audience, (std::vector<std::string>{"spire-server"}));
  EXPECT_EQ(staging.api.api_server_url, "https://10.0.0.1:6443");
  EXPECT_EQ(staging.api.ca_path, "/etc/k/ca.crt");
  EXPECT_EQ(staging.api.token_path, "/etc/k/token");
  EXPECT_EQ(staging.api.request_timeout, absl::Seconds(3));
}

TEST(K8sPsatConfigTest, MissingClusters) {
  Parsed p = Parse("{}");
  EXPECT_THAT(p.errors, HasSubstr("plugins.NodeAttestor.k8s_psat.plugin_data.clusters: at least "
                                  "one cluster must be configured"));
}

TEST(K8sPsatConfigTest, EmptyAllowList) {
  Parsed p = Parse("clusters:\n  prod:\n    audience: [spire-server]\n");
  EXPECT_THAT(p.errors, HasSubstr("clusters.prod.service_account_allow_list: must list at least"));
}

TEST(K8sPsatConfigTest, MalformedAllowListEntryNamesLine) {
  Parsed p = Parse("clusters:\n  prod:\n    service_account_allow_list: [spire-agent]\n");
  EXPECT_THAT(p.errors, HasSubstr("server.yaml:3: plugins.NodeAttestor.k8s_psat.plugin_data."
                                  "clusters.prod.service_account_allow_list: entry "
                                  "\"spire-agent\" is not \"<namespace>:<name>\""));
}

TEST(K8sPsatConfigTest, EmptyAudience) {
  Parsed p = Parse("clusters:\n  prod:\n    service_account_allow_list: [a:b]\n    audience: []\n");
  EXPECT_THAT(p.errors, HasSubstr("clusters.prod.audience: must not be empty"));
}

TEST(K8sPsatConfigTest, PlainHttpApiServer) {
  Parsed p = Parse(
      "clusters:\n  prod:\n    service_account_allow_list: [a:b]\n"
      "    api_server_url: http://10.0.0.1:8080\n");
  EXPECT_THAT(p.errors, HasSubstr("clusters.prod.api_server_url: must be an https:// URL"));
}

TEST(K8sPsatConfigTest, UnknownKey) {
  Parsed p = Parse(
      "clusters:\n  prod:\n    service_account_allow_list: [a:b]\n"
      "    use_token_review_api_validation: true\n");
  EXPECT_THAT(p.errors, HasSubstr("clusters.prod.use_token_review_api_validation"));
}

TEST(K8sPsatConfigTest, UnknownTopLevelKeyReportedOnce) {
  Parsed p = Parse("clusters:\n  prod:\n    service_account_allow_list: [a:b]\nclustres: {}\n");
  EXPECT_THAT(p.errors,
              HasSubstr("plugins.NodeAttestor.k8s_psat.plugin_data.clustres: unknown key"));
  EXPECT_EQ(p.errors.find("clustres"), p.errors.rfind("clustres"));
}

TEST(K8sPsatConfigTest, ClusterNameWithSlash) {
  Parsed p = Parse("clusters:\n  a/b:\n    service_account_allow_list: [a:b]\n");
  EXPECT_THAT(p.errors, HasSubstr("must not contain '/'"));
}

TEST(K8sPsatConfigTest, ShippedKubernetesServerConfigParses) {
  // conf/k8s/server-configmap.yaml's server.yaml, k8s_psat plugin_data.
  std::vector<YAML::Node> docs =
      YAML::LoadAllFromFile(testutil::SourceDir() + "/conf/k8s/server-configmap.yaml");
  ASSERT_EQ(docs.size(), 1u);
  YAML::Node server_yaml = YAML::Load(docs[0]["data"]["server.yaml"].as<std::string>());
  ConfigErrors errors("server.yaml");
  ConfigSection data(server_yaml["plugins"]["NodeAttestor"]["k8s_psat"]["plugin_data"],
                     "plugins.NodeAttestor.k8s_psat.plugin_data", &errors);
  K8sPsatConfig c = ParseK8sPsatConfig(data);
  data.Finish();
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  ASSERT_EQ(c.clusters.count("demo-cluster"), 1u);
  EXPECT_EQ(c.clusters.at("demo-cluster").service_account_allow_list,
            (std::vector<std::string>{"signet:signet-agent"}));
  // In a pod, the in-cluster defaults apply.
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  auto api = ResolveKubeApiClientConfig(c.clusters.at("demo-cluster").api,
                                        [&env](const std::string& k) { return env[k]; });
  ASSERT_TRUE(api.ok()) << api.status();
  EXPECT_EQ(api->api_server_url, "https://10.96.0.1:443");
  EXPECT_EQ(api->token_path, kInClusterTokenPath);
}

TEST_F(KubeApiTransportTest, VerifierFromYamlAttests) {
  Serve();
  Parsed p = Parse(absl::StrCat(
      "clusters:\n  prod:\n    service_account_allow_list: [\"spire:spire-agent\"]\n",
      "    allowed_pod_label_keys: [app]\n    api_server_url: ", Url(),
      "\n    ca_path: ", dir_.File("ca.crt"), "\n    token_path: ", dir_.File("token"), "\n"));
  ASSERT_EQ(p.errors, "");
  auto v = NewK8sPsatVerifier(TrustDomain::FromString("example.org").value(), p.config, &EnvNone);
  ASSERT_TRUE(v.ok()) << v.status();
  auto r = (*v)->Attest(K8sPsatPayload("prod", kAgentToken));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->agent_id.path(), absl::StrCat("/spire/agent/k8s_psat/prod/", kNodeUid));
  EXPECT_THAT(SelectorStrings(*r), ::testing::Contains("k8s_psat:agent_pod_label:app:spire-agent"));
}

TEST(K8sPsatVerifierFactoryTest, UnresolvableClusterIsNamed) {
  Parsed p = Parse("clusters:\n  prod:\n    service_account_allow_list: [a:b]\n");
  ASSERT_EQ(p.errors, "");
  auto v = NewK8sPsatVerifier(TrustDomain::FromString("example.org").value(), p.config, &EnvNone);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("k8s_psat: cluster \"prod\": no apiserver"));
}

}  // namespace
}  // namespace signet::server
