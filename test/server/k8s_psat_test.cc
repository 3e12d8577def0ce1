#include "server/nodeattestor/k8s_psat/k8s_psat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace signet::server {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

const char kToken[] = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsic3BpcmUtc2VydmVyIl19.c2ln";
const char kPodUid[] = "5e1a8c3f-7b2d-4e9a-b6c1-0d2f3a4b5c6d";
const char kNodeUid[] = "7f3b2a1c-9d8e-4f6a-b5c4-3e2d1f0a9b8c";

// TokenReview answer as kube-apiserver 1.28 returns it.
std::string Review(bool authenticated, const std::string& user, const std::string& audience) {
  return absl::StrReplaceAll(R"json({
  "kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
  "metadata": {"creationTimestamp": null},
  "spec": {"token": "redacted", "audiences": ["spire-server"]},
  "status": {
    "authenticated": $AUTH,
    "user": {"username": "$USER", "uid": "1c9e7b5a-3d2f-4a1b-8c6d-5e4f3a2b1c0d",
             "groups": ["system:serviceaccounts", "system:serviceaccounts:spire",
                        "system:authenticated"],
             "extra": {"authentication.kubernetes.io/pod-name": ["spire-agent-x7k2p"],
                       "authentication.kubernetes.io/pod-uid": ["$PODUID"]}},
    "audiences": ["$AUD"]
  }
})json",
                             {{"$AUTH", authenticated ? "true" : "false"},
                              {"$USER", user},
                              {"$AUD", audience},
                              {"$PODUID", kPodUid}});
}

std::string PodJson(const std::string& uid) {
  return absl::StrCat(R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"spire-agent-x7k2p",)",
                      R"("namespace":"spire","uid":")", uid,
                      R"(","labels":{"app":"spire-agent","tier":"infra"}},)",
                      R"("spec":{"nodeName":"node-a","serviceAccountName":"spire-agent"},)",
                      R"("status":{"phase":"Running","hostIP":"10.0.0.12"}})");
}

std::string NodeJson() {
  return absl::StrCat(R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"node-a","uid":")",
                      kNodeUid, R"(","labels":{"kubernetes.io/hostname":"node-a",)",
                      R"("topology.kubernetes.io/zone":"eu-west-1a"}},"status":{}})");
}

// FakeApiServer answers the three calls the verifier makes.
struct FakeApiServer {
  std::string review = Review(true, "system:serviceaccount:spire:spire-agent", "spire-server");
  std::string pod = PodJson(kPodUid);
  long review_status = 201;
  std::vector<std::string> calls;
  std::vector<std::string> bodies;

  KubeApiTransport Transport() {
    return [this](const std::string& method, const std::string& path,
                  const std::string& body) -> absl::StatusOr<KubeApiResponse> {
      calls.push_back(absl::StrCat(method, " ", path));
      bodies.push_back(body);
      if (method == "POST" && path == "/apis/authentication.k8s.io/v1/tokenreviews") {
        return KubeApiResponse{review_status, review};
      }
      if (method == "GET" && path == "/api/v1/namespaces/spire/pods/spire-agent-x7k2p") {
        return KubeApiResponse{200, pod};
      }
      if (method == "GET" && path == "/api/v1/nodes/node-a")
        return KubeApiResponse{200, NodeJson()};
      return KubeApiResponse{404, R"({"kind":"Status","reason":"NotFound"})"};
    };
  }
};

class K8sPsatTest : public ::testing::Test {
 protected:
  std::unique_ptr<K8sPsatVerifier> Verifier(std::vector<std::string> allow = {
                                                "spire:spire-agent"}) {
    K8sPsatClusterConfig c;
    c.service_account_allow_list = std::move(allow);
    c.allowed_node_label_keys = {"topology.kubernetes.io/zone"};
    c.allowed_pod_label_keys = {"app"};
    c.transport = api_.Transport();
    auto v = K8sPsatVerifier::Create(TrustDomain::FromString("example.org").value(),
                                     {{"prod-cluster", std::move(c)}});
    EXPECT_TRUE(v.ok()) << v.status();
    return std::move(v).value();
  }
  FakeApiServer api_;
};

TEST_F(K8sPsatTest, AttestsAgent) {
  absl::StatusOr<K8sPsatResult> r = Verifier()->Attest(K8sPsatPayload("prod-cluster", kToken));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->agent_id.ToString(),
            absl::StrCat("spiffe://example.org/spire/agent/k8s_psat/prod-cluster/", kNodeUid));
  std::vector<std::string> got;
  for (const auto& s : r->selectors) got.push_back(absl::StrCat(s.type(), ":", s.value()));
  std::sort(got.begin(), got.end());
  EXPECT_THAT(got,
              ElementsAreArray({
                  std::string("k8s_psat:agent_node_ip:10.0.0.12"),
                  std::string("k8s_psat:agent_node_label:topology.kubernetes.io/zone:eu-west-1a"),
                  std::string("k8s_psat:agent_node_name:node-a"),
                  absl::StrCat("k8s_psat:agent_node_uid:", kNodeUid),
                  std::string("k8s_psat:agent_ns:spire"),
                  std::string("k8s_psat:agent_pod_label:app:spire-agent"),
                  std::string("k8s_psat:agent_pod_name:spire-agent-x7k2p"),
                  absl::StrCat("k8s_psat:agent_pod_uid:", kPodUid),
                  std::string("k8s_psat:agent_sa:spire-agent"),
                  std::string("k8s_psat:cluster:prod-cluster"),
              }));
  ASSERT_EQ(api_.calls.size(), 3u);
  EXPECT_THAT(api_.bodies[0], HasSubstr(kToken));
  EXPECT_THAT(api_.bodies[0], HasSubstr("\"audiences\":[\"spire-server\"]"));
}

TEST_F(K8sPsatTest, MalformedPayload) {
  auto r = Verifier()->Attest("{not json");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("malformed attestation payload"));
}

TEST_F(K8sPsatTest, UnknownCluster) {
  auto r = Verifier()->Attest(K8sPsatPayload("other", kToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("not configured for cluster \"other\""));
  EXPECT_TRUE(api_.calls.empty());
}

TEST_F(K8sPsatTest, TokenNotAuthenticated) {
  api_.review = Review(false, "", "spire-server");
  auto r = Verifier()->Attest(K8sPsatPayload("prod-cluster", kToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("token not authenticated"));
}

TEST_F(K8sPsatTest, WrongAudience) {
  api_.review = Review(true, "system:serviceaccount:spire:spire-agent", "api");
  auto r = Verifier()->Attest(K8sPsatPayload("prod-cluster", kToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("audience"));
}

TEST_F(K8sPsatTest, ServiceAccountNotAllowed) {
  api_.review = Review(true, "system:serviceaccount:default:default", "spire-server");
  auto r = Verifier()->Attest(K8sPsatPayload("prod-cluster", kToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(),
              HasSubstr("service account \"default:default\" is not allowed"));
}

TEST_F(K8sPsatTest, NotAServiceAccount) {
  api_.review = Review(true, "kubernetes-admin", "spire-server");
  auto r = Verifier()->Attest(K8sPsatPayload("prod-cluster", kToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("is not a service account"));
}

TEST_F(K8sPsatTest, PodUidMismatch) {
  api_.pod = PodJson("00000000-0000-0000-0000-000000000000");
  auto r = Verifier()->Attest(K8sPsatPayload("prod-cluster", kToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("pod UID mismatch"));
}

TEST_F(K8sPsatTest, ApiServerError) {
  api_.review_status = 500;
  auto r = Verifier()->Attest(K8sPsatPayload("prod-cluster", kToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(r.status().message(), HasSubstr("apiserver answered HTTP 500"));
}

TEST_F(K8sPsatTest, TruncatedReview) {
  api_.review = api_.review.substr(0, 40);
  auto r = Verifier()->Attest(K8sPsatPayload("prod-cluster", kToken));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(r.status().message(), HasSubstr("malformed TokenReview"));
}

TEST(K8sPsatCreateTest, BadAllowListEntry) {
  K8sPsatClusterConfig c;
  c.service_account_allow_list = {"spire-agent"};
  c.transport = [](const std::string&, const std::string&,
                   const std::string&) -> absl::StatusOr<KubeApiResponse> {
    return KubeApiResponse{};
  };
  auto v = K8sPsatVerifier::Create(TrustDomain::FromString("example.org").value(),
                                   {{"c", std::move(c)}});
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("is not \"<namespace>:<name>\""));
}

}  // namespace
}  // namespace signet::server
