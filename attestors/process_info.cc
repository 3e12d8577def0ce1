#include "attestors/process_info.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace signet::attestors {
namespace {

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOENT || err == ESRCH) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<std::vector<uint32_t>> ParseIdList(absl::string_view s) {
  std::vector<uint32_t> out;
  for (absl::string_view f : absl::StrSplit(s, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    uint32_t v;
    if (!absl::SimpleAtoi(f, &v)) return absl::InvalidArgumentError(absl::StrCat("bad id ", f));
    out.push_back(v);
  }
  return out;
}

class LinuxExecutableFile : public ExecutableFile {
 public:
  LinuxExecutableFile(int fd, FileIdentity id) : fd_(fd), id_(id) {}
  ~LinuxExecutableFile() override { close(fd_); }
  LinuxExecutableFile(const LinuxExecutableFile&) = delete;
  LinuxExecutableFile& operator=(const LinuxExecutableFile&) = delete;

  const FileIdentity& identity() const override { return id_; }
  absl::StatusOr<size_t> Read(size_t max, std::string* out) override {
    size_t old = out->size();
    out->resize(old + max);
    ssize_t n;
    do {
      n = read(fd_, out->data() + old, max);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int err = errno;
      out->resize(old);
      return ErrnoStatus(err, "read executable");
    }
    out->resize(old + n);
    return static_cast<size_t>(n);
  }

 private:
  const int fd_;
  const FileIdentity id_;
};

class LinuxProcessInfo : public ProcessInfo {
 public:
  explicit LinuxProcessInfo(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<ProcessIds> Ids(pid_t pid) override {
    std::string path = absl::StrCat(root_, "/", pid, "/status");
    char buf[16384];
    absl::StatusOr<absl::string_view> text = ReadProcFile(path.c_str(), buf, sizeof(buf));
    if (!text.ok()) return text.status();
    return ParseProcStatusIds(*text);
  }

  absl::StatusOr<std::string> ExePath(pid_t pid) override {
    std::string path = absl::StrCat(root_, "/", pid, "/exe");
    std::string buf(4096, '\0');
    ssize_t n = readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return ErrnoStatus(errno, absl::StrCat("readlink ", path));
    buf.resize(n);
    return buf;
  }

  absl::StatusOr<std::unique_ptr<ExecutableFile>> OpenExe(pid_t pid) override {
    std::string path = absl::StrCat(root_, "/", pid, "/exe");
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      return ErrnoStatus(err, absl::StrCat("fstat ", path));
    }
    FileIdentity id;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtime_sec = st.st_mtim.tv_sec;
    id.mtime_nsec = st.st_mtim.tv_nsec;
    id.ctime_sec = st.st_ctim.tv_sec;
    id.ctime_nsec = st.st_ctim.tv_nsec;
    return std::unique_ptr<ExecutableFile>(new LinuxExecutableFile(fd, id));
  }

  std::optional<std::string> UserName(uint32_t uid) override {
    std::vector<char> buf(16384);
    struct passwd pw, *res = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || res == nullptr) {
      return std::nullopt;
    }
    return std::string(res->pw_name);
  }

  std::optional<std::string> GroupName(uint32_t gid) override {
    std::vector<char> buf(65536);
    struct group gr, *res = nullptr;
    if (getgrgid_r(gid, &gr, buf.data(), buf.size(), &res) != 0 || res == nullptr) {
      return std::nullopt;
    }
    return std::string(res->gr_name);
  }

 private:
  const std::string root_;
};

}  // namespace

absl::StatusOr<ProcessIds> ParseProcStatusIds(absl::string_view status) {
  ProcessIds ids;
  bool have_uid = false, have_gid = false;
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "Uid:")) {
      auto v = ParseIdList(rest);
      if (!v.ok() || v->empty()) return absl::InvalidArgumentError("malformed Uid line");
      ids.uids = *v;
      have_uid = true;
    } else if (absl::ConsumePrefix(&rest, "Gid:")) {
      auto v = ParseIdList(rest);
      if (!v.ok() || v->empty()) return absl::InvalidArgumentError("malformed Gid line");
      ids.gids = *v;
      have_gid = true;
    } else if (absl::ConsumePrefix(&rest, "Groups:")) {
      auto v = ParseIdList(rest);
      if (!v.ok()) return absl::InvalidArgumentError("malformed Groups line");
      ids.groups = *v;
    }
  }
  if (!have_uid) return absl::InvalidArgumentError("no Uid line in process status");
  if (!have_gid) return absl::InvalidArgumentError("no Gid line in process status");
  return ids;
}

absl::StatusOr<absl::string_view> ReadProcFile(const char* path, char* buf, size_t cap) {
  int fd;
  do {
    fd = open(path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  size_t len = 0;
  for (;;) {
    if (len + 1 >= cap) {
      close(fd);
      return absl::InternalError(absl::StrCat(path, " is too large"));
    }
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return ErrnoStatus(err, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  return absl::string_view(buf, len);
}

std::unique_ptr<ProcessInfo> NewLinuxProcessInfo(const std::string& proc_root) {
  return std::make_unique<LinuxProcessInfo>(proc_root);
}

}  // namespace signet::attestors
