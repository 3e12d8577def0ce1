// Tests for common/config: durations, typed getters, error messages.
#include "common/config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// TempDir is a mkdtemp directory removed (shallowly) at destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sg-cfg-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(path_.c_str());
  }
  std::string Write(const std::string& name, const std::string& content) {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    files_.push_back(p);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// Parses `yaml` as file "c.yaml" and returns the root section + errors.
struct Parsed {
  explicit Parsed(const std::string& yaml)
      : errors("c.yaml"), root(YAML::Load(yaml), "", &errors) {}
  ConfigErrors errors;
  ConfigSection root;
};

TEST(ParseDurationTest, AcceptsUnitsAndBareSeconds) {
  EXPECT_EQ(*ParseDuration("1h"), absl::Hours(1));
  EXPECT_EQ(*ParseDuration("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDuration("600"), absl::Seconds(600));
  EXPECT_EQ(*ParseDuration("0"), absl::ZeroDuration());
}

TEST(ParseDurationTest, RejectsNegative) {
  for (const char* in : {"-5", "-1h"}) {
    absl::StatusOr<absl::Duration> d = ParseDuration(in);
    ASSERT_FALSE(d.ok()) << in;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(d.status().message(),
              absl::StrCat("invalid duration \"", in, "\": must not be negative"));
  }
}

TEST(ParseDurationTest, RejectsGarbage) {
  for (const char* in : {"abc", "1x", "h", "1 h", "1.5.5s"}) {
    absl::StatusOr<absl::Duration> d = ParseDuration(in);
    ASSERT_FALSE(d.ok()) << in;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(d.status().message()),
                HasSubstr(absl::StrCat("invalid duration \"", in, "\": expected")));
  }
}

TEST(ParseDurationTest, RejectsEmpty) {
  absl::StatusOr<absl::Duration> d = ParseDuration("");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "invalid duration \"\": empty");
}

TEST(ParseDurationTest, RejectsInfinite) {
  absl::StatusOr<absl::Duration> d = ParseDuration("inf");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "invalid duration \"inf\": must be finite");
}

TEST(ParseDurationTest, RejectsOverflowingSeconds) {
  absl::StatusOr<absl::Duration> d = ParseDuration("99999999999999999999");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "invalid duration \"99999999999999999999\": out of range");
}

TEST(ConfigErrorsTest, FormatsFileLineKeyProblem) {
  ConfigErrors errors("server.yaml");
  YAML::Mark mark;
  mark.line = 4;  // 0-based
  errors.Add(mark, "server.port", "bad");
  errors.AddGeneral("general problem");
  EXPECT_THAT(errors.errors(),
              ElementsAre("server.yaml:5: server.port: bad", "server.yaml: general problem"));
  absl::Status st = errors.ToStatus();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "server.yaml:5: server.port: bad\nserver.yaml: general problem");
}

TEST(ConfigErrorsTest, EmptyIsOk) {
  ConfigErrors errors("x");
  EXPECT_TRUE(errors.ToStatus().ok());
  EXPECT_TRUE(errors.empty());
}

TEST(ConfigErrorsTest, NullMarkOmitsLine) {
  ConfigErrors errors("x.yaml");
  errors.Add(YAML::Mark::null_mark(), "k", "p");
  EXPECT_THAT(errors.errors(), ElementsAre("x.yaml: k: p"));
}

TEST(ConfigSectionTest, ReadsTypedValues) {
  Parsed p(
      "server:\n"
      "  bind_address: 0.0.0.0\n"
      "  bind_port: 8081\n"
      "  enabled: true\n"
      "  ttl: 1h\n"
      "  ttl2: 30\n"
      "  names: [a, b]\n");
  ConfigSection s = p.root.Section("server");
  EXPECT_TRUE(s.present());
  EXPECT_EQ(s.String("bind_address"), "0.0.0.0");
  EXPECT_EQ(s.Int("bind_port", 1, 1, 65535), 8081);
  EXPECT_TRUE(s.Bool("enabled", false));
  EXPECT_EQ(s.Duration("ttl", absl::ZeroDuration()), absl::Hours(1));
  EXPECT_EQ(s.Duration("ttl2", absl::ZeroDuration()), absl::Seconds(30));
  EXPECT_THAT(s.StringList("names"), ElementsAre("a", "b"));
  EXPECT_TRUE(s.Has("bind_port"));
  EXPECT_FALSE(s.Has("nope"));
  EXPECT_THAT(s.Keys(),
              ElementsAre("bind_address", "bind_port", "enabled", "ttl", "ttl2", "names"));
  s.Finish();
  p.root.Finish();
  EXPECT_TRUE(p.errors.empty()) << p.errors.ToStatus();
}

TEST(ConfigSectionTest, MissingKeysYieldDefaults) {
  Parsed p("server:\n  x: null\n");
  ConfigSection s = p.root.Section("server");
  EXPECT_EQ(s.String("a", "def"), "def");
  EXPECT_EQ(s.Int("b", 7), 7);
  EXPECT_FALSE(s.Bool("c", false));
  EXPECT_EQ(s.Duration("d", absl::Seconds(3)), absl::Seconds(3));
  EXPECT_TRUE(s.StringList("e").empty());
  EXPECT_EQ(s.String("x", "dx"), "dx");
  ConfigSection missing = p.root.Section("agent");
  EXPECT_FALSE(missing.present());
  EXPECT_EQ(missing.String("k", "d"), "d");
  missing.Finish();
  s.Finish();
  p.root.Finish();
  EXPECT_TRUE(p.errors.empty()) << p.errors.ToStatus();
}

TEST(ConfigSectionTest, MapWhereStringWanted) {
  Parsed p("server:\n  name:\n    a: b\n");
  ConfigSection s = p.root.Section("server");
  EXPECT_EQ(s.String("name", "d"), "d");
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:2: server.name: expected a string"));
}

TEST(ConfigSectionTest, NonIntegerForInt) {
  Parsed p("server:\n  port: abc\n");
  ConfigSection s = p.root.Section("server");
  EXPECT_EQ(s.Int("port", 5), 5);
  EXPECT_THAT(p.errors.errors(),
              ElementsAre("c.yaml:2: server.port: expected an integer, got \"abc\""));
}

TEST(ConfigSectionTest, ListForInt) {
  Parsed p("port: [1]\n");
  EXPECT_EQ(p.root.Int("port", 5), 5);
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:1: port: expected an integer"));
}

TEST(ConfigSectionTest, IntOutOfRange) {
  Parsed p("\nport: 70000\n");
  EXPECT_EQ(p.root.Int("port", 8081, 1, 65535), 8081);
  EXPECT_THAT(p.errors.errors(),
              ElementsAre("c.yaml:2: port: value 70000 is out of range [1, 65535]"));
}

TEST(ConfigSectionTest, IntOverflowsInt64) {
  Parsed p("port: 99999999999999999999\n");
  EXPECT_EQ(p.root.Int("port", 1), 1);
  EXPECT_THAT(p.errors.errors(),
              ElementsAre("c.yaml:1: port: expected an integer, got \"99999999999999999999\""));
}

TEST(ConfigSectionTest, BadBool) {
  Parsed p("on_off: maybe\n");
  EXPECT_TRUE(p.root.Bool("on_off", true));
  EXPECT_THAT(p.errors.errors(),
              ElementsAre("c.yaml:1: on_off: expected true or false, got \"maybe\""));
}

TEST(ConfigSectionTest, BadDuration) {
  Parsed p("a: 1\nttl: -5s\n");
  EXPECT_EQ(p.root.Duration("ttl", absl::Seconds(1)), absl::Seconds(1));
  EXPECT_THAT(p.errors.errors(),
              ElementsAre("c.yaml:2: ttl: invalid duration \"-5s\": must not be negative"));
}

TEST(ConfigSectionTest, ScalarWhereListWanted) {
  Parsed p("names: a\n");
  EXPECT_TRUE(p.root.StringList("names").empty());
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:1: names: expected a list of strings"));
}

TEST(ConfigSectionTest, NonStringListItem) {
  Parsed p("names:\n  - a\n  - {x: y}\n");
  EXPECT_THAT(p.root.StringList("names"), ElementsAre("a"));
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:3: names[1]: expected a string"));
}

TEST(ConfigSectionTest, ScalarWhereSectionWanted) {
  Parsed p("server: 5\n");
  ConfigSection s = p.root.Section("server");
  EXPECT_FALSE(s.present());
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:1: server: expected a mapping"));
}

TEST(ConfigSectionTest, TopLevelNotMapping) {
  Parsed p("- a\n- b\n");
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:1: (top level): expected a mapping"));
}

TEST(ConfigSectionTest, UnknownKeys) {
  Parsed p(
      "server:\n"
      "  bind_port: 1\n"
      "  typo_key: 2\n"
      "extra: 3\n");
  ConfigSection s = p.root.Section("server");
  s.Int("bind_port", 0);
  s.Finish();
  p.root.Finish();
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:3: server.typo_key: unknown key",
                                             "c.yaml:4: extra: unknown key"));
}

TEST(ConfigSectionTest, MarkKnownSuppressesUnknown) {
  Parsed p("plugins: {}\n");
  p.root.MarkKnown("plugins");
  p.root.Finish();
  EXPECT_TRUE(p.errors.empty());
}

TEST(ConfigSectionTest, ErrorNamesKeyLine) {
  Parsed p("a: 1\nb: 2\n");
  p.root.Error("b", "is wrong");
  p.root.Error("missing", "is required");
  EXPECT_THAT(p.errors.errors(),
              ElementsAre("c.yaml:2: b: is wrong", "c.yaml:1: missing: is required"));
}

TEST(ConfigSectionTest, NestedKeyPath) {
  Parsed p("plugins:\n  DataStore:\n    sql:\n      bogus: 1\n");
  ConfigSection sql = p.root.Section("plugins").Section("DataStore").Section("sql");
  EXPECT_EQ(sql.KeyPath("x"), "plugins.DataStore.sql.x");
  sql.Finish();
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:4: plugins.DataStore.sql.bogus: unknown key"));
}

TEST(ConfigSectionTest, DuplicateKey) {
  Parsed p("a: 1\na: 2\n");
  p.root.Int("a", 0);
  p.root.Finish();
  EXPECT_THAT(p.errors.errors(), ElementsAre("c.yaml:2: a: duplicate key"));
}

TEST(LoadYamlFileTest, LoadsValidFile) {
  TempDir dir;
  std::string path = dir.Write("ok.yaml", "server:\n  port: 1\n");
  absl::StatusOr<YAML::Node> node = LoadYamlFile(path);
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_TRUE((*node)["server"].IsMap());
}

TEST(LoadYamlFileTest, MissingFileIsNotFound) {
  TempDir dir;
  std::string path = dir.path() + "/missing.yaml";
  absl::StatusOr<YAML::Node> node = LoadYamlFile(path);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(node.status().message(), path + ": cannot read file: No such file or directory");
}

TEST(LoadYamlFileTest, DirectoryIsNotFound) {
  TempDir dir;
  absl::StatusOr<YAML::Node> node = LoadYamlFile(dir.path());
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(node.status().message()), HasSubstr(dir.path() + ": cannot read file"));
}

TEST(LoadYamlFileTest, SyntaxErrorNamesLineAndColumn) {
  TempDir dir;
  std::string path = dir.Write("bad.yaml", "server:\n  port: 1\n  x: [a, b\n");
  absl::StatusOr<YAML::Node> node = LoadYamlFile(path);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(node.status().message()),
              HasSubstr(path + ":4:1: end of sequence flow not found"));
}

TEST(LoadYamlFileTest, BadIndentation) {
  TempDir dir;
  std::string path = dir.Write("indent.yaml", "a: 1\n b: 2\n");
  absl::StatusOr<YAML::Node> node = LoadYamlFile(path);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(node.status().message()), HasSubstr(path + ":2:"));
}

TEST(LoadYamlFileTest, EndToEndErrorsFromFile) {
  TempDir dir;
  std::string path = dir.Write("e.yaml", "server:\n  port: high\n  unknown: 1\n");
  absl::StatusOr<YAML::Node> node = LoadYamlFile(path);
  ASSERT_TRUE(node.ok()) << node.status();
  ConfigErrors errors(path);
  ConfigSection root(*node, "", &errors);
  ConfigSection server = root.Section("server");
  server.Int("port", 1);
  server.Finish();
  root.Finish();
  absl::Status st = errors.ToStatus();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), path + ":2: server.port: expected an integer, got \"high\"\n" + path +
                              ":3: server.unknown: unknown key");
}

}  // namespace
}  // namespace signet
