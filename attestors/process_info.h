// ProcessInfo: the narrow view of the operating system that workload
// attestors need, so tests can replace /proc with a fixture.
#ifndef SIGNET_ATTESTORS_PROCESS_INFO_H_
#define SIGNET_ATTESTORS_PROCESS_INFO_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet::attestors {

// ProcessIds are the ids of /proc/<pid>/status: Uid and Gid hold real,
// effective, saved and filesystem ids; groups are the supplementary groups.
struct ProcessIds {
  std::vector<uint32_t> uids;
  std::vector<uint32_t> gids;
  std::vector<uint32_t> groups;
};

// FileIdentity identifies one version of a file's content.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  int64_t mtime_sec = 0, mtime_nsec = 0;
  int64_t ctime_sec = 0, ctime_nsec = 0;

  auto Tie() const {
    return std::tie(dev, ino, size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec);
  }
  bool operator<(const FileIdentity& o) const { return Tie() < o.Tie(); }
  bool operator==(const FileIdentity& o) const { return Tie() == o.Tie(); }
};

// ExecutableFile is an open handle on a process's executable. Not
// thread-safe; owned by one caller.
class ExecutableFile {
 public:
  virtual ~ExecutableFile() = default;
  // identity returns what fstat said about the open file.
  virtual const FileIdentity& identity() const = 0;
  // Read appends up to `max` bytes to `out`; returns the number of bytes
  // read, 0 at end of file, or Internal on a read error.
  [[nodiscard]] virtual absl::StatusOr<size_t> Read(size_t max, std::string* out) = 0;
};

// ProcessInfo reads facts about processes. Implementations are thread-safe.
class ProcessInfo {
 public:
  virtual ~ProcessInfo() = default;
  // Ids returns the ids of `pid`; NotFound when the process does not exist.
  [[nodiscard]] virtual absl::StatusOr<ProcessIds> Ids(pid_t pid) = 0;
  // ExePath returns the executable path (readlink of /proc/<pid>/exe).
  [[nodiscard]] virtual absl::StatusOr<std::string> ExePath(pid_t pid) = 0;
  // OpenExe opens the executable through /proc/<pid>/exe (so it works across
  // mount namespaces). NotFound/PermissionDenied/Internal on failure.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<ExecutableFile>> OpenExe(pid_t pid) = 0;
  // UserName / GroupName resolve ids to names; nullopt when unknown.
  virtual std::optional<std::string> UserName(uint32_t uid) = 0;
  virtual std::optional<std::string> GroupName(uint32_t gid) = 0;
};

// NewLinuxProcessInfo returns the ProcessInfo that reads /proc and the user
// and group databases (getpwuid_r/getgrgid_r). `proc_root` is normally
// "/proc".
std::unique_ptr<ProcessInfo> NewLinuxProcessInfo(const std::string& proc_root = "/proc");

// ParseProcStatusIds parses the Uid/Gid/Groups lines of a /proc/<pid>/status
// text. InvalidArgument when Uid or Gid is missing or malformed.
[[nodiscard]] absl::StatusOr<ProcessIds> ParseProcStatusIds(absl::string_view status);

// ReadProcFile reads a small /proc file (at most `cap` - 1 bytes) into `buf`
// with one open() and as few read() calls as the kernel allows (no
// iostreams), returning the bytes read. NotFound / PermissionDenied /
// Internal (errno) on failure; Internal when the file does not fit.
[[nodiscard]] absl::StatusOr<absl::string_view> ReadProcFile(const char* path, char* buf,
                                                             size_t cap);

}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_PROCESS_INFO_H_
