#include "server/datastore/memory_datastore.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/keys.h"

namespace signet::server {
namespace {

using signet::types::AttestedAgent;
using signet::types::JoinToken;
using signet::types::RegistrationEntry;
using signet::types::Selector;

std::string SelectorKey(const Selector& s) { return s.type() + ":" + s.value(); }

std::set<std::string> SelectorSet(const google::protobuf::RepeatedPtrField<Selector>& sels) {
  std::set<std::string> out;
  for (const Selector& s : sels) out.insert(SelectorKey(s));
  return out;
}

std::string EntryIdentity(const RegistrationEntry& e) {
  std::string k = e.spiffe_id() + "\n" + e.parent_id();
  for (const std::string& s : SelectorSet(e.selectors())) k += "\n" + s;
  return k;
}

class MemoryDatastore : public Datastore {
 public:
  absl::StatusOr<RegistrationEntry> CreateEntry(const RegistrationEntry& entry) override {
    absl::MutexLock l(&mu_);
    std::string ident = EntryIdentity(entry);
    for (const auto& [id, e] : entries_) {
      if (EntryIdentity(e) == ident) return absl::AlreadyExistsError("entry already exists");
    }
    RegistrationEntry e = entry;
    if (e.id().empty()) {
      absl::StatusOr<std::string> r = RandomBytes(16);
      if (!r.ok()) return r.status();
      std::string h = HexEncode(*r);
      e.set_id(absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                            h.substr(16, 4), "-", h.substr(20, 12)));
    }
    if (entries_.count(e.id())) return absl::AlreadyExistsError("entry id already exists");
    e.set_created_at(absl::ToUnixSeconds(absl::Now()));
    e.set_revision_number(0);
    entries_[e.id()] = e;
    ++revision_;
    return e;
  }
  absl::StatusOr<RegistrationEntry> GetEntry(const std::string& id) override {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return absl::NotFoundError("entry not found");
    return it->second;
  }
  absl::StatusOr<RegistrationEntry> UpdateEntry(const RegistrationEntry& entry) override {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(entry.id());
    if (it == entries_.end()) return absl::NotFoundError("entry not found");
    std::string ident = EntryIdentity(entry);
    for (const auto& [id, e] : entries_) {
      if (id != entry.id() && EntryIdentity(e) == ident) {
        return absl::AlreadyExistsError("entry already exists");
      }
    }
    RegistrationEntry e = entry;
    e.set_created_at(it->second.created_at());
    e.set_revision_number(it->second.revision_number() + 1);
    it->second = e;
    ++revision_;
    return e;
  }
  absl::StatusOr<RegistrationEntry> DeleteEntry(const std::string& id) override {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return absl::NotFoundError("entry not found");
    RegistrationEntry e = std::move(it->second);
    entries_.erase(it);
    ++revision_;
    return e;
  }
  absl::StatusOr<EntryPage> ListEntries(const ListEntriesFilter& f) override {
    absl::MutexLock l(&mu_);
    EntryPage page;
    auto it = f.page_token.empty() ? entries_.begin() : entries_.upper_bound(f.page_token);
    for (; it != entries_.end(); ++it) {
      const RegistrationEntry& e = it->second;
      if (f.spiffe_id && e.spiffe_id() != *f.spiffe_id) continue;
      if (f.parent_id && e.parent_id() != *f.parent_id) continue;
      if (!f.selectors.empty() && !SelectorsMatch(e.selectors(), f.selectors, f.match)) continue;
      if (f.page_size > 0 && static_cast<int32_t>(page.entries.size()) == f.page_size) {
        page.next_page_token = page.entries.back().id();
        break;
      }
      page.entries.push_back(e);
    }
    return page;
  }
  absl::StatusOr<int64_t> CountEntries() override {
    absl::MutexLock l(&mu_);
    return static_cast<int64_t>(entries_.size());
  }
  absl::StatusOr<std::vector<RegistrationEntry>> ListEntriesByParents(
      const std::vector<std::string>& parents) override {
    absl::MutexLock l(&mu_);
    std::set<std::string> ps(parents.begin(), parents.end());
    std::vector<RegistrationEntry> out;
    for (const auto& [id, e] : entries_) {
      if (ps.count(e.parent_id())) out.push_back(e);
    }
    return out;
  }

  absl::Status CreateAttestedAgent(const AttestedAgent& a) override {
    absl::MutexLock l(&mu_);
    if (agents_.count(a.spiffe_id())) return absl::AlreadyExistsError("agent already exists");
    agents_[a.spiffe_id()] = a;
    ++revision_;
    return absl::OkStatus();
  }
  absl::StatusOr<AttestedAgent> GetAttestedAgent(const std::string& id) override {
    absl::MutexLock l(&mu_);
    auto it = agents_.find(id);
    if (it == agents_.end()) return absl::NotFoundError("agent not found");
    return it->second;
  }
  absl::Status UpdateAttestedAgent(const AttestedAgent& a) override {
    absl::MutexLock l(&mu_);
    auto it = agents_.find(a.spiffe_id());
    if (it == agents_.end()) return absl::NotFoundError("agent not found");
    it->second = a;
    ++revision_;
    return absl::OkStatus();
  }
  absl::Status DeleteAttestedAgent(const std::string& id) override {
    absl::MutexLock l(&mu_);
    if (agents_.erase(id) == 0) return absl::NotFoundError("agent not found");
    ++revision_;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<AttestedAgent>> ListAttestedAgents(int32_t page_size,
                                                                const std::string& page_token,
                                                                std::string* next) override {
    absl::MutexLock l(&mu_);
    std::vector<AttestedAgent> out;
    if (next) next->clear();
    auto it = page_token.empty() ? agents_.begin() : agents_.upper_bound(page_token);
    for (; it != agents_.end(); ++it) {
      if (page_size > 0 && static_cast<int32_t>(out.size()) == page_size) {
        if (next) *next = out.back().spiffe_id();
        break;
      }
      out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<int64_t> CountAttestedAgents() override {
    absl::MutexLock l(&mu_);
    return static_cast<int64_t>(agents_.size());
  }

  absl::Status CreateJoinToken(const JoinToken& t) override {
    absl::MutexLock l(&mu_);
    if (tokens_.count(t.token())) return absl::AlreadyExistsError("join token already exists");
    tokens_[t.token()] = t;
    return absl::OkStatus();
  }
  absl::StatusOr<JoinToken> ConsumeJoinToken(const std::string& token, absl::Time now) override {
    absl::MutexLock l(&mu_);
    auto it = tokens_.find(token);
    if (it == tokens_.end()) return absl::NotFoundError("join token does not exist");
    JoinToken t = it->second;
    tokens_.erase(it);
    if (absl::FromUnixSeconds(t.expires_at()) <= now) {
      return JoinTokenExpiredError();
    }
    return t;
  }

  absl::Status SetBundle(const signet::types::Bundle& b) override {
    absl::MutexLock l(&mu_);
    bundles_[b.trust_domain()] = b;
    ++revision_;
    return absl::OkStatus();
  }
  absl::StatusOr<signet::types::Bundle> GetBundle(const std::string& td) override {
    absl::MutexLock l(&mu_);
    auto it = bundles_.find(td);
    if (it == bundles_.end()) return absl::NotFoundError("bundle not found");
    return it->second;
  }
  absl::StatusOr<std::vector<signet::types::Bundle>> ListBundles() override {
    absl::MutexLock l(&mu_);
    std::vector<signet::types::Bundle> out;
    for (const auto& [td, b] : bundles_) out.push_back(b);
    return out;
  }

  absl::Status PutCaRecord(const CaRecord& r) override {
    absl::MutexLock l(&mu_);
    ca_[r.name] = r.data;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<CaRecord>> ListCaRecords() override {
    absl::MutexLock l(&mu_);
    std::vector<CaRecord> out;
    for (const auto& [n, d] : ca_) out.push_back({n, d});
    return out;
  }
  absl::StatusOr<int64_t> Revision() override {
    absl::MutexLock l(&mu_);
    return revision_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, RegistrationEntry> entries_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, AttestedAgent> agents_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, JoinToken> tokens_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, signet::types::Bundle> bundles_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> ca_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

bool SelectorsMatch(const google::protobuf::RepeatedPtrField<Selector>& entry,
                    const std::vector<Selector>& query, const std::string& match) {
  std::set<std::string> es = SelectorSet(entry);
  std::set<std::string> qs;
  for (const Selector& s : query) qs.insert(SelectorKey(s));
  if (match == "exact") return es == qs;
  if (match == "subset") return std::includes(qs.begin(), qs.end(), es.begin(), es.end());
  if (match == "any") {
    for (const std::string& s : qs) {
      if (es.count(s)) return true;
    }
    return false;
  }
  // superset (default)
  return std::includes(es.begin(), es.end(), qs.begin(), qs.end());
}

std::unique_ptr<Datastore> NewMemoryDatastore() { return std::make_unique<MemoryDatastore>(); }

}  // namespace signet::server
