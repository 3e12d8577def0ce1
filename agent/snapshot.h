// The agent's view of its identities, as handed to the Workload API: an
// immutable snapshot replaced as a whole on every change.
#ifndef SIGNET_AGENT_SNAPSHOT_H_
#define SIGNET_AGENT_SNAPSHOT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
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

// SelectorSet is an entry's selectors: an immutable list that entries with
// the same selectors share instead of each holding a copy (the agent interns
// them). Reads as a const std::vector<attestors::Selector>.
class SelectorSet {
 public:
  using List = std::vector<attestors::Selector>;

  SelectorSet() = default;
  // Implicit, so that an entry's selectors may be set from a vector.
  SelectorSet(List selectors)  // NOLINT(google-explicit-constructor)
      : list_(selectors.empty() ? nullptr : std::make_shared<const List>(std::move(selectors))) {}

  const List& get() const { return list_ ? *list_ : Empty(); }
  operator const List&() const { return get(); }  // NOLINT(google-explicit-constructor)
  List::const_iterator begin() const { return get().begin(); }
  List::const_iterator end() const { return get().end(); }
  size_t size() const { return get().size(); }
  bool empty() const { return get().empty(); }
  const attestors::Selector& operator[](size_t i) const { return get()[i]; }
  bool operator==(const SelectorSet& o) const { return list_ == o.list_ || get() == o.get(); }
  bool operator!=(const SelectorSet& o) const { return !(*this == o); }
  // SharesWith reports whether both sets use the same storage.
  bool SharesWith(const SelectorSet& o) const { return list_ != nullptr && list_ == o.list_; }

 private:
  static const List& Empty() {
    static const List* empty = new List();
    return *empty;
  }
  std::shared_ptr<const List> list_;
};

// WorkloadEntry is a registration entry the agent may serve to workloads.
// The agent creates each one once and shares it, immutable, between its
// entry store and every snapshot (a new SVID makes a new WorkloadEntry).
struct WorkloadEntry {
  std::string id;
  std::string spiffe_id;
  std::string hint;
  SelectorSet selectors;
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
