// Text that reaches an operator's terminal: which characters a stored string
// may hold, and how to print one that holds others. Control characters (C0,
// DEL, C1) can forge output lines or drive the terminal (ANSI escapes);
// Unicode bidirectional formatting characters can reorder what is displayed.
#ifndef SIGNET_COMMON_TEXT_H_
#define SIGNET_COMMON_TEXT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace signet {

// IsUnsafeCodePoint reports whether `cp` is a control character (U+0000-U+001F,
// U+007F, U+0080-U+009F) or a bidirectional formatting character: the marks
// U+200E, U+200F, U+061C, the embeddings and overrides U+202A-U+202E and the
// isolates U+2066-U+2069.
bool IsUnsafeCodePoint(char32_t cp);

// CheckDisplaySafe returns InvalidArgument when `s` is not valid UTF-8 or
// holds an unsafe code point (see IsUnsafeCodePoint). The message starts with
// `what` and names the offending character and its byte offset, e.g.
// `hint contains control character U+000A at byte 3`.
[[nodiscard]] absl::Status CheckDisplaySafe(absl::string_view what, absl::string_view s);

// EscapeForDisplay returns `s` with each unsafe code point replaced by an
// escape: C0 and DEL as \xNN, the others as \u{NNNN}; bytes that are not
// valid UTF-8 become \xNN. Other text, a backslash included, is unchanged, so
// a string without unsafe characters prints as itself.
std::string EscapeForDisplay(absl::string_view s);

// EscapeJsonUnsafe returns the JSON text `json` with each raw unsafe code
// point above U+007F (C1, bidirectional formatting) replaced by its \uNNNN
// escape. The result is the same JSON value; C0 characters must already be
// escaped, as every JSON writer does.
std::string EscapeJsonUnsafe(absl::string_view json);

}  // namespace signet

#endif  // SIGNET_COMMON_TEXT_H_
