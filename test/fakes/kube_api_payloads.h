// Real-format kube-apiserver answers for k8s_psat tests: a TokenReview (201 to
// POST /apis/authentication.k8s.io/v1/tokenreviews), the agent's Pod and its
// Node (trimmed answers of kube-apiserver 1.28/1.29), built from one
// description of the agent pod so the server and end-to-end tests agree.
#ifndef SIGNET_TEST_FAKES_KUBE_API_PAYLOADS_H_
#define SIGNET_TEST_FAKES_KUBE_API_PAYLOADS_H_

#include <string>

#include "absl/strings/str_replace.h"

namespace signet::testfakes {

// KubeAgentPod describes the agent pod and node the fake apiserver reports.
struct KubeAgentPod {
  std::string token;  // the agent's projected service-account token
  std::string user = "system:serviceaccount:spire:spire-agent";
  std::string pod_name;
  std::string pod_uid;
  std::string node_name;
  std::string node_uid;
  std::string node_ip;
  std::string zone;  // topology.kubernetes.io/zone label of the node
};

// TokenReviewJson is the apiserver's answer when `p.token` is valid for
// audience spire-server and bound to the pod.
inline std::string TokenReviewJson(const KubeAgentPod& p) {
  return absl::StrReplaceAll(
      R"json({
  "kind": "TokenReview",
  "apiVersion": "authentication.k8s.io/v1",
  "metadata": {"creationTimestamp": null},
  "spec": {"token": "$TOKEN", "audiences": ["spire-server"]},
  "status": {
    "authenticated": true,
    "user": {
      "username": "$USER",
      "uid": "5d0c2e8b-1f4a-4b7c-9e3d-2a6f8c0b4d17",
      "groups": ["system:serviceaccounts", "system:serviceaccounts:spire", "system:authenticated"],
      "extra": {
        "authentication.kubernetes.io/credential-id": ["JTI=8e2c4a6b-0d1f-4e3a-b5c7-9f1e3d5a7b20"],
        "authentication.kubernetes.io/node-name": ["$NODENAME"],
        "authentication.kubernetes.io/node-uid": ["$NODEUID"],
        "authentication.kubernetes.io/pod-name": ["$PODNAME"],
        "authentication.kubernetes.io/pod-uid": ["$PODUID"]
      }
    },
    "audiences": ["spire-server"]
  }
})json",
      {{"$TOKEN", p.token},
       {"$USER", p.user},
       {"$NODENAME", p.node_name},
       {"$NODEUID", p.node_uid},
       {"$PODNAME", p.pod_name},
       {"$PODUID", p.pod_uid}});
}

// PodJson is GET /api/v1/namespaces/spire/pods/<pod_name>.
inline std::string PodJson(const KubeAgentPod& p) {
  return absl::StrReplaceAll(
      R"json({
  "kind": "Pod", "apiVersion": "v1",
  "metadata": {
    "name": "$PODNAME", "generateName": "spire-agent-", "namespace": "spire",
    "uid": "$PODUID", "resourceVersion": "91734", "creationTimestamp": "2024-03-01T08:12:40Z",
    "labels": {"app": "spire-agent", "controller-revision-hash": "7c9d5f8b6",
               "pod-template-generation": "3"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "spire-agent",
      "uid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "controller": true,
      "blockOwnerDeletion": true}]
  },
  "spec": {
    "volumes": [{"name": "spire-token", "projected": {"sources": [{"serviceAccountToken": {
      "audience": "spire-server", "expirationSeconds": 7200, "path": "spire-agent"}}],
      "defaultMode": 420}}],
    "containers": [{"name": "spire-agent", "image": "ghcr.io/example/signet-agent:0.1.0",
      "args": ["run", "-config", "/run/signet/config/agent.yaml"]}],
    "restartPolicy": "Always", "serviceAccountName": "spire-agent", "serviceAccount": "spire-agent",
    "nodeName": "$NODENAME", "hostPID": true
  },
  "status": {
    "phase": "Running", "hostIP": "$NODEIP", "hostIPs": [{"ip": "$NODEIP"}],
    "podIP": "10.244.2.19", "startTime": "2024-03-01T08:12:40Z"
  }
})json",
      {{"$PODNAME", p.pod_name},
       {"$PODUID", p.pod_uid},
       {"$NODENAME", p.node_name},
       {"$NODEIP", p.node_ip}});
}

// NodeJson is GET /api/v1/nodes/<node_name>.
inline std::string NodeJson(const KubeAgentPod& p) {
  return absl::StrReplaceAll(
      R"json({
  "kind": "Node", "apiVersion": "v1",
  "metadata": {
    "name": "$NODENAME", "uid": "$NODEUID", "resourceVersion": "91502",
    "creationTimestamp": "2024-02-20T14:03:11Z",
    "labels": {"beta.kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "$NODENAME",
               "kubernetes.io/os": "linux", "topology.kubernetes.io/zone": "$ZONE"},
    "annotations": {"node.alpha.kubernetes.io/ttl": "0"}
  },
  "spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]},
  "status": {
    "addresses": [{"type": "InternalIP", "address": "$NODEIP"},
                  {"type": "Hostname", "address": "$NODENAME"}],
    "nodeInfo": {"machineID": "9a1e", "kubeletVersion": "v1.29.2",
                 "containerRuntimeVersion": "containerd://1.7.13"}
  }
})json",
      {{"$NODENAME", p.node_name},
       {"$NODEUID", p.node_uid},
       {"$NODEIP", p.node_ip},
       {"$ZONE", p.zone}});
}

}  // namespace signet::testfakes

#endif  // SIGNET_TEST_FAKES_KUBE_API_PAYLOADS_H_
