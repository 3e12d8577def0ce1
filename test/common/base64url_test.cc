// Tests for common/base64url: unpadded base64url and nothing else.
#include "common/base64url.h"

#include <gtest/gtest.h>

#include <string>

namespace signet {
namespace {

TEST(Base64UrlTest, EncodeIsUnpaddedUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode(std::string("\xfb\xff", 2)), "-_8");
  EXPECT_EQ(Base64UrlEncode("a"), "YQ");
}

TEST(Base64UrlTest, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(all)), all);
}

TEST(Base64UrlTest, EmptyDecodesToEmpty) { EXPECT_EQ(Base64UrlDecode(""), ""); }

TEST(Base64UrlTest, PaddingRefused) { EXPECT_EQ(Base64UrlDecode("YQ=="), std::nullopt); }

TEST(Base64UrlTest, StandardAlphabetRefused) { EXPECT_EQ(Base64UrlDecode("+/8"), std::nullopt); }

TEST(Base64UrlTest, WhitespaceRefused) { EXPECT_EQ(Base64UrlDecode("Y Q"), std::nullopt); }

TEST(Base64UrlTest, ImpossibleLengthRefused) { EXPECT_EQ(Base64UrlDecode("Y"), std::nullopt); }

}  // namespace
}  // namespace signet
