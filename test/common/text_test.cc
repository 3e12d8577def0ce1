// Unit tests: which characters an operator-facing string may hold
// (CheckDisplaySafe) and how stored text is escaped for a terminal
// (EscapeForDisplay) or inside JSON (EscapeJsonUnsafe).
#include "common/text.h"

#include "gtest/gtest.h"

namespace signet {
namespace {

void ExpectRefused(absl::string_view s, const std::string& message) {
  absl::Status st = CheckDisplaySafe("hint", s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_EQ(st.message(), message);
}

TEST(TextTest, PrintableTextIsSafeAndUnchanged) {
  const std::string s =
      "web \\x0a path:/usr/bin/a b \xc3\xa9t\xc3\xa9 \xe2\x80\x8b \xf0\x9f\x94\x91";
  EXPECT_TRUE(CheckDisplaySafe("hint", s).ok());
  EXPECT_EQ(EscapeForDisplay(s), s);
  EXPECT_EQ(EscapeJsonUnsafe(s), s);
}

TEST(TextTest, NewlineRefused) {
  ExpectRefused("ok\nSPIFFE ID : x", "hint contains control character U+000A at byte 2");
}

TEST(TextTest, EscapeRefused) {
  ExpectRefused("\x1b[31mred", "hint contains control character U+001B at byte 0");
}

TEST(TextTest, DeleteRefused) {
  ExpectRefused("a\x7f", "hint contains control character U+007F at byte 1");
}

TEST(TextTest, C1ControlRefused) {
  // U+009B is the 8-bit CSI, which some terminals act on like ESC [.
  ExpectRefused(
      "a\xc2\x9b"
      "31m",
      "hint contains control character U+009B at byte 1");
}

TEST(TextTest, BidiOverrideRefused) {
  ExpectRefused(
      "abc\xe2\x80\xae"
      "fdp.exe",
      "hint contains bidirectional formatting character U+202E at byte 3");
}

TEST(TextTest, BidiIsolateRefused) {
  ExpectRefused("\xe2\x81\xa6x",
                "hint contains bidirectional formatting character U+2066 at byte 0");
}

TEST(TextTest, BidiMarkRefused) {
  ExpectRefused("x\xe2\x80\x8f",
                "hint contains bidirectional formatting character U+200F at byte 1");
  ExpectRefused("x\xd8\x9c", "hint contains bidirectional formatting character U+061C at byte 1");
}

TEST(TextTest, InvalidUtf8Refused) {
  ExpectRefused("ab\xff", "hint is not valid UTF-8 (byte 2)");
  ExpectRefused("\xc0\x8a", "hint is not valid UTF-8 (byte 0)");      // overlong '\n'
  ExpectRefused("\xed\xa0\x80", "hint is not valid UTF-8 (byte 0)");  // surrogate
}

TEST(TextTest, EscapeForDisplayEscapesEveryUnsafeCharacter) {
  EXPECT_EQ(EscapeForDisplay("a\nb\tc\x1b[31m\x7f"), "a\\x0ab\\x09c\\x1b[31m\\x7f");
  EXPECT_EQ(EscapeForDisplay("x\xc2\x85y"), "x\\u{0085}y");
  EXPECT_EQ(EscapeForDisplay("x\xe2\x80\xaey\xe2\x81\xa9"), "x\\u{202e}y\\u{2069}");
  EXPECT_EQ(EscapeForDisplay("x\xffy\xc3"), "x\\xffy\\xc3");
  EXPECT_EQ(EscapeForDisplay(std::string("a\0b", 3)), "a\\x00b");
}

TEST(TextTest, EscapeJsonUnsafeEscapesRawC1AndBidi) {
  EXPECT_EQ(EscapeJsonUnsafe("{\"hint\": \"a\xe2\x80\xae"
                             "b\xc2\x9b\"}"),
            "{\"hint\": \"a\\u202eb\\u009b\"}");
  EXPECT_EQ(EscapeJsonUnsafe("{\"a\": \"\\n\"}"), "{\"a\": \"\\n\"}");
}

}  // namespace
}  // namespace signet
