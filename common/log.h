// Logging facade: text or JSON lines, levels, structured fields. Values that
// look like key material (PEM private keys, PKCS#8 blobs) are redacted, so a
// caller cannot print a key by mistake.
#ifndef SIGNET_COMMON_LOG_H_
#define SIGNET_COMMON_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace signet {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kText, kJson };

using LogField = std::pair<std::string, std::string>;

// Redact returns "[REDACTED]" when `value` contains key material, else `value`.
std::string Redact(absl::string_view value);

// Longest message or field value written to a log line, in bytes; longer
// ones are cut by TruncateForLog.
inline constexpr size_t kMaxLogValueBytes = 4096;

// TruncateForLog returns `value` when it has at most `max` bytes, else its
// first bytes (cut at a UTF-8 character boundary) followed by
// "...(N bytes)", N being the full length.
std::string TruncateForLog(absl::string_view value, size_t max = kMaxLogValueBytes);

// Logger writes one line per event to a file descriptor (stderr by default).
// The message and each field value are cut to kMaxLogValueBytes. Thread-safe.
class Logger {
 public:
  // Configure sets the process-wide level, format and fd. Returns false for an
  // unknown level/format name (level: debug|info|warn|error, format:
  // text|json).
  static bool Configure(absl::string_view level, absl::string_view format, int fd = 2);
  static void SetLevel(LogLevel l);
  static LogLevel level();
  static void Log(LogLevel level, absl::string_view msg, const std::vector<LogField>& fields = {});
};

inline void LogDebug(absl::string_view m, const std::vector<LogField>& f = {}) {
  Logger::Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(absl::string_view m, const std::vector<LogField>& f = {}) {
  Logger::Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(absl::string_view m, const std::vector<LogField>& f = {}) {
  Logger::Log(LogLevel::kWarn, m, f);
}
inline void LogError(absl::string_view m, const std::vector<LogField>& f = {}) {
  Logger::Log(LogLevel::kError, m, f);
}

}  // namespace signet

#endif  // SIGNET_COMMON_LOG_H_
