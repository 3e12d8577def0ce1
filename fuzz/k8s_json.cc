// Fuzzes kubelet /pods JSON parsing and the pod/container lookup.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attestors/http/json.h"
#include "attestors/k8s/k8s_attestor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<google::protobuf::Struct> list = signet::attestors::ParseJsonObject(body);
  if (!list.ok()) return 0;
  const char* cid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  std::vector<signet::attestors::Selector> out;
  (void)signet::attestors::K8sSelectorsFromPodList(*list, "", cid, &out);
  out.clear();
  (void)signet::attestors::K8sSelectorsFromPodList(*list, "11111111-2222-3333-4444-555555555555",
                                                   cid, &out);
  return 0;
}
