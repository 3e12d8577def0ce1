// conf/k8s: every manifest parses as YAML and carries the fields a working
// deployment depends on (kinds, RBAC verbs, hostPID, the projected token's
// audience and path, the socket hostPath, configs that agree).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "test/testutil/testutil.h"

namespace signet {
namespace {

using ::testing::Contains;

const char* const kFiles[] = {
    "namespace.yaml",  "server-rbac.yaml",     "server-configmap.yaml", "server-statefulset.yaml",
    "agent-rbac.yaml", "agent-configmap.yaml", "agent-daemonset.yaml",
};

std::string Dir() { return testutil::SourceDir() + "/conf/k8s/"; }

// Docs returns the non-empty documents of conf/k8s/`file`.
std::vector<YAML::Node> Docs(const std::string& file) {
  std::vector<YAML::Node> out;
  for (const YAML::Node& d : YAML::LoadAllFromFile(Dir() + file)) {
    if (d.IsMap()) out.push_back(d);
  }
  return out;
}

// Find returns the object of `kind` (and `name` when given) in `file`.
YAML::Node Find(const std::string& file, const std::string& kind, const std::string& name = "") {
  for (const YAML::Node& d : Docs(file)) {
    if (d["kind"].as<std::string>() == kind &&
        (name.empty() || d["metadata"]["name"].as<std::string>() == name)) {
      return d;
    }
  }
  ADD_FAILURE() << "no " << kind << " " << name << " in " << file;
  return YAML::Node();
}

// Rules returns "<group>/<resource>:<verb>" for every rule of a ClusterRole.
std::set<std::string> Rules(const YAML::Node& role) {
  std::set<std::string> out;
  for (const YAML::Node& r : role["rules"]) {
    for (const YAML::Node& g : r["apiGroups"]) {
      for (const YAML::Node& res : r["resources"]) {
        for (const YAML::Node& v : r["verbs"]) {
          out.insert(g.as<std::string>() + "/" + res.as<std::string>() + ":" + v.as<std::string>());
        }
      }
    }
  }
  return out;
}

// Volume returns the pod volume named `name`.
YAML::Node Volume(const YAML::Node& pod_spec, const std::string& name) {
  for (const YAML::Node& v : pod_spec["volumes"]) {
    if (v["name"].as<std::string>() == name) return v;
  }
  ADD_FAILURE() << "no volume " << name;
  return YAML::Node();
}

// MountPath returns where container 0 mounts volume `name` ("" when not).
std::string MountPath(const YAML::Node& pod_spec, const std::string& name) {
  for (const YAML::Node& m : pod_spec["containers"][0]["volumeMounts"]) {
    if (m["name"].as<std::string>() == name) return m["mountPath"].as<std::string>();
  }
  return "";
}

// ConfigMapYaml parses data[`key`] of the ConfigMap in `file`.
YAML::Node ConfigMapYaml(const std::string& file, const std::string& key) {
  YAML::Node cm = Find(file, "ConfigMap");
  return YAML::Load(cm["data"][key].as<std::string>());
}

TEST(K8sManifestsTest, EveryFileParsesAndNamesItsObjects) {
  for (const char* f : kFiles) {
    SCOPED_TRACE(f);
    std::vector<YAML::Node> docs;
    ASSERT_NO_THROW(docs = Docs(f));
    ASSERT_FALSE(docs.empty());
    for (const YAML::Node& d : docs) {
      EXPECT_TRUE(d["apiVersion"].IsScalar());
      EXPECT_TRUE(d["kind"].IsScalar());
      EXPECT_TRUE(d["metadata"]["name"].IsScalar());
      std::string kind = d["kind"].as<std::string>();
      if (kind != "Namespace" && kind != "ClusterRole" && kind != "ClusterRoleBinding") {
        EXPECT_EQ(d["metadata"]["namespace"].as<std::string>(), "signet") << kind;
      }
    }
  }
}

TEST(K8sManifestsTest, AllKindsPresent) {
  std::multiset<std::string> kinds;
  for (const char* f : kFiles) {
    for (const YAML::Node& d : Docs(f)) kinds.insert(d["kind"].as<std::string>());
  }
  for (const char* k : {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                        "ConfigMap", "Service", "StatefulSet", "DaemonSet"}) {
    EXPECT_GE(kinds.count(k), 1u) << k;
  }
  EXPECT_EQ(kinds.count("ServiceAccount"), 2u);
  EXPECT_EQ(kinds.count("ConfigMap"), 2u);
}

TEST(K8sManifestsTest, ServerRbacAllowsTokenReviewsAndPodNodeReads) {
  std::set<std::string> rules = Rules(Find("server-rbac.yaml", "ClusterRole", "signet-server"));
  EXPECT_THAT(rules, Contains("authentication.k8s.io/tokenreviews:create"));
  EXPECT_THAT(rules, Contains("/pods:get"));
  EXPECT_THAT(rules, Contains("/nodes:get"));
  YAML::Node binding = Find("server-rbac.yaml", "ClusterRoleBinding", "signet-server");
  EXPECT_EQ(binding["roleRef"]["name"].as<std::string>(), "signet-server");
  EXPECT_EQ(binding["subjects"][0]["name"].as<std::string>(), "signet-server");
  EXPECT_EQ(binding["subjects"][0]["namespace"].as<std::string>(), "signet");
}

TEST(K8sManifestsTest, AgentRbacAllowsKubeletAndPodReads) {
  std::set<std::string> rules = Rules(Find("agent-rbac.yaml", "ClusterRole", "signet-agent"));
  EXPECT_THAT(rules, Contains("/nodes/proxy:get"));
  EXPECT_THAT(rules, Contains("/pods:get"));
  YAML::Node binding = Find("agent-rbac.yaml", "ClusterRoleBinding", "signet-agent");
  EXPECT_EQ(binding["subjects"][0]["name"].as<std::string>(), "signet-agent");
}

TEST(K8sManifestsTest, ServerStatefulSetPersistsDataDirAndServesPort8081) {
  YAML::Node sts = Find("server-statefulset.yaml", "StatefulSet", "signet-server");
  YAML::Node pod = sts["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"].as<std::string>(), "signet-server");
  EXPECT_EQ(sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"].as<std::string>(), "data");
  YAML::Node server = ConfigMapYaml("server-configmap.yaml", "server.yaml")["server"];
  EXPECT_EQ(MountPath(pod, "data"), server["data_dir"].as<std::string>());
  // The admin socket lives on the data volume (writable by the fsGroup only),
  // not in a world-writable emptyDir the server would refuse.
  EXPECT_EQ(server["socket_path"].as<std::string>(), MountPath(pod, "data") + "/admin/api.sock");
  EXPECT_EQ(MountPath(pod, "config"), "/run/signet/config");
  EXPECT_EQ(Volume(pod, "config")["configMap"]["name"].as<std::string>(), "signet-server");
  EXPECT_EQ(server["bind_port"].as<int>(), 8081);
  YAML::Node svc = Find("server-statefulset.yaml", "Service", "signet-server");
  EXPECT_EQ(svc["spec"]["ports"][0]["port"].as<int>(), 8081);
  EXPECT_EQ(svc["spec"]["selector"]["app"].as<std::string>(),
            sts["spec"]["template"]["metadata"]["labels"]["app"].as<std::string>());
}

TEST(K8sManifestsTest, ServerConfigUsesK8sPsatForTheAgentServiceAccount) {
  YAML::Node cfg = ConfigMapYaml("server-configmap.yaml", "server.yaml");
  YAML::Node clusters = cfg["plugins"]["NodeAttestor"]["k8s_psat"]["plugin_data"]["clusters"];
  ASSERT_TRUE(clusters.IsMap());
  YAML::Node demo = clusters["demo-cluster"];
  ASSERT_TRUE(demo.IsMap());
  EXPECT_EQ(demo["service_account_allow_list"][0].as<std::string>(), "signet:signet-agent");
  EXPECT_EQ(demo["audience"][0].as<std::string>(), "spire-server");
}

TEST(K8sManifestsTest, AgentDaemonSetHostPidTokenAndSocket) {
  YAML::Node ds = Find("agent-daemonset.yaml", "DaemonSet", "signet-agent");
  YAML::Node pod = ds["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["hostPID"].as<bool>());
  EXPECT_EQ(pod["serviceAccountName"].as<std::string>(), "signet-agent");
  // Projected token: audience spire-server at /var/run/secrets/tokens/spire-agent.
  YAML::Node token = Volume(pod, "spire-token")["projected"]["sources"][0]["serviceAccountToken"];
  EXPECT_EQ(token["audience"].as<std::string>(), "spire-server");
  EXPECT_EQ(MountPath(pod, "spire-token") + "/" + token["path"].as<std::string>(),
            "/var/run/secrets/tokens/spire-agent");
  // Socket directory on the host.
  EXPECT_EQ(Volume(pod, "sockets")["hostPath"]["path"].as<std::string>(), "/run/signet/sockets");
  EXPECT_EQ(MountPath(pod, "sockets"), "/run/signet/sockets");
  EXPECT_EQ(Volume(pod, "bundle")["configMap"]["name"].as<std::string>(), "signet-bundle");
}

TEST(K8sManifestsTest, AgentConfigMatchesDaemonSetAndServer) {
  YAML::Node ds = Find("agent-daemonset.yaml", "DaemonSet", "signet-agent");
  YAML::Node pod = ds["spec"]["template"]["spec"];
  YAML::Node agent_cfg = ConfigMapYaml("agent-configmap.yaml", "agent.yaml");
  YAML::Node server_cfg = ConfigMapYaml("server-configmap.yaml", "server.yaml");
  YAML::Node a = agent_cfg["agent"];
  EXPECT_EQ(a["socket_path"].as<std::string>().rfind(MountPath(pod, "sockets") + "/", 0), 0u);
  EXPECT_EQ(a["trust_bundle_path"].as<std::string>().rfind(MountPath(pod, "bundle") + "/", 0), 0u);
  EXPECT_EQ(a["trust_domain"].as<std::string>(),
            server_cfg["server"]["trust_domain"].as<std::string>());
  EXPECT_EQ(a["server_address"].as<std::string>(), "signet-server.signet");
  EXPECT_EQ(a["server_port"].as<int>(), 8081);
  YAML::Node psat = agent_cfg["plugins"]["NodeAttestor"]["k8s_psat"]["plugin_data"];
  EXPECT_EQ(psat["token_path"].as<std::string>(), "/var/run/secrets/tokens/spire-agent");
  const std::string cluster = psat["cluster"].as<std::string>();
  EXPECT_TRUE(
      server_cfg["plugins"]["NodeAttestor"]["k8s_psat"]["plugin_data"]["clusters"][cluster].IsMap())
      << "agent cluster " << cluster << " is not configured on the server";
  EXPECT_TRUE(agent_cfg["plugins"]["WorkloadAttestor"]["k8s"].IsMap());
  // The k8s attestor's node name comes from the downward API.
  const std::string env_name =
      agent_cfg["plugins"]["WorkloadAttestor"]["k8s"]["plugin_data"]["node_name_env"]
          .as<std::string>();
  bool found = false;
  for (const YAML::Node& e : pod["containers"][0]["env"]) {
    if (e["name"].as<std::string>() == env_name) {
      found = e["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>() == "spec.nodeName";
    }
  }
  EXPECT_TRUE(found) << env_name << " is not set from spec.nodeName";
}

// Both workloads run the image scripts/image.sh builds and tags
// signet:<project version>, never pulled, from the paths the packages
// install; the agent runs as root (the image's default user is signet).
TEST(K8sManifestsTest, WorkloadsRunTheLocallyBuiltImage) {
  const std::string image = std::string("signet:") + SIGNET_TEST_VERSION;
  struct Want {
    const char* file;
    const char* kind;
    const char* name;
    const char* binary;
  };
  for (const Want& w :
       {Want{"server-statefulset.yaml", "StatefulSet", "signet-server", "/usr/bin/signet-server"},
        Want{"agent-daemonset.yaml", "DaemonSet", "signet-agent", "/usr/bin/signet-agent"}}) {
    SCOPED_TRACE(w.file);
    YAML::Node c = Find(w.file, w.kind, w.name)["spec"]["template"]["spec"]["containers"][0];
    EXPECT_EQ(c["image"].as<std::string>(), image);
    EXPECT_EQ(c["imagePullPolicy"].as<std::string>(), "Never");
    EXPECT_EQ(c["command"][0].as<std::string>(), w.binary);
  }
  YAML::Node agent = Find("agent-daemonset.yaml", "DaemonSet", "signet-agent");
  EXPECT_EQ(
      agent["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"].as<int>(),
      0);
  YAML::Node server = Find("server-statefulset.yaml", "StatefulSet", "signet-server");
  EXPECT_EQ(server["spec"]["template"]["spec"]["securityContext"]["runAsUser"].as<int>(), 1000);
}

}  // namespace
}  // namespace signet
