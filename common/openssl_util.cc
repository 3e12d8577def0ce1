#include "common/openssl_util.h"

#include <openssl/err.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace signet {

absl::Status OpensslError(absl::string_view context, absl::StatusCode code) {
  std::string msg(context);
  bool first = true;
  const char* file = nullptr;
  int line = 0;
  const char* func = nullptr;
  const char* data = nullptr;
  int flags = 0;
  for (unsigned long e = ERR_get_error_all(&file, &line, &func, &data, &flags); e != 0;
       e = ERR_get_error_all(&file, &line, &func, &data, &flags)) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&msg, first ? ": " : "; ", buf);
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && data[0] != '\0') {
      absl::StrAppend(&msg, " (", data, ")");
    }
    first = false;
  }
  if (first) absl::StrAppend(&msg, ": unknown OpenSSL error");
  return absl::Status(code, msg);
}

void ClearOpensslErrors() { ERR_clear_error(); }

}  // namespace signet
