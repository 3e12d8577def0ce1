#include "common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace signet {
namespace {

// Fd closes the descriptor it holds.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  // Close closes the descriptor now; false (errno set) when close fails.
  bool Close() {
    int fd = fd_;
    fd_ = -1;
    return close(fd) == 0;
  }

 private:
  int fd_;
};

absl::Status Failed(absl::string_view what, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

// WriteAll writes `data` to `fd`; false (errno set) on failure.
bool WriteAll(int fd, absl::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string tmp_name = name + ".tmp";
  const std::string tmp = path + ".tmp";

  Fd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create temporary file in ", dir, ": ", std::strerror(errno)));
  }
  // A leftover of an interrupted write, or a link planted in its place, is
  // removed rather than opened (a directory there makes the open fail).
  (void)unlinkat(dir_fd.get(), tmp_name.c_str(), 0);
  Fd fd(openat(dir_fd.get(), tmp_name.c_str(),
               O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) return Failed("open", tmp, errno);
  auto fail = [&](absl::string_view what, const std::string& file) {
    absl::Status st = Failed(what, file, errno);
    (void)unlinkat(dir_fd.get(), tmp_name.c_str(), 0);
    return st;
  };
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return fail("stat", tmp);
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid()) {
    // Created by someone else between the unlink and the open: not ours to
    // write into (nor to remove).
    return absl::InternalError(absl::StrCat(
        "open ", tmp, ": not a new regular file of this user; refusing to write into it"));
  }
  if (fchmod(fd.get(), mode) != 0) return fail("chmod", tmp);
  if (!WriteAll(fd.get(), data)) return fail("write", tmp);
  if (fsync(fd.get()) != 0) return fail("fsync", tmp);
  if (!fd.Close()) return fail("close", tmp);
  if (renameat(dir_fd.get(), tmp_name.c_str(), dir_fd.get(), name.c_str()) != 0) {
    return fail("rename onto", path);
  }
  // Makes the rename durable; the file is in place whatever this returns.
  (void)fsync(dir_fd.get());
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadOpenFile(int fd, const std::string& path, size_t max_bytes) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot read file: ", std::strerror(errno)));
    }
    if (n == 0) return out;
    if (static_cast<size_t>(n) > max_bytes - out.size()) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": file is larger than ", max_bytes, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t max_bytes) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read file: ", std::strerror(errno)));
  }
  return ReadOpenFile(fd.get(), path, max_bytes);
}

}  // namespace signet
