// Fuzzes the Docker inspect JSON -> selectors conversion.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attestors/docker/docker_attestor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  (void)signet::attestors::DockerSelectorsFromInspect(
      body, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  return 0;
}
