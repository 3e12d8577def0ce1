// CgroupSandbox: a real cgroup (nested directories under a writable cgroup
// hierarchy of this machine) into which a test moves a real process, so the
// container attestors can be exercised end to end. Header-only.
#ifndef SIGNET_TEST_FAKES_CGROUP_SANDBOX_H_
#define SIGNET_TEST_FAKES_CGROUP_SANDBOX_H_

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace signet::testfakes {

class CgroupSandbox {
 public:
  // Create makes the directories of `rel` ("a.slice/docker-<id>.scope") under
  // the cgroup2 mount of this machine (or a cgroup v1 hierarchy when there is
  // none). Returns nullptr and the exact reason in `why` when it cannot.
  static std::unique_ptr<CgroupSandbox> Create(const std::string& rel, std::string* why) {
    std::string mount = FindCgroupMount(why);
    if (mount.empty()) return nullptr;
    std::unique_ptr<CgroupSandbox> s(new CgroupSandbox());
    std::string path = mount;
    for (absl::string_view seg : absl::StrSplit(rel, '/', absl::SkipEmpty())) {
      path = absl::StrCat(path, "/", seg);
      if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
        *why = absl::StrCat("mkdir ", path, ": ", strerror(errno));
        return nullptr;
      }
      s->dirs_.push_back(path);
    }
    return s;
  }

  ~CgroupSandbox() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      // A just-reaped process can keep the cgroup busy for a moment.
      for (int i = 0; i < 100 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++i) {
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
  }

  const std::string& leaf() const { return dirs_.back(); }

  // Move writes `pid` to the leaf's cgroup.procs; false with `why` on failure.
  bool Move(pid_t pid, std::string* why) {
    std::string procs = leaf() + "/cgroup.procs";
    std::ofstream f(procs);
    f << pid << "\n";
    f.flush();
    if (!f) {
      *why = absl::StrCat("write ", procs, ": ", strerror(errno));
      return false;
    }
    return true;
  }

 private:
  CgroupSandbox() = default;

  // FindCgroupMount returns the mount point of the cgroup2 hierarchy, else of
  // the v1 "pids" (or any) hierarchy, from /proc/self/mountinfo.
  static std::string FindCgroupMount(std::string* why) {
    std::ifstream f("/proc/self/mountinfo");
    std::string line, v2, v1_pids, v1_any;
    while (std::getline(f, line)) {
      std::vector<std::string> fl = absl::StrSplit(line, ' ');
      size_t sep = 0;
      while (sep < fl.size() && fl[sep] != "-") ++sep;
      if (sep < 6 || sep + 3 > fl.size()) continue;
      const std::string& type = fl[sep + 1];
      const std::string& opts = fl[sep + 3 < fl.size() ? sep + 3 : sep + 2];
      if (fl[5].rfind("ro", 0) == 0 && (fl[5].size() == 2 || fl[5][2] == ',')) continue;
      if (type == "cgroup2" && v2.empty()) v2 = fl[4];
      if (type == "cgroup" && v1_any.empty()) v1_any = fl[4];
      if (type == "cgroup" && opts.find("pids") != std::string::npos && v1_pids.empty()) {
        v1_pids = fl[4];
      }
    }
    if (!v2.empty()) return v2;
    if (!v1_pids.empty()) return v1_pids;
    if (!v1_any.empty()) return v1_any;
    *why = "no read-write cgroup or cgroup2 mount in /proc/self/mountinfo";
    return "";
  }

  std::vector<std::string> dirs_;
};

}  // namespace signet::testfakes

#endif  // SIGNET_TEST_FAKES_CGROUP_SANDBOX_H_
