#include "agent/entry_store.h"

#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace signet::agent {
namespace {

// SelectorInterner hands out one shared SelectorSet per distinct list of
// selectors (same selectors in the same order), so that entries with the
// same selectors hold one copy between them.
class SelectorInterner {
 public:
  void Add(const SelectorSet& s) {
    if (!s.empty()) sets_.insert(s);
  }
  SelectorSet Intern(SelectorSet::List list) {
    auto it = sets_.find(list);
    if (it != sets_.end()) return *it;
    SelectorSet s(std::move(list));
    Add(s);
    return s;
  }

 private:
  static const SelectorSet::List& AsList(const SelectorSet& s) { return s.get(); }
  static const SelectorSet::List& AsList(const SelectorSet::List& l) { return l; }
  struct Hash {
    using is_transparent = void;
    template <typename T>
    size_t operator()(const T& v) const {
      size_t h = 0;
      for (const attestors::Selector& s : AsList(v)) {
        h = h * 1000003 ^ std::hash<std::string>()(s.type);
        h = h * 1000003 ^ std::hash<std::string>()(s.value);
      }
      return h;
    }
  };
  struct Eq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return AsList(a) == AsList(b);
    }
  };
  absl::flat_hash_set<SelectorSet, Hash, Eq> sets_;
};

bool SameSelectors(const WorkloadEntry& w, const signet::types::RegistrationEntry& e) {
  if (w.selectors.size() != static_cast<size_t>(e.selectors_size())) return false;
  for (int i = 0; i < e.selectors_size(); ++i) {
    const attestors::Selector& s = w.selectors[static_cast<size_t>(i)];
    if (s.type != e.selectors(i).type() || s.value != e.selectors(i).value()) return false;
  }
  return true;
}

bool SameStrings(const std::vector<std::string>& a,
                 const google::protobuf::RepeatedPtrField<std::string>& b) {
  return a.size() == static_cast<size_t>(b.size()) && std::equal(a.begin(), a.end(), b.begin());
}

std::shared_ptr<WorkloadEntry> Convert(const signet::types::RegistrationEntry& e,
                                       SelectorInterner* interner) {
  auto w = std::make_shared<WorkloadEntry>();
  w->id = e.id();
  w->spiffe_id = e.spiffe_id();
  w->hint = e.hint();
  SelectorSet::List selectors;
  selectors.reserve(static_cast<size_t>(e.selectors_size()));
  for (const signet::types::Selector& s : e.selectors()) {
    selectors.push_back({s.type(), s.value()});
  }
  w->selectors = interner->Intern(std::move(selectors));
  w->federates_with.assign(e.federates_with().begin(), e.federates_with().end());
  return w;
}

}  // namespace

const EntryStore::Slot* EntryStore::Lookup(const std::vector<Slot>& slots, absl::string_view id) {
  auto it = std::lower_bound(
      slots.begin(), slots.end(), id,
      [](const Slot& s, absl::string_view k) { return absl::string_view(s.entry->id) < k; });
  if (it == slots.end() || it->entry->id != id) return nullptr;
  return &*it;
}

bool EntryStore::Apply(
    const google::protobuf::RepeatedPtrField<signet::types::RegistrationEntry>& entries) {
  std::vector<const signet::types::RegistrationEntry*> in;
  in.reserve(static_cast<size_t>(entries.size()));
  for (const signet::types::RegistrationEntry& e : entries) {
    if (e.node() || e.selectors_size() == 0) continue;  // never served
    in.push_back(&e);
  }
  std::stable_sort(in.begin(), in.end(),
                   [](const auto* a, const auto* b) { return a->id() < b->id(); });
  // Selector lists are shared with the entries kept so far and between the
  // new ones.
  SelectorInterner interner;
  for (const Slot& s : slots_) interner.Add(s.entry->selectors);
  bool changed = false;
  std::vector<Slot> next;
  next.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    // The last of entries with the same id wins.
    if (i + 1 < in.size() && in[i + 1]->id() == in[i]->id()) continue;
    const signet::types::RegistrationEntry& e = *in[i];
    const Slot* old = Lookup(slots_, e.id());
    Slot s;
    s.revision = e.revision_number();
    s.expiry = e.entry_expiry();
    std::shared_ptr<const X509SvidMaterial> svid;
    if (old != nullptr) {
      s.retry_at = old->retry_at;
      if (old->expiry != s.expiry) changed = true;
      if (old->entry->spiffe_id == e.spiffe_id()) {
        // Still the same identity: its SVID is served until the SVID of a
        // new revision is minted.
        svid = old->entry->svid;
        s.svid_revision = old->svid_revision;
        s.rotate_at = old->rotate_at;
        if (old->entry->hint == e.hint() && SameSelectors(*old->entry, e) &&
            SameStrings(old->entry->federates_with, e.federates_with())) {
          s.entry = old->entry;  // what the Workload API serves is unchanged
          next.push_back(std::move(s));
          continue;
        }
      }
    }
    changed = true;
    std::shared_ptr<WorkloadEntry> w = Convert(e, &interner);
    w->svid = std::move(svid);
    s.entry = std::move(w);
    next.push_back(std::move(s));
  }
  if (next.size() != slots_.size()) changed = true;
  slots_ = std::move(next);
  return changed;
}

std::vector<std::string> EntryStore::Due(absl::Time now) const {
  std::vector<std::string> due;
  for (const Slot& s : slots_) {
    if (!ServableAt(s, now) || s.retry_at > now) continue;
    if (!s.entry->svid || s.svid_revision != s.revision || now >= s.rotate_at) {
      due.push_back(s.entry->id);
    }
  }
  return due;
}

bool EntryStore::SetSvid(absl::string_view id, std::shared_ptr<const X509SvidMaterial> svid,
                         absl::Time rotate_at) {
  Slot* s = Lookup(id);
  if (s == nullptr) return false;
  // Entries are immutable once shared: a new SVID is a new WorkloadEntry
  // (snapshots still holding the old one keep serving it).
  auto w = std::make_shared<WorkloadEntry>(*s->entry);
  w->svid = std::move(svid);
  s->entry = std::move(w);
  s->svid_revision = s->revision;
  s->rotate_at = rotate_at;
  s->retry_at = absl::InfinitePast();
  return true;
}

void EntryStore::SetRetry(absl::string_view id, absl::Time at) {
  if (Slot* s = Lookup(id)) s->retry_at = at;
}

std::shared_ptr<const WorkloadEntry> EntryStore::Find(absl::string_view id) const {
  const Slot* s = Lookup(slots_, id);
  return s != nullptr ? s->entry : nullptr;
}

absl::Time EntryStore::NextWake(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  for (const Slot& s : slots_) {
    if (s.retry_at > now) {
      next = std::min(next, s.retry_at);
    } else if (s.entry->svid && ServableAt(s, now)) {
      next = std::min(next, s.rotate_at);
    }
  }
  return next;
}

std::vector<std::shared_ptr<const WorkloadEntry>> EntryStore::Servable(absl::Time now) {
  std::vector<std::shared_ptr<const WorkloadEntry>> out;
  out.reserve(slots_.size());
  for (Slot& s : slots_) {
    if (!ServableAt(s, now)) continue;
    if (s.entry->svid && s.entry->svid->not_after <= now) {
      auto w = std::make_shared<WorkloadEntry>(*s.entry);
      w->svid = nullptr;
      s.entry = std::move(w);
      s.svid_revision = -1;
      s.rotate_at = absl::InfiniteFuture();
    }
    out.push_back(s.entry);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a->spiffe_id, a->id) < std::tie(b->spiffe_id, b->id);
  });
  return out;
}

}  // namespace signet::agent
