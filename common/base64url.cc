#include "common/base64url.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"

namespace signet {

std::string Base64UrlEncode(absl::string_view data) { return absl::WebSafeBase64Escape(data); }

std::optional<std::string> Base64UrlDecode(absl::string_view in) {
  for (char c : in) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return std::nullopt;
    }
  }
  std::string out;
  if (!absl::WebSafeBase64Unescape(in, &out)) return std::nullopt;
  return out;
}

}  // namespace signet
