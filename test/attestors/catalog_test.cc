#include "attestors/catalog.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::attestors {
namespace {

class FixedAttestor : public WorkloadAttestor {
 public:
  FixedAttestor(std::string name, absl::StatusOr<std::vector<Selector>> result)
      : name_(std::move(name)), result_(std::move(result)) {}
  absl::StatusOr<std::vector<Selector>> Attest(pid_t) override { return result_; }
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
  auto s = c->Attest(1);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, (std::vector<Selector>{{"b", "x"}, {"unix", "gid:2"}, {"unix", "uid:1"}}));
}

TEST(CatalogTest, FailingAttestorDropsOnlyItsSelectors) {
  std::vector<std::unique_ptr<WorkloadAttestor>> v;
  v.push_back(std::make_unique<FixedAttestor>("bad", absl::InternalError("boom")));
  v.push_back(std::make_unique<FixedAttestor>("good", std::vector<Selector>{{"unix", "uid:1"}}));
  auto c = Make(std::move(v));
  auto s = c->Attest(1);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, (std::vector<Selector>{{"unix", "uid:1"}}));
}

TEST(CatalogTest, AllFailingFailsWithFirstError) {
  std::vector<std::unique_ptr<WorkloadAttestor>> v;
  v.push_back(std::make_unique<FixedAttestor>("a", absl::NotFoundError("gone")));
  v.push_back(std::make_unique<FixedAttestor>("b", absl::InternalError("boom")));
  auto c = Make(std::move(v));
  auto s = c->Attest(1);
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

TEST(CatalogTest, FromConfigUnknownPluginNamesIt) {
  YAML::Node n = YAML::Load("docker: {}\n");
  ConfigErrors errors("x.yaml");
  auto c = AttestorCatalog::FromConfig(ConfigSection(n, "plugins.WorkloadAttestor", &errors));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(errors.ToStatus().message(), ::testing::HasSubstr("docker"));
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
