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

// Logger writes one line per event to a file descriptor (stderr by default).
// Thread-safe.
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
