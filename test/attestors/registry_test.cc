// A workload attestor added from outside attestors/: its own code plus one
// registration line, then named in plugins.WorkloadAttestor like a built-in.
#include "attestors/registry.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "attestors/catalog.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::attestors {
namespace {

// NoopAttestor attests nothing; it records that it ran, on which process and
// with which deadline.
class NoopAttestor : public WorkloadAttestor {
 public:
  explicit NoopAttestor(std::string tag) : tag_(std::move(tag)) {}
  absl::StatusOr<std::vector<Selector>> Attest(const WorkloadProcess& process,
                                               absl::Time deadline) override {
    calls.fetch_add(1);
    last_pid.store(process.pid);
    last_deadline_ns.store(absl::ToUnixNanos(deadline));
    if (tag_.empty()) return std::vector<Selector>{};
    return std::vector<Selector>{{"noop", tag_}};
  }
  std::string name() const override { return "noop"; }

  static inline std::atomic<int> calls{0};
  static inline std::atomic<pid_t> last_pid{0};
  static inline std::atomic<int64_t> last_deadline_ns{0};

 private:
  const std::string tag_;
};

absl::StatusOr<std::unique_ptr<WorkloadAttestor>> NewNoopAttestor(ConfigSection& data) {
  std::string tag = data.String("tag");
  data.Finish();
  return std::make_unique<NoopAttestor>(tag);
}

// The one registration line.
const absl::Status kNoopRegistered =
    WorkloadAttestorRegistry::Global().Register("noop", NewNoopAttestor);

TEST(WorkloadAttestorRegistryTest, RegisteredAttestorRunsFromTheCatalog) {
  ASSERT_TRUE(kNoopRegistered.ok()) << kNoopRegistered;
  YAML::Node n = YAML::Load("noop:\n  plugin_data:\n    tag: hello\nunix:\n  plugin_data: {}\n");
  absl::StatusOr<std::unique_ptr<AttestorCatalog>> c =
      AttestorCatalog::FromPlugins(n, "agent.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->size(), 2u);
  const int before = NoopAttestor::calls.load();
  const absl::Time deadline = absl::FromUnixSeconds(4102444800);  // 2100-01-01
  absl::StatusOr<std::vector<Selector>> s = (*c)->Attest({getpid()}, deadline);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(NoopAttestor::calls.load(), before + 1);
  EXPECT_EQ(NoopAttestor::last_pid.load(), getpid());
  EXPECT_EQ(NoopAttestor::last_deadline_ns.load(), absl::ToUnixNanos(deadline));
  // The plugin's selector beside the unix attestor's.
  EXPECT_THAT(*s, ::testing::Contains(Selector{"noop", "hello"}));
  EXPECT_THAT(*s, ::testing::Contains(Selector{"unix", absl::StrCat("uid:", geteuid())}));
}

TEST(WorkloadAttestorRegistryTest, PluginConfigProblemsNameFileLineAndKey) {
  ASSERT_TRUE(kNoopRegistered.ok()) << kNoopRegistered;
  YAML::Node n = YAML::Load("noop:\n  plugin_data:\n    tag: a\n    colour: red\n");
  absl::StatusOr<std::unique_ptr<AttestorCatalog>> c =
      AttestorCatalog::FromPlugins(n, "agent.conf");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "agent.conf:4: plugins.WorkloadAttestor.noop.plugin_data.colour: unknown key");
}

TEST(WorkloadAttestorRegistryTest, UnknownPluginListsRegisteredNames) {
  ASSERT_TRUE(kNoopRegistered.ok()) << kNoopRegistered;
  YAML::Node n = YAML::Load("podman: {}\n");
  absl::StatusOr<std::unique_ptr<AttestorCatalog>> c =
      AttestorCatalog::FromPlugins(n, "agent.conf");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "agent.conf:1: plugins.WorkloadAttestor.podman: unknown WorkloadAttestor plugin "
            "(supported: unix, docker, k8s, noop)");
}

TEST(WorkloadAttestorRegistryTest, NameTakenTwiceIsAlreadyExists) {
  ASSERT_TRUE(kNoopRegistered.ok()) << kNoopRegistered;
  absl::Status s = WorkloadAttestorRegistry::Global().Register("unix", NewNoopAttestor);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "workload attestor \"unix\" is already registered");
}

TEST(WorkloadAttestorRegistryTest, EmptyNameIsInvalidArgument) {
  WorkloadAttestorRegistry r;
  absl::Status s = r.Register("", NewNoopAttestor);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "a workload attestor needs a name and a factory");
}

TEST(WorkloadAttestorRegistryTest, BuiltinsInOrder) {
  WorkloadAttestorRegistry r;
  RegisterBuiltinWorkloadAttestors(r);
  EXPECT_THAT(r.Names(), ::testing::ElementsAre("unix", "docker", "k8s"));
}

}  // namespace
}  // namespace signet::attestors
