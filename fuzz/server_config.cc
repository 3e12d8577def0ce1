// Fuzzes the server config loader (YAML text -> validated ServerConfig).
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  (void)signet::server::ParseServerConfigYaml(yaml, "fuzz.yaml");
  return 0;
}
