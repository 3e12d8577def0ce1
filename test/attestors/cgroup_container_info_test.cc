#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "attestors/cgroup/container_info.h"
#include "test/fakes/cgroup_sandbox.h"
#include "test/testutil/testutil.h"

namespace signet::attestors {
namespace {

using ::testing::HasSubstr;

// Ids used in the fixtures.
const char kCid[] = "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d";
const char kCid2[] = "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970";
const char kOuter[] = "93529524695bb00d91c1f6dba692ea8d3550c3b94fb2463af7bc9ec82f992d26";
const char kPod[] = "2ece296c-c5ec-11e7-858e-fa163e451acc";
const char kPodUnder[] = "2ece296c_c5ec_11e7_858e_fa163e451acc";
const char kStaticPod[] = "6b5ff8a3e1fca9b1b6f6c3f8e4f2fa7c";

// Fill replaces $C (container), $C2, $O (outer docker), $P (pod, dashes),
// $U (pod, underscores), $S (static pod hash).
std::string Fill(const std::string& t) {
  return absl::StrReplaceAll(t, {{"$C2", kCid2},
                                 {"$C", kCid},
                                 {"$O", kOuter},
                                 {"$P", kPod},
                                 {"$U", kPodUnder},
                                 {"$S", kStaticPod}});
}

struct Case {
  const char* name;
  const char* cgroup;  // /proc/<pid>/cgroup text with placeholders
  const char* container_id;
  const char* pod_uid;
};

// Real-format /proc/<pid>/cgroup contents, one per runtime/driver/version.
const Case kCases[] = {
    // Docker 19.03/20.10, cgroupfs driver, cgroup v1 (Ubuntu 18.04/20.04,
    // Debian 10); hybrid hosts add a unified "0::" line.
    {"docker_v1_cgroupfs",
     "12:pids:/docker/$C\n11:hugetlb:/docker/$C\n10:net_cls,net_prio:/docker/$C\n"
     "9:memory:/docker/$C\n8:cpu,cpuacct:/docker/$C\n7:blkio:/docker/$C\n"
     "6:freezer:/docker/$C\n5:devices:/docker/$C\n4:perf_event:/docker/$C\n"
     "3:cpuset:/docker/$C\n2:rdma:/\n1:name=systemd:/docker/$C\n0::/system.slice/"
     "containerd.service\n",
     kCid, ""},
    // Docker 1.13/18.09, systemd driver, cgroup v1 (CentOS/RHEL 7).
    {"docker_v1_systemd",
     "11:devices:/system.slice/docker-$C.scope\n10:memory:/system.slice/docker-$C.scope\n"
     "9:freezer:/system.slice/docker-$C.scope\n2:cpuacct,cpu:/system.slice/docker-$C.scope\n"
     "1:name=systemd:/system.slice/docker-$C.scope\n",
     kCid, ""},
    // Docker 20.10+/24, systemd driver, cgroup v2 (Fedora 31+, Ubuntu 22.04),
    // read from the host cgroup namespace.
    {"docker_v2_systemd", "0::/system.slice/docker-$C.scope\n", kCid, ""},
    // Docker 20.10+, cgroupfs driver, cgroup v2.
    {"docker_v2_cgroupfs", "0::/docker/$C\n", kCid, ""},
    // Docker 20.10+ cgroup v2, read by an agent inside its own (private)
    // cgroup namespace: the path climbs out with "..".
    {"docker_v2_private_cgroupns", "0::/../docker-$C.scope\n", kCid, ""},
    // Docker-in-Docker (cgroupfs, v1): the innermost container wins.
    {"docker_in_docker_v1", "4:memory:/docker/$O/docker/$C\n1:name=systemd:/docker/$O/docker/$C\n",
     kCid, ""},
    // Kubernetes 1.10-1.23 with dockershim, cgroupfs driver, cgroup v1.
    {"k8s_dockershim_v1_cgroupfs",
     "11:memory:/kubepods/besteffort/pod$P/$C\n10:freezer:/kubepods/besteffort/pod$P/$C\n"
     "1:name=systemd:/kubepods/besteffort/pod$P/$C\n",
     kCid, kPod},
    // Kubernetes with dockershim, systemd driver, cgroup v1.
    {"k8s_dockershim_v1_systemd",
     "4:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$U.slice/"
     "docker-$C.scope\n",
     kCid, kPod},
    // Kubernetes 1.20+ with containerd 1.4+ (CRI), cgroupfs driver, v1
    // (EKS Amazon Linux 2), guaranteed QoS (no QoS level directory).
    {"k8s_containerd_v1_cgroupfs_guaranteed",
     "12:pids:/kubepods/pod$P/$C\n1:name=systemd:/kubepods/pod$P/$C\n", kCid, kPod},
    // Kubernetes + containerd 1.6, systemd driver, cgroup v1 (kubeadm on
    // Ubuntu 20.04).
    {"k8s_containerd_v1_systemd",
     "9:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$U.slice/"
     "cri-containerd-$C.scope\n"
     "1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$U.slice/"
     "cri-containerd-$C.scope\n",
     kCid, kPod},
    // Kubernetes 1.25+ + containerd 1.6/1.7, systemd driver, cgroup v2, host
    // cgroup namespace (GKE COS, Ubuntu 22.04).
    {"k8s_containerd_v2_systemd",
     "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$U.slice/"
     "cri-containerd-$C.scope\n",
     kCid, kPod},
    // Same, read by an agent pod in its own cgroup namespace (a pod of the
    // same QoS class, then of another one).
    {"k8s_containerd_v2_agent_cgroupns_same_qos",
     "0::/../../kubepods-besteffort-pod$U.slice/cri-containerd-$C.scope\n", kCid, kPod},
    {"k8s_containerd_v2_agent_cgroupns_other_qos",
     "0::/../../../kubepods-burstable.slice/kubepods-burstable-pod$U.slice/"
     "cri-containerd-$C.scope\n",
     kCid, kPod},
    // k3s (containerd, cgroupfs driver, cgroup v2).
    {"k3s_containerd_v2_cgroupfs", "0::/kubepods/besteffort/pod$P/$C\n", kCid, kPod},
    // containerd's systemd cgroupsPath notation "slice:prefix:id".
    {"containerd_cgroupspath_colons", "0::/kubepods-besteffort-pod$U.slice:cri-containerd:$C\n",
     kCid, kPod},
    // CRI-O 1.2x, systemd driver, cgroup v1 (OpenShift 4.x).
    {"crio_v1_systemd",
     "11:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$U.slice/"
     "crio-$C.scope\n",
     kCid, kPod},
    // CRI-O 1.27+, cgroup v2 (OpenShift 4.14+), container in a "container"
    // sub-cgroup.
    {"crio_v2_systemd_subcgroup",
     "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$U.slice/"
     "crio-$C.scope/container\n",
     kCid, kPod},
    // CRI-O conmon monitor process of the container.
    {"crio_v2_conmon",
     "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$U.slice/"
     "crio-conmon-$C.scope\n",
     kCid, kPod},
    // CRI-O, cgroupfs driver, cgroup v1.
    {"crio_v1_cgroupfs", "4:memory:/kubepods/burstable/pod$P/crio-$C\n", kCid, kPod},
    // Podman 3/4 rootful, systemd, cgroup v2.
    {"podman_rootful_v2", "0::/machine.slice/libpod-$C.scope\n", kCid, ""},
    // Podman 4 rootful with a "container" sub-cgroup (--cgroups=split).
    {"podman_rootful_v2_split", "0::/machine.slice/libpod-$C.scope/container\n", kCid, ""},
    // Podman 3/4 rootless, cgroup v2 (user session).
    {"podman_rootless_v2",
     "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-$C.scope\n", kCid, ""},
    // Podman 4 rootless container in a podman pod (pod id is not a k8s UID).
    {"podman_rootless_v2_pod",
     "0::/user.slice/user-1000.slice/user@1000.service/user.slice/user-libpod_pod_$O.slice/"
     "libpod-$C.scope\n",
     kCid, ""},
    // Podman 1.x rootful, cgroupfs, cgroup v1.
    {"podman_v1_cgroupfs", "4:memory:/libpod_parent/libpod-$C\n", kCid, ""},
    // kind (containerd inside a Docker node container, v1 + unified line):
    // the entry with a pod UID wins over the node container's.
    {"kind_on_docker",
     "1:cpuset:/docker/$O/kubepods/besteffort/pod$P/$C\n"
     "0::/docker/$O/system.slice/containerd.service\n",
     kCid, kPod},
    // A static pod: its UID is the kubelet's 32-hex config hash.
    {"k8s_static_pod_v1", "4:memory:/kubepods/burstable/pod$S/$C\n", kCid, kStaticPod},
    // Not in a container.
    {"host_v2_session", "0::/user.slice/user-1000.slice/session-2.scope\n", "", ""},
    {"host_v1_init", "12:pids:/init.scope\n1:name=systemd:/init.scope\n0::/init.scope\n", "", ""},
    {"host_service_with_32hex", "4:memory:/process_api/2cba3b6eda05793fac68950064839e96\n0::/\n",
     "", ""},
    // Runs of 63 and 65 hex digits are not container ids.
    {"hex_63", "0::/docker/9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3\n", "",
     ""},
    {"hex_65", "0::/docker/9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d0\n", "",
     ""},
    // Pod directory but no container id (the pod's own cgroup).
    {"pod_cgroup_only", "0::/kubepods.slice/kubepods-besteffort-pod$U.slice\n", "", ""},
    {"empty", "", "", ""},
};

class CgroupCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(CgroupCaseTest, ExtractsIds) {
  const Case& c = GetParam();
  absl::StatusOr<ContainerInfo> info = ContainerInfoFromProcFiles(Fill(c.cgroup), "");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->container_id, c.container_id);
  EXPECT_EQ(info->pod_uid, c.pod_uid);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, CgroupCaseTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

TEST(CgroupTest, ConflictingContainerIds) {
  absl::StatusOr<ContainerInfo> info =
      ContainerInfoFromProcFiles(Fill("4:memory:/docker/$C\n3:pids:/docker/$C2\n"), "");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(info.status().message(), HasSubstr("multiple container IDs found"));
}

TEST(CgroupTest, ConflictingPodUids) {
  absl::StatusOr<ContainerInfo> info = ContainerInfoFromProcFiles(
      Fill("4:memory:/kubepods/pod$P/$C\n"
           "3:pids:/kubepods/pod11111111-2222-3333-4444-555555555555/$C\n"),
      "");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(info.status().message(), HasSubstr("multiple pod UIDs found"));
}

TEST(CgroupTest, MalformedCgroupLine) {
  absl::StatusOr<ContainerInfo> info = ContainerInfoFromProcFiles("0::/\ngarbage\n", "");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(info.status().message(), HasSubstr("malformed cgroup line 2"));
}

TEST(CgroupTest, ParseProcCgroupFields) {
  absl::StatusOr<std::vector<CgroupEntry>> e = ParseProcCgroup("10:net_cls,net_prio:/a:b\n0::/\n");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].hierarchy_id, "10");
  EXPECT_EQ((*e)[0].controllers, "net_cls,net_prio");
  EXPECT_EQ((*e)[0].path, "/a:b");  // ':' in a path stays in the path
  EXPECT_EQ((*e)[1].path, "/");
}

// mountinfo of a container whose cgroup namespace root is its own cgroup
// (containerd 1.7, cgroup v2): /proc/<pid>/cgroup says "0::/" to a reader in
// the same namespace, the cgroup2 mount root says where it is.
const char kMountInfoV2[] =
    "1281 1270 0:61 / / rw,relatime master:367 - overlay overlay rw,lowerdir=/l,upperdir=/u\n"
    "1282 1281 0:64 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "1283 1281 0:65 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
    "1290 1281 0:31 /../../kubepods-besteffort-pod$U.slice/cri-containerd-$C.scope "
    "/sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n"
    "1291 1283 0:68 / /dev/local rw,relatime - tmpfs  rw,size=8192k\n";

TEST(CgroupTest, MountInfoFallback) {
  absl::StatusOr<ContainerInfo> info = ContainerInfoFromProcFiles("0::/\n", Fill(kMountInfoV2));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->container_id, kCid);
  EXPECT_EQ(info->pod_uid, kPod);
}

TEST(CgroupTest, MountInfoNeverOverridesCgroupFile) {
  // A workload able to bind-mount another pod's cgroup must not borrow its
  // identity: the kernel's /proc/<pid>/cgroup answer wins.
  absl::StatusOr<ContainerInfo> info =
      ContainerInfoFromProcFiles(Fill("0::/../$C2\n"), Fill(kMountInfoV2));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->container_id, kCid2);
  EXPECT_EQ(info->pod_uid, "");
}

TEST(CgroupTest, MountInfoOctalEscapes) {
  absl::StatusOr<std::vector<std::string>> roots = ParseMountInfoCgroupRoots(
      "30 25 0:26 /a\\040b /sys/fs/cgroup/x rw - cgroup cgroup rw,memory\n"
      "31 25 0:27 / /mnt rw - ext4 /dev/sda1 rw\n");
  ASSERT_TRUE(roots.ok()) << roots.status();
  EXPECT_THAT(*roots, ::testing::ElementsAre("/a b"));
}

TEST(CgroupTest, MountInfoWithoutSeparator) {
  absl::StatusOr<std::vector<std::string>> roots =
      ParseMountInfoCgroupRoots("30 25 0:26 / /sys/fs/cgroup rw cgroup2 cgroup rw\n");
  EXPECT_EQ(roots.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(roots.status().message(), HasSubstr("no \" - \" separator"));
}

TEST(CgroupTest, MountInfoTooFewFields) {
  absl::StatusOr<std::vector<std::string>> roots = ParseMountInfoCgroupRoots("30 25 - cgroup2\n");
  EXPECT_EQ(roots.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(roots.status().message(), HasSubstr("too few fields"));
}

TEST(CgroupLocatorTest, ReadsProcFixture) {
  testutil::TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("123").c_str(), 0755), 0);
  testutil::WriteFile(dir.File("123/cgroup"), Fill("0::/\n"));
  testutil::WriteFile(dir.File("123/mountinfo"), Fill(kMountInfoV2));
  absl::StatusOr<ContainerInfo> info = NewProcContainerLocator(dir.path())->Locate(123);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->container_id, kCid);
  EXPECT_EQ(info->pod_uid, kPod);
}

TEST(CgroupLocatorTest, ProcessGone) {
  testutil::TempDir dir;
  absl::StatusOr<ContainerInfo> info = NewProcContainerLocator(dir.path())->Locate(4242);
  EXPECT_EQ(info.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(info.status().message(), HasSubstr("process 4242 not found"));
}

TEST(CgroupLocatorTest, HostProcessHasNoContainer) {
  // This test process itself is not in a container cgroup.
  absl::StatusOr<ContainerInfo> info = NewProcContainerLocator()->Locate(getpid());
  ASSERT_TRUE(info.ok()) << info.status();
  if (!info->container_id.empty()) GTEST_SKIP() << "the test itself runs in a container cgroup";
  EXPECT_EQ(info->pod_uid, "");
}

TEST(CgroupLocatorTest, RealProcessInRealKubepodsCgroup) {
  if (!testutil::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  const std::string rel = absl::StrCat("signet-test-", getpid(), ".slice/kubepods-besteffort-pod",
                                       kPodUnder, ".slice/cri-containerd-", kCid, ".scope");
  std::string why;
  auto sandbox = testfakes::CgroupSandbox::Create(rel, &why);
  if (!sandbox) GTEST_SKIP() << "cannot create a cgroup on this machine: " << why;
  testutil::Subprocess child({"/bin/sleep", "30"});
  if (!sandbox->Move(child.pid(), &why)) {
    GTEST_SKIP() << "cannot move a process into a cgroup on this machine: " << why;
  }
  absl::StatusOr<ContainerInfo> info = NewProcContainerLocator()->Locate(child.pid());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->container_id, kCid);
  EXPECT_EQ(info->pod_uid, kPod);
  child.Signal(SIGKILL);
  child.Wait();
}

}  // namespace
}  // namespace signet::attestors
