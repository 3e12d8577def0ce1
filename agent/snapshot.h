// The agent's view of its identities, as handed to the Workload API: an
// immutable snapshot replaced as a whole on every change.
#ifndef SIGNET_AGENT_SNAPSHOT_H_
#define SIGNET_AGENT_SNAPSHOT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "attestors/workload_attestor.h"
#include "common/bundle.h"

namespace signet::agent {

// X509SvidMaterial is one minted X.509-SVID in Workload API form.
struct X509SvidMaterial {
  std::string chain_der;  // concatenated DER, leaf first
  std::string key_der;    // PKCS#8 DER; never logged
  absl::Time not_before;
  absl::Time not_after;
};

// WorkloadEntry is a registration entry the agent may serve to workloads.
// The agent creates each one once and shares it, immutable, between its
// entry store and every snapshot (a new SVID makes a new WorkloadEntry).
struct WorkloadEntry {
  std::string id;
  std::string spiffe_id;
  std::string hint;
  std::vector<attestors::Selector> selectors;
  std::vector<std::string> federates_with;
  // The current SVID, or null while it has not been minted yet.
  std::shared_ptr<const X509SvidMaterial> svid;
};

// AgentSnapshot is everything the Workload API serves. Immutable.
struct AgentSnapshot {
  uint64_t version = 0;
  // ready: attested, with a trust bundle and a first entry sync applied.
  bool ready = false;
  std::optional<Bundle> bundle;             // own trust domain
  std::map<std::string, Bundle> federated;  // trust domain name -> bundle
  // Sorted by spiffe_id, then id; never null. Shared with the agent's entry
  // store and other snapshots: a snapshot costs a pointer per entry.
  std::vector<std::shared_ptr<const WorkloadEntry>> entries;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_SNAPSHOT_H_
