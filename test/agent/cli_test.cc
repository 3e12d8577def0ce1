#include "agent/cli.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

TEST(ParseFlagsTest, SingleAndDoubleDashAndEquals) {
  auto f = ParseFlags({"-config", "a.yaml", "--joinToken", "t", "-socketPath=/x", "--silent"},
                      {"config", "joinToken", "socketPath"}, {"silent"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->Get("config"), "a.yaml");
  EXPECT_EQ(f->Get("joinToken"), "t");
  EXPECT_EQ(f->Get("socketPath"), "/x");
  EXPECT_TRUE(f->Has("silent"));
}

TEST(ParseFlagsTest, UnknownFlagIsInvalidArgument) {
  auto f = ParseFlags({"-nope", "1"}, {"config"}, {});
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(f.status().message()), ::testing::HasSubstr("nope"));
}

TEST(ParseFlagsTest, MissingValueIsInvalidArgument) {
  auto f = ParseFlags({"-config"}, {"config"}, {});
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseFlagsTest, RepeatedValuesKept) {
  auto f = ParseFlags({"-audience", "a", "-audience", "b"}, {"audience"}, {});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->values.at("audience"), (std::vector<std::string>{"a", "b"}));
}

TEST(RunCliTest, HelpExitsZeroUnknownExitsOne) {
  EXPECT_EQ(RunCli({"-h"}), 0);
  EXPECT_EQ(RunCli({"api", "fetch", "-h"}), 0);
  EXPECT_EQ(RunCli({"bogus"}), 1);
  EXPECT_EQ(RunCli({}), 1);
}

}  // namespace
}  // namespace signet::agent
