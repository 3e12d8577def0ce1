// Files the daemons and tools keep: one way to replace a file (atomically,
// with its mode, without following links) and one way to read one (bounded).
#ifndef SIGNET_COMMON_FILE_H_
#define SIGNET_COMMON_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet {

// kMaxSmallFileBytes bounds the files Signet reads whole: configuration, PEM
// bundles, keys and certificates, tokens (1 MiB).
inline constexpr size_t kMaxSmallFileBytes = size_t{1} << 20;

// WriteFileAtomic replaces `path` with `data`, permissions exactly `mode`
// (the umask does not apply). The data goes to "<path>.tmp" in the same
// directory: whatever is there (an interrupted write's leftover, a planted
// link) is removed first, and the new file must be a regular file of this
// user with a single link, never a link followed. It is written, fsync'd and
// renamed over `path` (a link at `path` is replaced, not followed); then the
// directory is fsync'd. A reader sees the old file or the new one, never a
// part. Writers of one `path` must not run concurrently.
//
// Internal on failure, naming the file and the system's reason:
// "cannot create temporary file in <dir>: ..." when the directory cannot be
// opened, "open <path>.tmp: ..." when the temporary file cannot be created,
// "write", "fsync" or "rename" and the file otherwise. The temporary file is
// removed; `path` is left as it was.
[[nodiscard]] absl::Status WriteFileAtomic(const std::string& path, absl::string_view data,
                                           mode_t mode);

// ReadFileBounded returns the contents of `path` (links are followed).
// NotFound "<path>: cannot read file: <reason>" when it cannot be opened or
// read (a directory included); FailedPrecondition "<path>: file is larger
// than <max_bytes> bytes" when it holds more than `max_bytes`.
[[nodiscard]] absl::StatusOr<std::string> ReadFileBounded(const std::string& path,
                                                          size_t max_bytes);

// ReadOpenFile reads the open descriptor `fd` to its end, as ReadFileBounded
// does, for callers that open (and check) the file themselves; `path` only
// names it in errors. `fd` stays open and owned by the caller.
[[nodiscard]] absl::StatusOr<std::string> ReadOpenFile(int fd, const std::string& path,
                                                       size_t max_bytes);

}  // namespace signet

#endif  // SIGNET_COMMON_FILE_H_
