#include "attestors/k8s/k8s_attestor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/config.h"
#include "common/issuance/x509_issuer.h"
#include "common/keys.h"
#include "common/x509.h"
#include "test/fakes/cgroup_sandbox.h"
#include "test/fakes/http_fake_server.h"
#include "test/testutil/testutil.h"

namespace signet::attestors {
namespace {

using testfakes::FakeHttpRequest;
using testfakes::FakeHttpResponse;
using testfakes::FakeHttpServer;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const char kCid[] = "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6";
const char kCid2[] = "bc1eb339399eae78dd1115c765fda84b71ac6a954291b223820cfe775d8af778";
const char kInitCid[] = "5d2c0e3e1a7f4b6c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e";
const char kPod[] = "a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80";
const char kOtherPod[] = "0c7b3c2a-6f1e-4a52-9d1b-2f9e8d7c6b5a";
const char kToken[] = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln";

// Pod renders one pod as the kubelet's /pods lists it (Kubernetes 1.28,
// containerd 1.7), with the given uid and container ids.
std::string Pod(const std::string& uid, const std::string& cid, const std::string& cid2,
                const std::string& init_cid) {
  return absl::StrReplaceAll(R"json({
  "metadata": {
    "name": "web-7d4b9c6f5-x2k8p", "generateName": "web-7d4b9c6f5-", "namespace": "prod",
    "uid": "$UID", "resourceVersion": "48213", "creationTimestamp": "2024-03-11T09:12:40Z",
    "labels": {"app": "web", "pod-template-hash": "7d4b9c6f5"},
    "annotations": {"kubernetes.io/config.seen": "2024-03-11T09:12:40.812345678Z",
                    "kubernetes.io/config.source": "api"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c6f5",
                         "uid": "8d3c1f0e-2b4a-4c6d-8e9f-0a1b2c3d4e5f", "controller": true,
                         "blockOwnerDeletion": true}]
  },
  "spec": {
    "volumes": [{"name": "kube-api-access-8xk2p", "projected": {"sources": [
      {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}], "defaultMode": 420}}],
    "initContainers": [{"name": "init-config", "image": "busybox:1.36",
                        "command": ["sh", "-c", "true"], "resources": {}}],
    "containers": [
      {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}],
       "resources": {}, "terminationMessagePath": "/dev/termination-log",
       "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"},
      {"name": "envoy", "image": "envoyproxy/envoy:v1.29.1", "resources": {}}],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
    "serviceAccountName": "web-sa", "serviceAccount": "web-sa", "nodeName": "node-a",
    "securityContext": {}, "schedulerName": "default-scheduler", "priority": 0,
    "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"
  },
  "status": {
    "phase": "Running",
    "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null,
                    "lastTransitionTime": "2024-03-11T09:12:43Z"}],
    "hostIP": "10.0.0.12", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
    "startTime": "2024-03-11T09:12:40Z",
    "initContainerStatuses": [{"name": "init-config", "state": {"terminated": {"exitCode": 0,
        "reason": "Completed", "startedAt": "2024-03-11T09:12:41Z",
        "finishedAt": "2024-03-11T09:12:41Z", "containerID": "containerd://$INIT"}},
        "lastState": {}, "ready": true, "restartCount": 0,
        "image": "docker.io/library/busybox:1.36",
        "imageID": "docker.io/library/busybox@sha256:6d9ac9237a84afe1516540f40a0fafdc86859b2141954b4d643af7066d598b74",
        "containerID": "containerd://$INIT"}],
    "containerStatuses": [
      {"name": "nginx", "state": {"running": {"startedAt": "2024-03-11T09:12:42Z"}},
       "lastState": {}, "ready": true, "restartCount": 0,
       "image": "docker.io/library/nginx:1.25",
       "imageID": "docker.io/library/nginx@sha256:6db391d1c0cfb30588ba0bf72ea999404f2764febf0f1f196acd5867ac7efa7e",
       "containerID": "containerd://$CID", "started": true},
      {"name": "envoy", "state": {"running": {"startedAt": "2024-03-11T09:12:42Z"}},
       "lastState": {}, "ready": true, "restartCount": 0,
       "image": "docker.io/envoyproxy/envoy:v1.29.1",
       "imageID": "docker.io/envoyproxy/envoy@sha256:bf862e5f5eca0a73e7e538224578c5cf867ce2be91b5eaed22afc153c00363eb",
       "containerID": "containerd://$CID2", "started": true}],
    "qosClass": "BestEffort"
  }
})json",
                             {{"$UID", uid}, {"$CID2", cid2}, {"$CID", cid}, {"$INIT", init_cid}});
}

// PodList renders a kubelet /pods response.
std::string PodList(const std::vector<std::string>& pods) {
  return absl::StrCat(R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[)",
                      absl::StrJoin(pods, ","), "]}");
}

std::string TheList() { return PodList({Pod(kPod, kCid, kCid2, kInitCid)}); }

const char* const kNginxSelectors[] = {
    "k8s:container-image:docker.io/library/nginx:1.25",
    "k8s:container-image:docker.io/library/"
    "nginx@sha256:6db391d1c0cfb30588ba0bf72ea999404f2764febf0f1f196acd5867ac7efa7e",
    "k8s:container-name:nginx",
    "k8s:node-name:node-a",
    "k8s:ns:prod",
    "k8s:pod-image-count:2",
    "k8s:pod-image:docker.io/envoyproxy/envoy:v1.29.1",
    "k8s:pod-image:docker.io/envoyproxy/"
    "envoy@sha256:bf862e5f5eca0a73e7e538224578c5cf867ce2be91b5eaed22afc153c00363eb",
    "k8s:pod-image:docker.io/library/nginx:1.25",
    "k8s:pod-image:docker.io/library/"
    "nginx@sha256:6db391d1c0cfb30588ba0bf72ea999404f2764febf0f1f196acd5867ac7efa7e",
    "k8s:pod-init-image-count:1",
    "k8s:pod-init-image:docker.io/library/busybox:1.36",
    "k8s:pod-init-image:docker.io/library/"
    "busybox@sha256:6d9ac9237a84afe1516540f40a0fafdc86859b2141954b4d643af7066d598b74",
    "k8s:pod-label:app:web",
    "k8s:pod-label:pod-template-hash:7d4b9c6f5",
    "k8s:pod-name:web-7d4b9c6f5-x2k8p",
    "k8s:pod-owner-uid:ReplicaSet:8d3c1f0e-2b4a-4c6d-8e9f-0a1b2c3d4e5f",
    "k8s:pod-owner:ReplicaSet:web-7d4b9c6f5",
    "k8s:pod-uid:a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80",
    "k8s:sa:web-sa",
};

class FixedLocator : public ContainerLocator {
 public:
  explicit FixedLocator(absl::StatusOr<ContainerInfo> info) : info_(std::move(info)) {}
  absl::StatusOr<ContainerInfo> Locate(pid_t) override { return info_; }

 private:
  absl::StatusOr<ContainerInfo> info_;
};

// FakeClock: time moves only when the attestor sleeps or the test says so.
class FakeClock : public K8sClock {
 public:
  absl::Time Now() override {
    absl::MutexLock l(&mu_);
    return now_;
  }
  void SleepFor(absl::Duration d) override {
    absl::MutexLock l(&mu_);
    now_ += d;
    sleeps_.push_back(d);
  }
  void Advance(absl::Duration d) {
    absl::MutexLock l(&mu_);
    now_ += d;
  }
  std::vector<absl::Duration> sleeps() {
    absl::MutexLock l(&mu_);
    return sleeps_;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::vector<absl::Duration> sleeps_;
};

// ClockRef forwards to a FakeClock the test owns (it outlives attestors).
class ClockRef : public K8sClock {
 public:
  explicit ClockRef(FakeClock* c) : c_(c) {}
  absl::Time Now() override { return c_->Now(); }
  void SleepFor(absl::Duration d) override { c_->SleepFor(d); }

 private:
  FakeClock* const c_;
};

std::vector<std::string> Strings(const std::vector<Selector>& s) {
  std::vector<std::string> out;
  for (const Selector& x : s) out.push_back(x.ToString());
  std::sort(out.begin(), out.end());
  return out;
}

std::string Hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

// TestPki is a test CA that issues kubelet serving certificates.
struct TestPki {
  EvpPkeyPtr ca_key;
  X509Ptr ca;
  std::string ca_pem;

  static TestPki Make() {
    TestPki p;
    p.ca_key = GenerateKey(KeyType::kEcP256).value();
    CaParams cp{TrustDomain::FromString("cluster.local").value(), "kubelet-ca", "SPIFFE",
                absl::Now(), absl::Hours(24)};
    p.ca = CreateSelfSignedCa(p.ca_key.get(), cp).value();
    p.ca_pem = CertToPem(p.ca.get()).value();
    return p;
  }

  // ServerContext returns a TLS context presenting a certificate for `dns`.
  SslCtxPtr ServerContext(const std::string& dns) const {
    EvpPkeyPtr key = GenerateKey(KeyType::kEcP256).value();
    LeafParams lp{SpiffeId::FromString("spiffe://cluster.local/kubelet").value(),
                  {dns},
                  absl::Now(),
                  absl::Hours(1)};
    X509Ptr leaf = IssueLeaf(ca.get(), ca_key.get(), key.get(), lp).value();
    return FakeHttpServer::TlsContext(leaf.get(), key.get());
  }
};

class K8sAttestorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testutil::WriteFile(dir_.File("token"), absl::StrCat(kToken, "\n"), 0600);
    testutil::WriteFile(dir_.File("ca.crt"), pki_.ca_pem);
  }

  // ServeHttps starts a fake kubelet on HTTPS with a certificate for `dns`.
  void ServeHttps(testfakes::FakeHttpHandler h, const std::string& dns = "node-a") {
    server_ = FakeHttpServer::StartTcp(std::move(h), pki_.ServerContext(dns));
    ASSERT_NE(server_, nullptr);
  }
  void ServeHttp(testfakes::FakeHttpHandler h) {
    server_ = FakeHttpServer::StartTcp(std::move(h));
    ASSERT_NE(server_, nullptr);
  }

  // SecureConfig talks to the fake kubelet as node "node-a" over HTTPS.
  K8sAttestorConfig SecureConfig() {
    K8sAttestorConfig c;
    c.kubelet_secure_port = server_->port();
    c.token_path = dir_.File("token");
    c.kubelet_ca_path = dir_.File("ca.crt");
    c.node_name = "node-a";
    c.kubelet_connect_address = "127.0.0.1";
    c.max_poll_attempts = 5;
    return c;
  }

  std::unique_ptr<K8sAttestor> Attestor(const K8sAttestorConfig& c,
                                        ContainerInfo info = {kCid, kPod}) {
    auto a = K8sAttestor::Create(c, std::make_unique<FixedLocator>(std::move(info)),
                                 std::make_unique<ClockRef>(&clock_));
    EXPECT_TRUE(a.ok()) << a.status();
    return std::move(a).value();
  }

  static FakeHttpResponse Pods(const FakeHttpRequest& r) {
    if (r.path != "/pods") return {404, "404 page not found\n", "text/plain"};
    return {200, TheList()};
  }

  testutil::TempDir dir_;
  TestPki pki_ = TestPki::Make();
  std::unique_ptr<FakeHttpServer> server_;
  FakeClock clock_;
};

TEST_F(K8sAttestorTest, SecurePortWithTokenAndCa) {
  ServeHttps(&Pods);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ElementsAreArray(kNginxSelectors));
  ASSERT_EQ(server_->requests(), 1);
  FakeHttpRequest r = server_->received()[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/pods");
  EXPECT_EQ(r.headers["authorization"], absl::StrCat("Bearer ", kToken));
  EXPECT_EQ(r.headers["host"], absl::StrCat("node-a:", server_->port()));
}

TEST_F(K8sAttestorTest, NoNodeNameUsesHostNameOnLoopback) {
  ServeHttps(&Pods, Hostname());
  K8sAttestorConfig c = SecureConfig();
  c.node_name = "";
  c.node_name_env = "SIGNET_TEST_UNSET_NODE_NAME";
  c.kubelet_connect_address = "";
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ElementsAreArray(kNginxSelectors));
}

TEST_F(K8sAttestorTest, NodeNameFromEnvironment) {
  ServeHttps(&Pods, "node-from-env");
  setenv("SIGNET_TEST_NODE_NAME", "node-from-env", 1);
  K8sAttestorConfig c = SecureConfig();
  c.node_name = "";
  c.node_name_env = "SIGNET_TEST_NODE_NAME";
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  unsetenv("SIGNET_TEST_NODE_NAME");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(server_->received()[0].headers["host"],
            absl::StrCat("node-from-env:", server_->port()));
}

TEST_F(K8sAttestorTest, KubeletCertificateForAnotherNameIsRefused) {
  ServeHttps(&Pods, "node-b");
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr("node-a"));
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(K8sAttestorTest, KubeletCertificateFromAnotherCaIsRefused) {
  ServeHttps(&Pods);
  TestPki other = TestPki::Make();
  testutil::WriteFile(dir_.File("ca.crt"), other.ca_pem);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr("certificate"));
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(K8sAttestorTest, SkipKubeletVerification) {
  ServeHttps(&Pods, "some-other-name");
  K8sAttestorConfig c = SecureConfig();
  c.skip_kubelet_verification = true;
  c.kubelet_ca_path = dir_.File("missing-ca.crt");
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ElementsAreArray(kNginxSelectors));
  EXPECT_EQ(server_->received()[0].headers["authorization"], absl::StrCat("Bearer ", kToken));
}

TEST_F(K8sAttestorTest, MissingToken) {
  ServeHttps(&Pods);
  K8sAttestorConfig c = SecureConfig();
  c.token_path = dir_.File("no-token");
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("unable to read token from"));
  EXPECT_THAT(s.status().message(), ::testing::Not(HasSubstr(kToken)));
}

TEST_F(K8sAttestorTest, MissingKubeletCa) {
  ServeHttps(&Pods);
  K8sAttestorConfig c = SecureConfig();
  c.kubelet_ca_path = dir_.File("no-ca.crt");
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("unable to read kubelet CA from"));
}

TEST_F(K8sAttestorTest, ReadOnlyPortSendsNoToken) {
  ServeHttp(&Pods);
  K8sAttestorConfig c;
  c.kubelet_read_only_port = server_->port();
  c.token_path = dir_.File("token");
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ElementsAreArray(kNginxSelectors));
  EXPECT_EQ(server_->received()[0].headers.count("authorization"), 0u);
}

TEST_F(K8sAttestorTest, NotInContainerGivesNoSelectorsAndNoQuery) {
  ServeHttps(&Pods);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig(), ContainerInfo{})->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, IsEmpty());
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(K8sAttestorTest, ProcessGone) {
  ServeHttps(&Pods);
  auto clock = std::make_unique<FakeClock>();
  auto a = K8sAttestor::Create(
      SecureConfig(), std::make_unique<FixedLocator>(absl::NotFoundError("process 9 not found")),
      std::move(clock));
  ASSERT_TRUE(a.ok());
  absl::StatusOr<std::vector<Selector>> s = (*a)->Attest({9}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(K8sAttestorTest, SecondContainerOfThePod) {
  ServeHttps(&Pods);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig(), ContainerInfo{kCid2, kPod})->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::string> got = Strings(*s);
  EXPECT_THAT(got, ::testing::Contains("k8s:container-name:envoy"));
  EXPECT_THAT(got, ::testing::Contains("k8s:container-image:docker.io/envoyproxy/envoy:v1.29.1"));
  EXPECT_THAT(got, ::testing::Not(::testing::Contains("k8s:container-name:nginx")));
}

TEST_F(K8sAttestorTest, InitContainer) {
  ServeHttps(&Pods);
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig(), ContainerInfo{kInitCid, kPod})->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ::testing::Contains("k8s:container-name:init-config"));
}

TEST_F(K8sAttestorTest, WithoutPodUidMatchesByContainerId) {
  // Static pods (32-hex UIDs) or cgroup layouts without the pod directory.
  ServeHttps([](const FakeHttpRequest&) {
    return FakeHttpResponse{
        200, PodList({Pod(kOtherPod, kCid2, std::string(64, 'e'), std::string(64, 'f')),
                      Pod(kPod, kCid, std::string(64, 'c'), std::string(64, 'd'))})};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig(), ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ::testing::Contains(absl::StrCat("k8s:pod-uid:", kPod)));
}

TEST_F(K8sAttestorTest, ContainerInTwoPodsIsAmbiguous) {
  ServeHttps([](const FakeHttpRequest&) {
    return FakeHttpResponse{
        200, PodList({Pod(kOtherPod, kCid, kCid2, kInitCid), Pod(kPod, kCid, kCid2, kInitCid)})};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig(), ContainerInfo{kCid, ""})->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("listed in more than one pod"));
}

TEST_F(K8sAttestorTest, NewPodAppearsAfterRetries) {
  ServeHttps([this](const FakeHttpRequest&) {
    // The first two lists are from before the pod was admitted.
    if (server_->requests() <= 2) return FakeHttpResponse{200, PodList({})};
    return FakeHttpResponse{200, TheList()};
  });
  K8sAttestorConfig c = SecureConfig();
  c.poll_retry_interval = absl::Milliseconds(500);
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ElementsAreArray(kNginxSelectors));
  EXPECT_EQ(server_->requests(), 3);
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Milliseconds(500), absl::Milliseconds(500)));
}

TEST_F(K8sAttestorTest, PodNeverAppears) {
  ServeHttps([](const FakeHttpRequest&) { return FakeHttpResponse{200, PodList({})}; });
  K8sAttestorConfig c = SecureConfig();
  c.max_poll_attempts = 4;
  auto a = Attestor(c);
  absl::StatusOr<std::vector<Selector>> s = a->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.status().message(), HasSubstr("not found after 4 attempts"));
  EXPECT_EQ(server_->requests(), 4);
  EXPECT_EQ(a->kubelet_queries(), 4u);
  EXPECT_EQ(clock_.sleeps().size(), 3u);
}

TEST_F(K8sAttestorTest, PodNeverAppearsStopsPollingAtTheDeadline) {
  ServeHttps([](const FakeHttpRequest&) { return FakeHttpResponse{200, PodList({})}; });
  K8sAttestorConfig c = SecureConfig();
  c.max_poll_attempts = 10;
  c.poll_retry_interval = absl::Milliseconds(500);
  auto a = Attestor(c);
  absl::StatusOr<std::vector<Selector>> s = a->Attest({1}, clock_.Now() + absl::Milliseconds(1200));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.status().message(), absl::StrCat("k8s: pod ", kPod, " with container ", kCid,
                                               " not found before the deadline after 3 attempts"));
  EXPECT_EQ(server_->requests(), 3);
  EXPECT_EQ(clock_.sleeps().size(), 2u);
}

TEST_F(K8sAttestorTest, DeadlinePassedSendsNoRequest) {
  ServeHttps([](const FakeHttpRequest&) { return FakeHttpResponse{200, TheList()}; });
  absl::StatusOr<std::vector<Selector>> s = Attestor(SecureConfig())->Attest({1}, clock_.Now());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.status().message(), HasSubstr("k8s: deadline passed before querying kubelet "));
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(K8sAttestorTest, WrongPodIsNeverUsed) {
  // The kubelet lists our container id under another pod's UID: no match.
  ServeHttps([](const FakeHttpRequest&) {
    return FakeHttpResponse{200, PodList({Pod(kOtherPod, kCid, kCid2, kInitCid)})};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.status().message(), HasSubstr(kPod));
}

TEST_F(K8sAttestorTest, PodWithoutTheContainer) {
  ServeHttps([](const FakeHttpRequest&) {
    return FakeHttpResponse{
        200, PodList({Pod(kPod, std::string(64, 'a'), std::string(64, 'b'), kInitCid)})};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.status().message(), HasSubstr(absl::StrCat("with container ", kCid)));
}

TEST_F(K8sAttestorTest, BurstOfCallsCostsOneQuery) {
  ServeHttps([](const FakeHttpRequest&) {
    FakeHttpResponse r{200, TheList()};
    r.delay = absl::Milliseconds(100);  // so the calls overlap the fetch
    return r;
  });
  auto a = Attestor(SecureConfig());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<std::vector<Selector>> s = a->Attest({1}, absl::InfiniteFuture());
      if (s.ok() && Strings(*s).size() == std::size(kNginxSelectors)) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->Attest({1}, absl::InfiniteFuture()).ok());
  EXPECT_EQ(server_->requests(), 1);
  EXPECT_EQ(a->kubelet_queries(), 1u);
  // Once the cache is older than pod_list_cache_ttl (1s) the kubelet is asked again.
  clock_.Advance(absl::Milliseconds(1001));
  ASSERT_TRUE(a->Attest({1}, absl::InfiniteFuture()).ok());
  EXPECT_EQ(server_->requests(), 2);
}

TEST_F(K8sAttestorTest, KubeletServerError) {
  ServeHttps([](const FakeHttpRequest&) {
    return FakeHttpResponse{500, "Internal Server Error", "text/plain"};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.status().message(), HasSubstr("kubelet answered HTTP 500"));
  EXPECT_EQ(server_->requests(), 1);  // errors are not retried
}

TEST_F(K8sAttestorTest, KubeletUnauthorized) {
  ServeHttps([](const FakeHttpRequest&) {
    return FakeHttpResponse{401, "Unauthorized", "text/plain"};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.status().message(), HasSubstr("kubelet answered HTTP 401 for https://node-a:"));
}

TEST_F(K8sAttestorTest, TruncatedPodList) {
  ServeHttps([](const FakeHttpRequest&) {
    std::string body = TheList();
    return FakeHttpResponse{200, body.substr(0, body.size() - 10)};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("malformed JSON"));
}

TEST_F(K8sAttestorTest, PodListNotAList) {
  ServeHttps([](const FakeHttpRequest&) {
    return FakeHttpResponse{200, R"({"kind":"PodList","items":{"a":1}})"};
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("podList.items is not a list"));
}

TEST_F(K8sAttestorTest, HugePodList) {
  ServeHttps([](const FakeHttpRequest&) {
    FakeHttpResponse r{200, std::string(20 << 20, ' ')};
    r.chunked = true;
    return r;
  });
  absl::StatusOr<std::vector<Selector>> s =
      Attestor(SecureConfig())->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.status().message(), HasSubstr("response body exceeds 8388608 bytes"));
}

TEST_F(K8sAttestorTest, SlowKubeletTimesOut) {
  ServeHttps([](const FakeHttpRequest&) {
    FakeHttpResponse r{200, TheList()};
    r.delay = absl::Seconds(10);
    return r;
  });
  K8sAttestorConfig c = SecureConfig();
  c.request_timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.status().message(), HasSubstr("timed out"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(K8sAttestorTest, NoKubelet) {
  K8sAttestorConfig c;
  c.kubelet_read_only_port = testutil::FreeTcpPort();
  absl::StatusOr<std::vector<Selector>> s = Attestor(c)->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr("querying kubelet"));
}

TEST(K8sAttestorCreateTest, BothPorts) {
  K8sAttestorConfig c;
  c.kubelet_read_only_port = 10255;
  c.kubelet_secure_port = 10250;
  auto a = K8sAttestor::Create(c);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("only one of"));
}

TEST(K8sAttestorCreateTest, ZeroPollAttempts) {
  K8sAttestorConfig c;
  c.max_poll_attempts = 0;
  auto a = K8sAttestor::Create(c);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("max_poll_attempts"));
}

TEST(K8sAttestorConfigTest, ParsesSpireKeys) {
  ConfigErrors errors("agent.conf");
  ConfigSection s(YAML::Load(R"(
kubelet_secure_port: 10250
skip_kubelet_verification: true
token_path: /t
kubelet_ca_path: /ca
node_name_env: NODE
node_name: n1
max_poll_attempts: 10
poll_retry_interval: 250ms
)"),
                  "plugins.WorkloadAttestor.k8s.plugin_data", &errors);
  K8sAttestorConfig c = ParseK8sAttestorConfig(s);
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(c.kubelet_secure_port, 10250);
  EXPECT_EQ(c.kubelet_read_only_port, 0);
  EXPECT_TRUE(c.skip_kubelet_verification);
  EXPECT_EQ(c.token_path, "/t");
  EXPECT_EQ(c.kubelet_ca_path, "/ca");
  EXPECT_EQ(c.node_name_env, "NODE");
  EXPECT_EQ(c.node_name, "n1");
  EXPECT_EQ(c.max_poll_attempts, 10);
  EXPECT_EQ(c.poll_retry_interval, absl::Milliseconds(250));
}

TEST(K8sAttestorConfigTest, Defaults) {
  ConfigErrors errors("agent.conf");
  ConfigSection s(YAML::Load("{}"), "plugins.WorkloadAttestor.k8s.plugin_data", &errors);
  K8sAttestorConfig c = ParseK8sAttestorConfig(s);
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(c.token_path, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(c.kubelet_ca_path, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_EQ(c.node_name_env, "MY_NODE_NAME");
  EXPECT_EQ(c.max_poll_attempts, 60);
  EXPECT_EQ(c.poll_retry_interval, absl::Milliseconds(500));
}

// SPIRE's agent_full.conf k8s block carries these; they are read, not
// reported as unknown.
TEST(K8sAttestorConfigTest, SpireLocatorKeys) {
  ConfigErrors errors("agent.conf");
  ConfigSection s(YAML::Load("use_new_container_locator: true\n"
                             "verbose_container_locator_logs: true\nexperimental: {}\n"),
                  "plugins.WorkloadAttestor.k8s.plugin_data", &errors);
  K8sAttestorConfig c = ParseK8sAttestorConfig(s);
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_TRUE(c.verbose_container_locator_logs);
}

TEST(K8sAttestorConfigTest, ExperimentalSigstoreIsNamedAsUnsupported) {
  ConfigErrors errors("agent.conf");
  ConfigSection s(YAML::Load("experimental:\n  sigstore: {}\nuse_new_container_locator: false\n"),
                  "plugins.WorkloadAttestor.k8s.plugin_data", &errors);
  (void)ParseK8sAttestorConfig(s);
  EXPECT_EQ(errors.ToStatus().message(),
            "agent.conf:3: plugins.WorkloadAttestor.k8s.plugin_data.use_new_container_locator: "
            "false is not supported: Signet has only the cgroup v1/v2 container locator\n"
            "agent.conf:2: plugins.WorkloadAttestor.k8s.plugin_data.experimental.sigstore: is not "
            "supported by Signet (no experimental k8s features)");
}

TEST(K8sAttestorConfigTest, BothPortsIsAnError) {
  ConfigErrors errors("agent.conf");
  ConfigSection s(YAML::Load("kubelet_secure_port: 10250\nkubelet_read_only_port: 10255\n"),
                  "plugins.WorkloadAttestor.k8s.plugin_data", &errors);
  (void)ParseK8sAttestorConfig(s);
  EXPECT_THAT(errors.ToStatus().message(), HasSubstr("only one of"));
}

// End to end: a real process in a real cgroup named as the kubelet's
// systemd driver + containerd name it, attested through the real /proc and
// a fake kubelet on its read-only port.
TEST_F(K8sAttestorTest, RealProcessInRealKubepodsCgroup) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  std::string pod_under = absl::StrReplaceAll(kPod, {{"-", "_"}});
  std::string why;
  auto sandbox = testfakes::CgroupSandbox::Create(
      absl::StrCat("signet-test-", getpid(), ".slice/kubepods-besteffort-pod", pod_under,
                   ".slice/cri-containerd-", kCid, ".scope"),
      &why);
  if (!sandbox) GTEST_SKIP() << "cannot create a cgroup on this machine: " << why;
  testutil::Subprocess child({"/bin/sleep", "30"});
  if (!sandbox->Move(child.pid(), &why)) {
    GTEST_SKIP() << "cannot move a process into a cgroup on this machine: " << why;
  }
  ServeHttp(&Pods);
  K8sAttestorConfig c;
  c.kubelet_read_only_port = server_->port();
  auto a = NewK8sAttestor(c);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::vector<Selector>> s = (*a)->Attest({child.pid()}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Strings(*s), ElementsAreArray(kNginxSelectors));
  child.Signal(SIGKILL);
  child.Wait();
}

}  // namespace
}  // namespace signet::attestors
