// base64url without padding (RFC 7515 §2), the encoding of JWS segments and
// JWK key parameters (checklist D13).
#ifndef SIGNET_COMMON_BASE64URL_H_
#define SIGNET_COMMON_BASE64URL_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace signet {

// Base64UrlEncode returns `data` as unpadded base64url.
std::string Base64UrlEncode(absl::string_view data);

// Base64UrlDecode returns the bytes `in` encodes, or nullopt unless `in` is
// unpadded base64url: padding, whitespace and the standard alphabet's '+'
// and '/' are refused (absl's decoder alone accepts them). Callers name what
// they decoded in their own error.
std::optional<std::string> Base64UrlDecode(absl::string_view in);

}  // namespace signet

#endif  // SIGNET_COMMON_BASE64URL_H_
