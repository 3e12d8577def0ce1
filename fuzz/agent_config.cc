// Fuzzes the agent config loader. LoadAgentConfig only takes a path, so the
// input is written to a per-process temp file first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "agent/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/signet-fuzz-agent-" + std::to_string(getpid()) + ".yaml";
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  (void)signet::agent::LoadAgentConfig(path, "");
  return 0;
}
