// Tests for common/flags: the one flag parser of both CLIs.
#include "common/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace signet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

FlagSet Flags() {
  FlagSet f("signet-test", "cmd [flags]", "A test command.");
  f.String("socketPath", "/default.sock", "socket");
  f.Bool("admin", "admin");
  f.Int("ttl", 0, "ttl");
  f.List("dns", "dns");
  return f;
}

TEST(FlagSetTest, EveryAcceptedSpelling) {
  FlagSet f = Flags();
  absl::Status s = f.Parse({"-socketPath", "/a", "--ttl", "5", "-dns=x", "--dns=y", "--admin"});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(f.GetString("socketPath"), "/a");
  EXPECT_EQ(f.GetInt("ttl"), 5);
  EXPECT_THAT(f.GetList("dns"), ElementsAre("x", "y"));
  EXPECT_TRUE(f.GetBool("admin"));
}

TEST(FlagSetTest, DefaultsWhenUnset) {
  FlagSet f = Flags();
  ASSERT_TRUE(f.Parse({}).ok());
  EXPECT_EQ(f.GetString("socketPath"), "/default.sock");
  EXPECT_FALSE(f.IsSet("socketPath"));
  EXPECT_FALSE(f.GetBool("admin"));
}

TEST(FlagSetTest, BooleanValues) {
  for (const char* v : {"true", "1"}) {
    FlagSet f = Flags();
    ASSERT_TRUE(f.Parse({std::string("-admin=") + v}).ok()) << v;
    EXPECT_TRUE(f.GetBool("admin")) << v;
  }
  for (const char* v : {"false", "0"}) {
    FlagSet f = Flags();
    ASSERT_TRUE(f.Parse({std::string("-admin=") + v}).ok()) << v;
    EXPECT_FALSE(f.GetBool("admin")) << v;
  }
}

TEST(FlagSetTest, BadBooleanNamesValueAndFlag) {
  FlagSet f = Flags();
  absl::Status s = f.Parse({"-admin=yes"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "invalid boolean value \"yes\" for flag -admin");
}

TEST(FlagSetTest, UnknownFlag) {
  FlagSet f = Flags();
  absl::Status s = f.Parse({"--bogus", "1"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "flag provided but not defined: -bogus");
}

TEST(FlagSetTest, MissingValue) {
  FlagSet f = Flags();
  absl::Status s = f.Parse({"-socketPath"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "flag needs an argument: -socketPath");
}

TEST(FlagSetTest, BadInteger) {
  FlagSet f = Flags();
  absl::Status s = f.Parse({"-ttl", "ten"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "invalid value \"ten\" for flag -ttl: not an integer");
}

TEST(FlagSetTest, HelpIsCancelled) {
  for (const char* h : {"-h", "--help", "-help"}) {
    FlagSet f = Flags();
    EXPECT_EQ(f.Parse({h}).code(), absl::StatusCode::kCancelled) << h;
  }
}

TEST(FlagSetTest, PositionalAndDoubleDash) {
  FlagSet f = Flags();
  ASSERT_TRUE(f.Parse({"a", "-admin", "--", "-dns", "b"}).ok());
  EXPECT_THAT(f.positional(), ElementsAre("a", "-dns", "b"));
  EXPECT_FALSE(f.IsSet("dns"));
}

TEST(FlagSetTest, UsageNamesProgramAndFlags) {
  std::string u = Flags().Usage();
  EXPECT_THAT(u, HasSubstr("Usage: signet-test cmd [flags]"));
  EXPECT_THAT(u, HasSubstr("-socketPath string"));
  EXPECT_THAT(u, HasSubstr("(default \"/default.sock\")"));
}

}  // namespace
}  // namespace signet
