#include "common/log.h"

#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace signet {
namespace {

constexpr absl::string_view kRedacted = "[REDACTED]";

// Process-wide logger state. Level, format and fd are atomics so the fast
// "is this level enabled" check takes no lock; write_mu serialises writes so
// that a line split across partial writes is never interleaved.
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};
std::atomic<int> g_fd{2};
ABSL_CONST_INIT absl::Mutex g_write_mu(absl::kConstInit);

// LooksLikeDerPrivateKey reports whether `b` starts with the DER encoding of
// a private key: SEQUENCE { INTEGER 0|1, ... } followed by a SEQUENCE
// (PKCS#8 AlgorithmIdentifier), an INTEGER (PKCS#1 RSA modulus) or an OCTET
// STRING (SEC1 EC private key).
bool LooksLikeDerPrivateKey(absl::string_view b) {
  if (b.size() < 6 || static_cast<unsigned char>(b[0]) != 0x30) return false;
  size_t i = 1;
  const unsigned char len = static_cast<unsigned char>(b[i++]);
  if (len & 0x80) {
    const size_t n = len & 0x7f;
    if (n == 0 || n > 4) return false;
    i += n;
  }
  if (b.size() < i + 4) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(b.data()) + i;
  return p[0] == 0x02 && p[1] == 0x01 && (p[2] == 0x00 || p[2] == 0x01) &&
         (p[3] == 0x30 || p[3] == 0x02 || p[3] == 0x04);
}

bool IsBase64Char(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '-' ||
         c == '_';
}

// ContainsBase64DerKey reports whether any long base64 (standard or URL-safe)
// run in `value` decodes to something starting like a DER private key. Only
// the first 16 characters of each run are decoded, so this is cheap.
bool ContainsBase64DerKey(absl::string_view value) {
  constexpr size_t kMinRun = 64;  // smallest real key blobs are ~90 chars
  size_t i = 0;
  while (i < value.size()) {
    if (!IsBase64Char(value[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < value.size() && IsBase64Char(value[i])) ++i;
    if (i - start < kMinRun) continue;
    std::string prefix(value.substr(start, 16));
    std::string decoded;
    if (absl::Base64Unescape(prefix, &decoded) && LooksLikeDerPrivateKey(decoded)) return true;
    if (absl::WebSafeBase64Unescape(prefix, &decoded) && LooksLikeDerPrivateKey(decoded)) {
      return true;
    }
  }
  return false;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// AppendJsonString appends `s` as a JSON string literal. Control characters
// are \u-escaped and bytes that are not valid UTF-8 become U+FFFD, so the
// output is always valid JSON.
void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8 sequence: validate lead byte, length and continuation
    // bytes, and reject overlong forms and surrogates.
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 4;
      cp = c & 0x07;
    }
    bool valid = n != 0 && i + n <= s.size();
    for (size_t k = 1; valid && k < n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        valid = false;
      } else {
        cp = (cp << 6) | (cc & 0x3f);
      }
    }
    if (valid) {
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      valid = cp >= kMin[n] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (valid) {
      out->append(s.data() + i, n);
      i += n;
    } else {
      out->append("\\ufffd");
      ++i;
    }
  }
  out->push_back('"');
}

// NeedsQuoting reports whether a text-format value must be quoted.
bool NeedsQuoting(absl::string_view v) {
  if (v.empty()) return true;
  for (char ch : v) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
  }
  return false;
}

// AppendTextValue appends `v`, quoted and C-escaped when it holds spaces,
// quotes, '=' or non-printable bytes (so one event is always one line).
void AppendTextValue(std::string* out, absl::string_view v) {
  if (!NeedsQuoting(v)) {
    out->append(v.data(), v.size());
    return;
  }
  absl::StrAppend(out, "\"", absl::CHexEscape(v), "\"");
}

// FormatLine renders one event (already redacted) with a trailing newline.
std::string FormatLine(LogFormat format, LogLevel level, absl::string_view msg,
                       const std::vector<LogField>& fields) {
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string out;
  if (format == LogFormat::kJson) {
    out.append("{\"time\":");
    AppendJsonString(&out, time);
    out.append(",\"level\":");
    AppendJsonString(&out, LevelName(level));
    out.append(",\"msg\":");
    AppendJsonString(&out, TruncateForLog(Redact(msg)));
    for (const LogField& f : fields) {
      out.push_back(',');
      // Never let a field shadow the fixed keys.
      if (f.first == "time" || f.first == "level" || f.first == "msg") {
        AppendJsonString(&out, "field." + f.first);
      } else {
        AppendJsonString(&out, TruncateForLog(f.first));
      }
      out.push_back(':');
      AppendJsonString(&out, TruncateForLog(Redact(f.second)));
    }
    out.append("}\n");
    return out;
  }
  absl::StrAppend(&out, time, " ", absl::AsciiStrToUpper(LevelName(level)), " ");
  // The message is free text: escape control characters but keep spaces.
  const std::string m = TruncateForLog(Redact(msg));
  bool plain = true;
  for (char ch : m) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) plain = false;
  }
  out.append(plain ? m : absl::CHexEscape(m));
  for (const LogField& f : fields) {
    out.push_back(' ');
    AppendTextValue(&out, TruncateForLog(f.first));
    out.push_back('=');
    AppendTextValue(&out, TruncateForLog(Redact(f.second)));
  }
  out.push_back('\n');
  return out;
}

// WriteAll writes `line` to the configured fd, retrying on EINTR and partial writes.
// Errors are dropped: there is nowhere to report them.
void WriteAll(absl::string_view line) {
  absl::MutexLock lock(&g_write_mu);
  const int fd = g_fd.load();
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

std::string TruncateForLog(absl::string_view value, size_t max) {
  if (value.size() <= max) return std::string(value);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xc0) == 0x80) --cut;
  return absl::StrCat(value.substr(0, cut), "...(", value.size(), " bytes)");
}

std::string Redact(absl::string_view value) {
  if (absl::StrContains(value, "PRIVATE KEY")) return std::string(kRedacted);
  // A JWK holding a private key ("d" member next to "kty").
  if (absl::StrContains(value, "\"kty\"") && absl::StrContains(value, "\"d\"")) {
    return std::string(kRedacted);
  }
  if (LooksLikeDerPrivateKey(value)) return std::string(kRedacted);
  if (value.size() >= 64 && ContainsBase64DerKey(value)) return std::string(kRedacted);
  return std::string(value);
}

bool Logger::Configure(absl::string_view level, absl::string_view format, int fd) {
  const std::string l = absl::AsciiStrToLower(level);
  const std::string f = absl::AsciiStrToLower(format);
  LogLevel new_level;
  if (l == "debug") {
    new_level = LogLevel::kDebug;
  } else if (l == "info" || l.empty()) {
    new_level = LogLevel::kInfo;
  } else if (l == "warn" || l == "warning") {
    new_level = LogLevel::kWarn;
  } else if (l == "error") {
    new_level = LogLevel::kError;
  } else {
    return false;
  }
  LogFormat new_format;
  if (f == "text" || f.empty()) {
    new_format = LogFormat::kText;
  } else if (f == "json") {
    new_format = LogFormat::kJson;
  } else {
    return false;
  }
  absl::MutexLock lock(&g_write_mu);
  g_level.store(static_cast<int>(new_level));
  g_format.store(static_cast<int>(new_format));
  g_fd.store(fd);
  return true;
}

void Logger::SetLevel(LogLevel l) { g_level.store(static_cast<int>(l)); }

LogLevel Logger::level() { return static_cast<LogLevel>(g_level.load()); }

void Logger::Log(LogLevel level, absl::string_view msg, const std::vector<LogField>& fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  const std::string line = FormatLine(static_cast<LogFormat>(g_format.load()), level, msg, fields);
  WriteAll(line);
}

}  // namespace signet
