#include "attestors/cgroup/container_info.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace signet::attestors {
namespace {

constexpr size_t kContainerIdLen = 64;
// /proc/<pid>/mountinfo of a busy node can be large; refuse beyond this.
constexpr size_t kMaxProcFileBytes = size_t{4} << 20;

// IsWord matches Go's/RE2's \w: [0-9A-Za-z_].
bool IsWord(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsHex(char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); }

// HexRun returns how many hex digits start at s[i].
size_t HexRun(absl::string_view s, size_t i) {
  size_t n = 0;
  while (i + n < s.size() && IsHex(s[i + n])) ++n;
  return n;
}

// FindContainerId returns the offset of the leftmost run of exactly 64 hex
// digits bounded by non-word characters, or npos.
size_t FindContainerId(absl::string_view seg) {
  for (size_t i = 0; i < seg.size(); ++i) {
    if (i > 0 && IsWord(seg[i - 1])) continue;
    size_t run = HexRun(seg, i);
    if (run != kContainerIdLen) continue;
    if (i + run < seg.size() && IsWord(seg[i + run])) continue;
    return i;
  }
  return absl::string_view::npos;
}

// MatchPodUid matches, at seg[i], a UUID with '-'/'_' separators or 32 hex
// digits, followed by a word boundary; returns the match or "".
absl::string_view MatchPodUid(absl::string_view seg, size_t i) {
  static constexpr size_t kGroups[] = {8, 4, 4, 4, 12};
  size_t p = i;
  bool uuid = true;
  for (size_t g = 0; g < 5 && uuid; ++g) {
    if (g > 0) {
      if (p < seg.size() && (seg[p] == '-' || seg[p] == '_')) {
        ++p;
      } else {
        uuid = false;
        break;
      }
    }
    if (HexRun(seg, p) < kGroups[g]) {
      uuid = false;
      break;
    }
    p += kGroups[g];
  }
  if (!uuid) {
    // Static pods: the kubelet's 32-hex config hash.
    if (HexRun(seg, i) != 32) return "";
    p = i + 32;
  }
  if (p < seg.size() && IsWord(seg[p])) return "";
  return seg.substr(i, p - i);
}

// FindPodUid returns the (raw) pod UID of the leftmost word-bounded "pod<uid>".
absl::string_view FindPodUid(absl::string_view seg) {
  for (size_t i = seg.find("pod"); i != absl::string_view::npos; i = seg.find("pod", i + 1)) {
    if (i > 0 && IsWord(seg[i - 1])) continue;
    absl::string_view m = MatchPodUid(seg, i + 3);
    if (!m.empty()) return m;
  }
  return "";
}

// UnescapeMountField decodes the kernel's octal escapes (\040 for a space).
std::string UnescapeMountField(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      absl::string_view d = s.substr(i + 1, 3);
      if (d.size() == 3 && d[0] >= '0' && d[0] <= '3' && d[1] >= '0' && d[1] <= '7' &&
          d[2] >= '0' && d[2] <= '7') {
        out.push_back(static_cast<char>((d[0] - '0') * 64 + (d[1] - '0') * 8 + (d[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// ReadProcFile reads a whole /proc file. NotFound when it (or the process)
// does not exist, Internal on other failures or beyond kMaxProcFileBytes.
absl::StatusOr<std::string> ReadProcFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ESRCH) return absl::NotFoundError(absl::StrCat(path, ": not found"));
    return absl::InternalError(absl::StrCat("open ", path, ": ", strerror(e)));
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      if (e == ESRCH) return absl::NotFoundError(absl::StrCat(path, ": process exited"));
      return absl::InternalError(absl::StrCat("read ", path, ": ", strerror(e)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxProcFileBytes) {
      ::close(fd);
      return absl::InternalError(absl::StrCat(path, ": larger than ", kMaxProcFileBytes, " bytes"));
    }
  }
  ::close(fd);
  return out;
}

class ProcContainerLocator : public ContainerLocator {
 public:
  explicit ProcContainerLocator(std::string proc_root) : proc_root_(std::move(proc_root)) {}

  absl::StatusOr<ContainerInfo> Locate(pid_t pid) override {
    const std::string dir = absl::StrCat(proc_root_, "/", pid);
    absl::StatusOr<std::string> cgroup = ReadProcFile(dir + "/cgroup");
    if (!cgroup.ok()) {
      if (absl::IsNotFound(cgroup.status())) {
        return absl::NotFoundError(absl::StrCat("process ", pid, " not found"));
      }
      return cgroup.status();
    }
    ASSIGN_OR_RETURN(std::vector<CgroupEntry> entries, ParseProcCgroup(*cgroup));
    std::vector<std::string> paths;
    for (CgroupEntry& e : entries) paths.push_back(std::move(e.path));
    ASSIGN_OR_RETURN(ContainerInfo info, MergeContainerInfo(paths));
    if (!info.container_id.empty()) return info;
    absl::StatusOr<std::string> mountinfo = ReadProcFile(dir + "/mountinfo");
    if (!mountinfo.ok()) {
      if (absl::IsNotFound(mountinfo.status())) return info;
      return mountinfo.status();
    }
    ASSIGN_OR_RETURN(std::vector<std::string> roots, ParseMountInfoCgroupRoots(*mountinfo));
    return MergeContainerInfo(roots);
  }

 private:
  const std::string proc_root_;
};

}  // namespace

absl::StatusOr<std::vector<CgroupEntry>> ParseProcCgroup(absl::string_view text) {
  std::vector<CgroupEntry> out;
  size_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty()) continue;
    size_t a = line.find(':');
    size_t b = a == absl::string_view::npos ? a : line.find(':', a + 1);
    if (b == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed cgroup line ", line_no, ": \"", line, "\""));
    }
    out.push_back(CgroupEntry{std::string(line.substr(0, a)),
                              std::string(line.substr(a + 1, b - a - 1)),
                              std::string(line.substr(b + 1))});
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ParseMountInfoCgroupRoots(absl::string_view text) {
  std::vector<std::string> roots;
  size_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty()) continue;
    // Split on single spaces: the mount source may be empty.
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    size_t sep = 0;
    while (sep < f.size() && f[sep] != "-") ++sep;
    if (sep == f.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed mountinfo line ", line_no, ": no \" - \" separator"));
    }
    if (sep < 6 || sep + 1 >= f.size() || f[sep + 1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed mountinfo line ", line_no, ": too few fields"));
    }
    if (f[sep + 1] == "cgroup" || f[sep + 1] == "cgroup2") {
      roots.push_back(UnescapeMountField(f[3]));
    }
  }
  return roots;
}

ContainerInfo ContainerInfoFromCgroupPath(absl::string_view path) {
  std::vector<absl::string_view> segs = absl::StrSplit(path, '/', absl::SkipEmpty());
  ContainerInfo info;
  size_t i = segs.size();
  absl::string_view rest;  // what is left of the container's segment
  while (i > 0) {
    --i;
    size_t at = FindContainerId(segs[i]);
    if (at != absl::string_view::npos) {
      info.container_id = std::string(segs[i].substr(at, kContainerIdLen));
      rest = segs[i].substr(0, at);
      break;
    }
  }
  if (info.container_id.empty()) return info;
  absl::string_view pod = FindPodUid(rest);
  while (pod.empty() && i > 0) {
    --i;
    pod = FindPodUid(segs[i]);
  }
  info.pod_uid = std::string(pod);
  for (char& c : info.pod_uid) {
    if (c == '_') c = '-';
  }
  return info;
}

absl::StatusOr<ContainerInfo> MergeContainerInfo(const std::vector<std::string>& paths) {
  ContainerInfo cur;
  for (const std::string& p : paths) {
    ContainerInfo next = ContainerInfoFromCgroupPath(p);
    if (next.container_id.empty()) continue;
    if (!cur.pod_uid.empty() && next.pod_uid.empty()) continue;
    if (cur.pod_uid.empty() && !next.pod_uid.empty()) {
      cur = next;
      continue;
    }
    if (!next.pod_uid.empty() && next.pod_uid != cur.pod_uid) {
      return absl::FailedPreconditionError(
          absl::StrCat("multiple pod UIDs found (\"", cur.pod_uid, "\", \"", next.pod_uid, "\")"));
    }
    if (!cur.container_id.empty() && next.container_id != cur.container_id) {
      return absl::FailedPreconditionError(absl::StrCat("multiple container IDs found (\"",
                                                        cur.container_id, "\", \"",
                                                        next.container_id, "\")"));
    }
    cur = next;
  }
  return cur;
}

absl::StatusOr<ContainerInfo> ContainerInfoFromProcFiles(absl::string_view cgroup_text,
                                                         absl::string_view mountinfo_text) {
  ASSIGN_OR_RETURN(std::vector<CgroupEntry> entries, ParseProcCgroup(cgroup_text));
  std::vector<std::string> paths;
  for (CgroupEntry& e : entries) paths.push_back(std::move(e.path));
  ASSIGN_OR_RETURN(ContainerInfo info, MergeContainerInfo(paths));
  if (!info.container_id.empty() || mountinfo_text.empty()) return info;
  ASSIGN_OR_RETURN(std::vector<std::string> roots, ParseMountInfoCgroupRoots(mountinfo_text));
  return MergeContainerInfo(roots);
}

bool ReadSpireLocatorKeys(ConfigSection& data, absl::string_view plugin) {
  if (!data.Bool("use_new_container_locator", true)) {
    data.Error("use_new_container_locator",
               "false is not supported: Signet has only the cgroup v1/v2 container locator");
  }
  const bool verbose = data.Bool("verbose_container_locator_logs", false);
  if (data.Has("experimental")) {
    ConfigSection exp = data.Section("experimental");
    for (const std::string& k : exp.Keys()) {
      exp.MarkKnown(k);
      exp.Error(k,
                absl::StrCat("is not supported by Signet (no experimental ", plugin, " features)"));
    }
    exp.Finish();
  } else {
    data.MarkKnown("experimental");
  }
  return verbose;
}

std::unique_ptr<ContainerLocator> NewProcContainerLocator(std::string proc_root) {
  return std::make_unique<ProcContainerLocator>(std::move(proc_root));
}

}  // namespace signet::attestors
