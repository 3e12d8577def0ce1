#include "common/text.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace signet {
namespace {

// DecodeUtf8 decodes the code point starting at s[i] into *cp and returns its
// length in bytes, or 0 when the bytes there are not valid UTF-8 (overlong
// forms, surrogates and values above U+10FFFF included).
size_t DecodeUtf8(absl::string_view s, size_t i, char32_t* cp) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  char32_t v;
  char32_t min;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    v = c & 0x1f;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    v = c & 0x0f;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    v = c & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return n;
}

}  // namespace

bool IsUnsafeCodePoint(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

absl::Status CheckDisplaySafe(absl::string_view what, absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8 (byte ", i, ")"));
    }
    if (IsUnsafeCodePoint(cp)) {
      const bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
      return absl::InvalidArgumentError(
          absl::StrFormat("%s contains %s U+%04X at byte %d", what,
                          control ? "control character" : "bidirectional formatting character",
                          static_cast<uint32_t>(cp), i));
    }
    i += n;
  }
  return absl::OkStatus();
}

std::string EscapeForDisplay(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (!IsUnsafeCodePoint(cp)) {
      out.append(s.data() + i, n);
    } else if (cp < 0x20 || cp == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint32_t>(cp));
    } else {
      absl::StrAppendFormat(&out, "\\u{%04x}", static_cast<uint32_t>(cp));
    }
    i += n;
  }
  return out;
}

std::string EscapeJsonUnsafe(absl::string_view json) {
  std::string out;
  out.reserve(json.size());
  size_t i = 0;
  while (i < json.size()) {
    char32_t cp = 0;
    size_t n = DecodeUtf8(json, i, &cp);
    if (n > 1 && IsUnsafeCodePoint(cp)) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<uint32_t>(cp));
    } else {
      if (n == 0) n = 1;
      out.append(json.data() + i, n);
    }
    i += n;
  }
  return out;
}

}  // namespace signet
