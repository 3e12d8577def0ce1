#include "attestors/catalog.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::attestors {
namespace {

class FixedAttestor : public WorkloadAttestor {
 public:
  FixedAttestor(std::string name, absl::StatusOr<std::vector<Selector>> result)
      : name_(std::move(name)), result_(std::move(result)) {}
  absl::StatusOr<std::vector<Selector>> Attest(const WorkloadProcess&, absl::Time) override {
    return result_;
  }
  std::string name() const override { return name_; }

 private:
  std::string name_;
  absl::StatusOr<std::vector<Selector>> result_;
};

std::unique_ptr<AttestorCatalog> Make(std::vector<std::unique_ptr<WorkloadAttestor>> v) {
  auto c = AttestorCatalog::Create(std::move(v));
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

TEST(CatalogTest, EmptyCatalogIsInvalidArgument) {
  auto c = AttestorCatalog::Create({});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), ::testing::HasSubstr("at least one"));
}

TEST(CatalogTest, UnionOfAllAttestorsSortedUnique) {
  std::vector<std::unique_ptr<WorkloadAttestor>> v;
  v.push_back(std::make_unique<FixedAttestor>(
      "a", std::vector<Selector>{{"unix", "uid:1"}, {"unix", "gid:2"}}));
  v.push_back(
      std::make_unique<FixedAttestor>("b", std::vector<Selector>{{"b", "x"}, {"unix", "uid:1"}}));
  auto c = Make(std::move(v));
  auto s = c->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, (std::vector<Selector>{{"b", "x"}, {"unix", "gid:2"}, {"unix", "uid:1"}}));
}

TEST(CatalogTest, FailingAttestorDropsOnlyItsSelectors) {
  std::vector<std::unique_ptr<WorkloadAttestor>> v;
  v.push_back(std::make_unique<FixedAttestor>("bad", absl::InternalError("boom")));
  v.push_back(std::make_unique<FixedAttestor>("good", std::vector<Selector>{{"unix", "uid:1"}}));
  auto c = Make(std::move(v));
  auto s = c->Attest({1}, absl::InfiniteFuture());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, (std::vector<Selector>{{"unix", "uid:1"}}));
}

TEST(CatalogTest, AllFailingFailsWithFirstError) {
  std::vector<std::unique_ptr<WorkloadAttestor>> v;
  v.push_back(std::make_unique<FixedAttestor>("a", absl::NotFoundError("gone")));
  v.push_back(std::make_unique<FixedAttestor>("b", absl::InternalError("boom")));
  auto c = Make(std::move(v));
  auto s = c->Attest({1}, absl::InfiniteFuture());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.status().message(), "gone");
}

TEST(CatalogTest, FromConfigBuildsUnix) {
  YAML::Node n = YAML::Load("unix:\n  plugin_data:\n    discover_workload_path: true\n");
  ConfigErrors errors("x.yaml");
  auto c = AttestorCatalog::FromConfig(ConfigSection(n, "plugins.WorkloadAttestor", &errors));
  ASSERT_TRUE(c.ok()) << c.status() << errors.ToStatus();
  EXPECT_EQ((*c)->size(), 1u);
  EXPECT_TRUE(errors.empty());
}

TEST(CatalogTest, FromConfigUnknownPluginListsSupported) {
  YAML::Node n = YAML::Load("podman: {}\n");
  ConfigErrors errors("x.yaml");
  auto c = AttestorCatalog::FromConfig(ConfigSection(n, "plugins.WorkloadAttestor", &errors));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(errors.ToStatus().message(),
              ::testing::HasSubstr("x.yaml:1: plugins.WorkloadAttestor.podman: unknown "
                                   "WorkloadAttestor plugin (supported: unix, docker, k8s)"));
}

TEST(CatalogTest, FromConfigEmptyIsInvalidArgument) {
  YAML::Node n = YAML::Load("{}");
  ConfigErrors errors("x.yaml");
  auto c = AttestorCatalog::FromConfig(ConfigSection(n, "plugins.WorkloadAttestor", &errors));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(errors.ToStatus().message(),
              ::testing::HasSubstr("at least one WorkloadAttestor must be configured"));
}

// BuildNames returns the attestor names of a catalog built from `yaml`, or
// the status and the recorded configuration errors.
struct Built {
  absl::Status status;
  std::string errors;
  size_t size = 0;
};
Built Build(const std::string& yaml) {
  YAML::Node n = YAML::Load(yaml);
  ConfigErrors errors("x.yaml");
  auto c = AttestorCatalog::FromConfig(ConfigSection(n, "plugins.WorkloadAttestor", &errors));
  Built b;
  b.status = c.status();
  b.errors = std::string(errors.ToStatus().message());
  if (c.ok()) b.size = (*c)->size();
  return b;
}

TEST(CatalogTest, FromConfigBuildsDockerFlat) {
  Built b =
      Build("docker:\n  docker_socket_path: /tmp/sg-docker.sock\n  docker_version: \"1.41\"\n");
  ASSERT_TRUE(b.status.ok()) << b.status << b.errors;
  EXPECT_EQ(b.errors, "");
  EXPECT_EQ(b.size, 1u);
}

TEST(CatalogTest, FromConfigBuildsDockerPluginData) {
  Built b = Build("docker:\n  plugin_data:\n    docker_socket_path: /tmp/sg-docker.sock\n");
  ASSERT_TRUE(b.status.ok()) << b.status << b.errors;
  EXPECT_EQ(b.errors, "");
  EXPECT_EQ(b.size, 1u);
}

TEST(CatalogTest, FromConfigBuildsK8sFlat) {
  Built b = Build("k8s:\n  skip_kubelet_verification: true\n  node_name_env: NODE\n");
  ASSERT_TRUE(b.status.ok()) << b.status << b.errors;
  EXPECT_EQ(b.errors, "");
  EXPECT_EQ(b.size, 1u);
}

TEST(CatalogTest, FromConfigBuildsK8sPluginData) {
  Built b =
      Build("k8s:\n  plugin_data:\n    kubelet_read_only_port: 10255\n    max_poll_attempts: 5\n");
  ASSERT_TRUE(b.status.ok()) << b.status << b.errors;
  EXPECT_EQ(b.errors, "");
  EXPECT_EQ(b.size, 1u);
}

TEST(CatalogTest, FromConfigBuildsAllThree) {
  Built b = Build("unix: {}\ndocker: {}\nk8s:\n  plugin_data: {kubelet_read_only_port: 10255}\n");
  ASSERT_TRUE(b.status.ok()) << b.status << b.errors;
  EXPECT_EQ(b.size, 3u);
}

TEST(CatalogTest, FromConfigBadDockerVersionNamesPlugin) {
  Built b = Build("docker:\n  docker_version: latest\n");
  EXPECT_EQ(b.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(b.errors, ::testing::HasSubstr("plugins.WorkloadAttestor.docker"));
  EXPECT_THAT(b.errors, ::testing::HasSubstr("docker_version"));
}

TEST(CatalogTest, FromConfigBadK8sPollAttemptsIsReported) {
  Built b = Build("k8s:\n  plugin_data:\n    max_poll_attempts: 0\n");
  EXPECT_THAT(b.errors, ::testing::HasSubstr("max_poll_attempts"));
  EXPECT_FALSE(b.status.ok() && b.errors.empty());
}

TEST(CatalogTest, FromConfigUnknownDockerKeyIsReported) {
  Built b = Build("docker:\n  plugin_data:\n    docker_sock: /x\n");
  EXPECT_THAT(b.errors,
              ::testing::HasSubstr("plugins.WorkloadAttestor.docker.plugin_data.docker_sock"));
}

TEST(CatalogTest, FromConfigFlatKeyBesidePluginDataIsReported) {
  Built b = Build("k8s:\n  node_name: n1\n  plugin_data:\n    kubelet_read_only_port: 10255\n");
  EXPECT_THAT(b.errors, ::testing::HasSubstr("plugins.WorkloadAttestor.k8s.node_name"));
}

TEST(CatalogTest, FromConfigUnknownUnixKeyIsReported) {
  YAML::Node n = YAML::Load("unix:\n  discover_workload_paht: true\n");
  ConfigErrors errors("x.yaml");
  auto c = AttestorCatalog::FromConfig(ConfigSection(n, "plugins.WorkloadAttestor", &errors));
  EXPECT_THAT(errors.ToStatus().message(), ::testing::HasSubstr("discover_workload_paht"));
}

TEST(SelectorsMatchTest, SubsetMatches) {
  std::vector<Selector> w = {{"unix", "uid:1"}, {"unix", "gid:2"}};
  EXPECT_TRUE(SelectorsMatch({{"unix", "uid:1"}}, w));
  EXPECT_TRUE(SelectorsMatch({{"unix", "gid:2"}, {"unix", "uid:1"}}, w));
}

TEST(SelectorsMatchTest, ExtraEntrySelectorDoesNotMatch) {
  std::vector<Selector> w = {{"unix", "uid:1"}};
  EXPECT_FALSE(SelectorsMatch({{"unix", "uid:1"}, {"unix", "gid:2"}}, w));
  EXPECT_FALSE(SelectorsMatch({{"unix", "uid:10"}}, w));
  EXPECT_FALSE(SelectorsMatch({{"k8s", "uid:1"}}, w));
}

TEST(SelectorsMatchTest, EmptyEntryNeverMatches) {
  EXPECT_FALSE(SelectorsMatch({}, {{"unix", "uid:1"}}));
}

}  // namespace
}  // namespace signet::attestors
