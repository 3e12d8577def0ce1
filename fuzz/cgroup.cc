// Fuzzes /proc/<pid>/cgroup and mountinfo parsing and container/pod id
// extraction. The first byte splits the input into cgroup and mountinfo text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "attestors/cgroup/container_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  size_t split = in.find('\0');
  absl::string_view cgroup = in.substr(0, split);
  absl::string_view mountinfo = split == absl::string_view::npos ? "" : in.substr(split + 1);
  auto entries = signet::attestors::ParseProcCgroup(cgroup);
  if (entries.ok()) {
    for (const auto& e : *entries) (void)signet::attestors::ContainerInfoFromCgroupPath(e.path);
  }
  (void)signet::attestors::ParseMountInfoCgroupRoots(mountinfo);
  (void)signet::attestors::ContainerInfoFromProcFiles(cgroup, mountinfo);
  return 0;
}
