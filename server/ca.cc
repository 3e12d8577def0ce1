#include "server/ca.h"

#include <algorithm>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/bundle_proto.h"
#include "common/issuance/x509_issuer.h"
#include "common/jwt.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::server {
namespace {

constexpr char kX509Current[] = "x509_ca/current";
constexpr char kX509Next[] = "x509_ca/next";
constexpr char kJwtCurrent[] = "jwt_key/current";
constexpr char kJwtNext[] = "jwt_key/next";

// Record is a tiny "key=value" line format for CA state blobs.
std::map<std::string, std::string> ParseRecord(const std::string& data) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(data, '\n', absl::SkipEmpty())) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    out[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return out;
}

absl::Time ParseUnix(const std::string& s) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return absl::InfinitePast();
  return absl::FromUnixSeconds(v);
}

absl::StatusOr<std::string> RandomHex(size_t n) {
  ASSIGN_OR_RETURN(std::string b, RandomBytes(n));
  return HexEncode(b);
}

}  // namespace

ServerCa::ServerCa(CaOptions opts, Datastore* ds, KeyManager* km, Clock* clock)
    : opts_(std::move(opts)),
      ds_(ds),
      km_(km),
      clock_(clock),
      sign_threads_(opts_.sign_threads > 0
                        ? opts_.sign_threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      pool_(sign_threads_ > 1 ? std::make_unique<WorkerPool>(sign_threads_) : nullptr) {
  if (pool_ != nullptr && pool_->workers() < sign_threads_) {
    LogWarn("CSR signing pool started fewer threads than asked",
            {{"asked", absl::StrCat(sign_threads_)}, {"started", absl::StrCat(pool_->workers())}});
  }
}

ServerCa::~ServerCa() = default;

absl::StatusOr<std::unique_ptr<ServerCa>> ServerCa::Create(CaOptions opts, Datastore* ds,
                                                           KeyManager* km, Clock* clock) {
  std::unique_ptr<ServerCa> ca(new ServerCa(std::move(opts), ds, km, clock));
  {
    absl::MutexLock l(&ca->mu_);
    RETURN_IF_ERROR(ca->Load());
    ASSIGN_OR_RETURN(bool changed, ca->RotateLocked(clock->Now()));
    (void)changed;
  }
  return ca;
}

void ServerCa::SetBundleChangedCallback(std::function<void()> cb) {
  absl::MutexLock l(&mu_);
  on_change_ = std::move(cb);
}

absl::Status ServerCa::Load() {
  absl::StatusOr<signet::types::Bundle> b = ds_->GetBundle(opts_.trust_domain.name());
  if (b.ok()) {
    bundle_ = *b;
  } else if (b.status().code() == absl::StatusCode::kNotFound) {
    bundle_.Clear();
    bundle_.set_trust_domain(opts_.trust_domain.name());
  } else {
    return b.status();
  }
  bundle_.set_trust_domain(opts_.trust_domain.name());
  ASSIGN_OR_RETURN(std::vector<CaRecord> records, ds_->ListCaRecords());
  const absl::Time now = clock_->Now();
  // Key files named by still-valid records that are missing, per kind: fatal
  // (with refuse_lost_keys) only when no authority of that kind loads, as
  // after an activation the old current record may name a deleted key.
  std::vector<std::string> lost_x509, lost_jwt;
  // Unusable reports a record that cannot be loaded: refused with
  // refuse_lost_keys, else a warning (and a new authority is prepared).
  auto unusable = [this](const std::string& slot, absl::string_view what,
                         absl::string_view error) -> absl::Status {
    if (opts_.refuse_lost_keys) {
      return absl::FailedPreconditionError(
          absl::StrCat("CA slot ", slot, " in the datastore: ", what, ": ", error));
    }
    LogWarn(absl::StrCat(what, "; a new one will be made"),
            {{"slot", slot}, {"error", std::string(error)}});
    return absl::OkStatus();
  };
  for (const CaRecord& r : records) {
    if (r.data.empty()) continue;
    std::map<std::string, std::string> f = ParseRecord(r.data);
    if (r.name == kX509Current || r.name == kX509Next) {
      X509Slot s;
      s.key_name = f["key_name"];
      s.issued_at = ParseUnix(f["issued_at"]);
      std::string der;
      absl::StatusOr<X509Ptr> cert = absl::InvalidArgumentError("not base64");
      if (absl::Base64Unescape(f["cert"], &der)) cert = ParseCertDer(der);
      if (!cert.ok()) {
        RETURN_IF_ERROR(
            unusable(r.name, "the CA certificate record is invalid", cert.status().message()));
        continue;
      }
      absl::StatusOr<EvpPkeyPtr> key = km_->GetKey(s.key_name);
      if (!key.ok()) {
        if (absl::IsNotFound(key.status())) {
          if (CertNotAfter(cert->get()) > now) lost_x509.push_back(km_->Location(s.key_name));
          LogWarn("CA authority from the datastore has no key file",
                  {{"slot", r.name}, {"key", km_->Location(s.key_name)}});
          continue;
        }
        RETURN_IF_ERROR(
            unusable(r.name, "the X.509 CA key cannot be used", key.status().message()));
        continue;
      }
      s.cert = std::move(*cert);
      s.key = std::move(*key);
      (r.name == kX509Current ? x509_current_ : x509_next_) = std::move(s);
    } else if (r.name == kJwtCurrent || r.name == kJwtNext) {
      JwtSlot s;
      s.key_name = f["key_name"];
      s.kid = f["kid"];
      s.issued_at = ParseUnix(f["issued_at"]);
      s.not_after = ParseUnix(f["not_after"]);
      absl::StatusOr<EvpPkeyPtr> key = km_->GetKey(s.key_name);
      if (!key.ok()) {
        if (absl::IsNotFound(key.status())) {
          if (s.not_after > now) lost_jwt.push_back(km_->Location(s.key_name));
          LogWarn("JWT key from the datastore has no key file",
                  {{"slot", r.name}, {"key", km_->Location(s.key_name)}});
          continue;
        }
        RETURN_IF_ERROR(
            unusable(r.name, "the JWT signing key cannot be used", key.status().message()));
        continue;
      }
      s.key = std::move(*key);
      (r.name == kJwtCurrent ? jwt_current_ : jwt_next_) = std::move(s);
    }
  }
  if (opts_.refuse_lost_keys && x509_current_.empty() && x509_next_.empty() && !lost_x509.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the datastore records an X.509 CA whose key file is missing: ",
                     absl::StrJoin(lost_x509, ", ")));
  }
  if (opts_.refuse_lost_keys && jwt_current_.empty() && jwt_next_.empty() && !lost_jwt.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the datastore records a JWT signing key whose key file is missing: ",
                     absl::StrJoin(lost_jwt, ", ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerCa::X509Slot> ServerCa::NewX509Slot(absl::Time now) {
  X509Slot s;
  ASSIGN_OR_RETURN(std::string suffix, RandomHex(8));
  s.key_name = "x509-ca-" + suffix;
  ASSIGN_OR_RETURN(s.key, km_->GenerateKey(s.key_name, opts_.ca_key_type));
  CaParams p{opts_.trust_domain,
             opts_.ca_common_name.empty() ? std::string("Signet CA") : opts_.ca_common_name,
             opts_.ca_organization.empty() ? std::string("SPIFFE") : opts_.ca_organization,
             absl::FromUnixSeconds(absl::ToUnixSeconds(now)), opts_.ca_ttl};
  ASSIGN_OR_RETURN(s.cert, CreateSelfSignedCa(s.key.get(), p));
  s.issued_at = p.now;
  LogInfo("X.509 CA prepared", {{"serial", CertSerialHex(s.cert.get())},
                                {"not_after", absl::FormatTime(CertNotAfter(s.cert.get()))}});
  return s;
}

absl::StatusOr<ServerCa::JwtSlot> ServerCa::NewJwtSlot(absl::Time now) {
  JwtSlot s;
  ASSIGN_OR_RETURN(std::string suffix, RandomHex(8));
  s.key_name = "jwt-key-" + suffix;
  ASSIGN_OR_RETURN(s.kid, RandomHex(16));
  ASSIGN_OR_RETURN(s.key, km_->GenerateKey(s.key_name, opts_.jwt_key_type));
  s.issued_at = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
  s.not_after = s.issued_at + opts_.ca_ttl;
  LogInfo("JWT key prepared", {{"kid", s.kid}, {"not_after", absl::FormatTime(s.not_after)}});
  return s;
}

absl::Status ServerCa::PublishX509(const X509Slot& s) {
  ASSIGN_OR_RETURN(std::string der, CertToDer(s.cert.get()));
  for (const std::string& d : bundle_.x509_authorities()) {
    if (d == der) return absl::OkStatus();
  }
  bundle_.add_x509_authorities(der);
  return absl::OkStatus();
}

void ServerCa::PublishJwt(const JwtSlot& s) {
  for (const signet::types::JwtKey& k : bundle_.jwt_authorities()) {
    if (k.key_id() == s.kid) return;
  }
  absl::StatusOr<std::string> spki = PublicKeyToDer(s.key.get());
  if (!spki.ok()) return;
  signet::types::JwtKey* k = bundle_.add_jwt_authorities();
  k->set_key_id(s.kid);
  k->set_public_key(*spki);
  k->set_expires_at(absl::ToUnixSeconds(s.not_after));
}

absl::StatusOr<bool> ServerCa::RotateLocked(absl::Time now) {
  std::string before = bundle_.SerializeAsString();
  bool slots_changed = false;

  // X.509 authority.
  auto x509_life = [](const X509Slot& s) { return CertNotAfter(s.cert.get()) - s.issued_at; };
  if (!x509_current_.empty() && CertNotAfter(x509_current_.cert.get()) <= now) {
    (void)km_->DeleteKey(x509_current_.key_name);
    x509_current_ = X509Slot();
    slots_changed = true;
  }
  if (!x509_next_.empty() && CertNotAfter(x509_next_.cert.get()) <= now) {
    (void)km_->DeleteKey(x509_next_.key_name);
    x509_next_ = X509Slot();
    slots_changed = true;
  }
  if (x509_current_.empty()) {
    if (!x509_next_.empty()) {
      x509_current_ = std::move(x509_next_);
      x509_next_ = X509Slot();
    } else {
      ASSIGN_OR_RETURN(x509_current_, NewX509Slot(now));
    }
    slots_changed = true;
  }
  RETURN_IF_ERROR(PublishX509(x509_current_));
  if (x509_next_.empty() && now >= x509_current_.issued_at + x509_life(x509_current_) / 2) {
    ASSIGN_OR_RETURN(x509_next_, NewX509Slot(now));
    slots_changed = true;
  }
  if (!x509_next_.empty()) RETURN_IF_ERROR(PublishX509(x509_next_));
  if (!x509_next_.empty() && now >= x509_current_.issued_at + x509_life(x509_current_) * 5 / 6) {
    LogInfo("X.509 CA activated", {{"serial", CertSerialHex(x509_next_.cert.get())}});
    // The old authority never signs again; its certificate stays in the bundle
    // until it expires, and so does everything it signed.
    (void)km_->DeleteKey(x509_current_.key_name);
    x509_current_ = std::move(x509_next_);
    x509_next_ = X509Slot();
    slots_changed = true;
  }

  // JWT key.
  if (!jwt_current_.empty() && jwt_current_.not_after <= now) {
    (void)km_->DeleteKey(jwt_current_.key_name);
    jwt_current_ = JwtSlot();
    slots_changed = true;
  }
  if (!jwt_next_.empty() && jwt_next_.not_after <= now) {
    (void)km_->DeleteKey(jwt_next_.key_name);
    jwt_next_ = JwtSlot();
    slots_changed = true;
  }
  if (jwt_current_.empty()) {
    if (!jwt_next_.empty()) {
      jwt_current_ = std::move(jwt_next_);
      jwt_next_ = JwtSlot();
    } else {
      ASSIGN_OR_RETURN(jwt_current_, NewJwtSlot(now));
    }
    slots_changed = true;
  }
  PublishJwt(jwt_current_);
  absl::Duration jwt_life = jwt_current_.not_after - jwt_current_.issued_at;
  if (jwt_next_.empty() && now >= jwt_current_.issued_at + jwt_life / 2) {
    ASSIGN_OR_RETURN(jwt_next_, NewJwtSlot(now));
    slots_changed = true;
  }
  if (!jwt_next_.empty()) PublishJwt(jwt_next_);
  if (!jwt_next_.empty() && now >= jwt_current_.issued_at + jwt_life * 5 / 6) {
    LogInfo("JWT key activated", {{"kid", jwt_next_.kid}});
    (void)km_->DeleteKey(jwt_current_.key_name);
    jwt_current_ = std::move(jwt_next_);
    jwt_next_ = JwtSlot();
    slots_changed = true;
  }

  // Drop expired authorities: nothing they signed can still be valid.
  {
    signet::types::Bundle pruned = bundle_;
    pruned.clear_x509_authorities();
    pruned.clear_jwt_authorities();
    for (const std::string& der : bundle_.x509_authorities()) {
      absl::StatusOr<X509Ptr> c = ParseCertDer(der);
      if (c.ok() && CertNotAfter(c->get()) > now) pruned.add_x509_authorities(der);
    }
    for (const signet::types::JwtKey& k : bundle_.jwt_authorities()) {
      if (k.expires_at() == 0 || absl::FromUnixSeconds(k.expires_at()) > now) {
        *pruned.add_jwt_authorities() = k;
      }
    }
    bundle_ = std::move(pruned);
  }

  bool bundle_changed = false;
  {
    signet::types::Bundle cmp = bundle_;
    signet::types::Bundle old;
    old.ParseFromString(before);
    cmp.set_sequence_number(old.sequence_number());
    bundle_changed = cmp.SerializeAsString() != before;
  }
  if (bundle_changed) {
    bundle_.set_sequence_number(bundle_.sequence_number() + 1);
    if (bundle_.refresh_hint() == 0) {
      bundle_.set_refresh_hint(std::max<int64_t>(1, absl::ToInt64Seconds(opts_.ca_ttl / 10)));
    }
    RETURN_IF_ERROR(ds_->SetBundle(bundle_));
    LogInfo("trust bundle updated",
            {{"sequence_number", absl::StrCat(bundle_.sequence_number())},
             {"x509_authorities", absl::StrCat(bundle_.x509_authorities_size())},
             {"jwt_authorities", absl::StrCat(bundle_.jwt_authorities_size())}});
  }
  if (slots_changed || bundle_changed) RETURN_IF_ERROR(Persist());
  if (bundle_changed || bundle_set_ == nullptr) {
    ASSIGN_OR_RETURN(Bundle b, BundleFromProto(bundle_));
    auto set = std::make_shared<BundleSet>();
    set->Put(std::move(b));
    bundle_set_ = std::move(set);
  }
  if (x509_current_.empty()) {
    issuer_.reset();
  } else if (issuer_ == nullptr || issuer_->cert() != x509_current_.cert.get()) {
    ASSIGN_OR_RETURN(std::unique_ptr<X509Issuer> is,
                     X509Issuer::Create(x509_current_.cert.get(), x509_current_.key.get()));
    issuer_ = std::move(is);
  }
  return bundle_changed;
}

absl::Status ServerCa::Persist() {
  auto x509_rec = [](const X509Slot& s) -> std::string {
    if (s.empty()) return "";
    absl::StatusOr<std::string> der = CertToDer(s.cert.get());
    if (!der.ok()) return "";
    return absl::StrCat("key_name=", s.key_name, "\ncert=", absl::Base64Escape(*der),
                        "\nissued_at=", absl::ToUnixSeconds(s.issued_at), "\n");
  };
  auto jwt_rec = [](const JwtSlot& s) -> std::string {
    if (s.empty()) return "";
    return absl::StrCat("key_name=", s.key_name, "\nkid=", s.kid,
                        "\nissued_at=", absl::ToUnixSeconds(s.issued_at),
                        "\nnot_after=", absl::ToUnixSeconds(s.not_after), "\n");
  };
  RETURN_IF_ERROR(ds_->PutCaRecord({kX509Current, x509_rec(x509_current_)}));
  RETURN_IF_ERROR(ds_->PutCaRecord({kX509Next, x509_rec(x509_next_)}));
  RETURN_IF_ERROR(ds_->PutCaRecord({kJwtCurrent, jwt_rec(jwt_current_)}));
  RETURN_IF_ERROR(ds_->PutCaRecord({kJwtNext, jwt_rec(jwt_next_)}));
  return absl::OkStatus();
}

absl::StatusOr<bool> ServerCa::Rotate() {
  std::function<void()> cb;
  bool changed;
  {
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(changed, RotateLocked(clock_->Now()));
    cb = on_change_;
  }
  if (changed && cb) cb();
  return changed;
}

absl::Time ServerCa::NextRotationTime() {
  absl::MutexLock l(&mu_);
  absl::Time t = absl::InfiniteFuture();
  if (!x509_current_.empty()) {
    absl::Duration life = CertNotAfter(x509_current_.cert.get()) - x509_current_.issued_at;
    t = std::min(t, x509_next_.empty() ? x509_current_.issued_at + life / 2
                                       : x509_current_.issued_at + life * 5 / 6);
  }
  if (!jwt_current_.empty()) {
    absl::Duration life = jwt_current_.not_after - jwt_current_.issued_at;
    t = std::min(t, jwt_next_.empty() ? jwt_current_.issued_at + life / 2
                                      : jwt_current_.issued_at + life * 5 / 6);
  }
  for (const std::string& der : bundle_.x509_authorities()) {
    absl::StatusOr<X509Ptr> c = ParseCertDer(der);
    if (c.ok()) t = std::min(t, CertNotAfter(c->get()));
  }
  for (const signet::types::JwtKey& k : bundle_.jwt_authorities()) {
    if (k.expires_at() > 0) t = std::min(t, absl::FromUnixSeconds(k.expires_at()));
  }
  return t;
}

absl::Duration ServerCa::CapTtl(absl::Duration ttl, absl::Duration def, absl::Time now,
                                absl::Time not_after) {
  if (ttl <= absl::ZeroDuration()) ttl = def;
  if (now + ttl > not_after) ttl = not_after - now;
  return ttl;
}

absl::StatusOr<ServerCa::SigningState> ServerCa::GetSigningState() {
  absl::MutexLock l(&mu_);
  if (x509_current_.empty() || issuer_ == nullptr) {
    return absl::UnavailableError("no active X.509 CA");
  }
  return SigningState{issuer_, bundle_set_, clock_->Now()};
}

absl::StatusOr<SignedX509> ServerCa::SignWith(const SigningState& st, const X509_PUBKEY* encoded,
                                              const EVP_PKEY* decoded, const SpiffeId& id,
                                              const std::vector<std::string>& dns_names,
                                              absl::Duration ttl) const {
  const absl::Time ca_not_after = st.issuer->not_after();
  LeafParams p{id, dns_names, st.now,
               CapTtl(ttl, opts_.default_x509_svid_ttl, st.now, ca_not_after)};
  if (p.ttl <= absl::ZeroDuration()) return absl::UnavailableError("the X.509 CA has expired");
  ASSIGN_OR_RETURN(X509Ptr leaf, decoded != nullptr ? st.issuer->IssueLeaf(decoded, p)
                                                    : st.issuer->IssueLeaf(encoded, p));
  if (CertNotAfter(leaf.get()) > ca_not_after) {
    return absl::InternalError("issued X.509-SVID outlives its issuer");
  }
  SignedX509 out;
  ASSIGN_OR_RETURN(out.leaf_der, CertToDer(leaf.get()));
  // Every SVID is re-verified against the bundle right after signing; the
  // signature over the TBSCertificate in the DER that is handed out.
  absl::StatusOr<SpiffeId> verified =
      VerifyIssuedX509Svid(leaf.get(), *st.issuer, *st.bundles, st.now, out.leaf_der);
  if (!verified.ok()) {
    return absl::InternalError(absl::StrCat(
        "issued X.509-SVID does not verify against the bundle: ", verified.status().message()));
  }
  if (*verified != id) {
    return absl::InternalError("issued X.509-SVID carries the wrong SPIFFE ID");
  }
  out.expires_at = CertNotAfter(leaf.get());
  out.serial_hex = CertSerialHex(leaf.get());
  out.leaf = std::move(leaf);
  return out;
}

absl::StatusOr<SignedX509> ServerCa::SignCsrWith(const SigningState& st, absl::string_view csr_der,
                                                 const SpiffeId& id,
                                                 const std::vector<std::string>& dns_names,
                                                 absl::Duration ttl) const {
  absl::StatusOr<X509PubkeyPtr> key = ParseCsrPublicKey(csr_der);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid CSR: ", key.status().message()));
  }
  return SignWith(st, key->get(), nullptr, id, dns_names, ttl);
}

absl::StatusOr<SignedX509> ServerCa::SignX509SvidFromCsr(absl::string_view csr_der,
                                                         const SpiffeId& id,
                                                         const std::vector<std::string>& dns_names,
                                                         absl::Duration ttl) {
  ASSIGN_OR_RETURN(SigningState st, GetSigningState());
  return SignCsrWith(st, csr_der, id, dns_names, ttl);
}

std::vector<absl::StatusOr<SignedX509>> ServerCa::SignX509SvidsFromCsrs(
    absl::Span<const X509SvidRequest> reqs) {
  std::vector<absl::StatusOr<SignedX509>> out;
  out.reserve(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) out.emplace_back(absl::InternalError("not signed"));
  absl::StatusOr<SigningState> st = GetSigningState();
  if (!st.ok()) {
    for (auto& r : out) r = st.status();
    return out;
  }
  static const std::vector<std::string> kNoNames;
  // Each item reads only its request and the shared, immutable signing
  // state (issuer, bundle) and writes only its own slot of `out`.
  auto sign_one = [&](size_t i) {
    const X509SvidRequest& r = reqs[i];
    if (r.id == nullptr) {
      out[i] = absl::InvalidArgumentError("SPIFFE ID is required");
      return;
    }
    out[i] = SignCsrWith(*st, r.csr_der, *r.id, r.dns_names ? *r.dns_names : kNoNames, r.ttl);
  };
  if (pool_ == nullptr || reqs.size() < kParallelBatchMin) {
    for (size_t i = 0; i < reqs.size(); ++i) sign_one(i);
  } else {
    pool_->ParallelFor(reqs.size(), sign_threads_ - 1, sign_one);
  }
  return out;
}

absl::StatusOr<SignedX509> ServerCa::SignX509SvidForKey(const EVP_PKEY* key, const SpiffeId& id,
                                                        const std::vector<std::string>& dns_names,
                                                        absl::Duration ttl) {
  if (key == nullptr) return absl::InvalidArgumentError("subject key is required");
  ASSIGN_OR_RETURN(SigningState st, GetSigningState());
  return SignWith(st, nullptr, key, id, dns_names, ttl);
}

absl::StatusOr<SignedJwt> ServerCa::SignJwtSvid(const SpiffeId& id,
                                                const std::vector<std::string>& audience,
                                                absl::Duration ttl) {
  if (audience.empty()) return absl::InvalidArgumentError("at least one audience is required");
  absl::MutexLock l(&mu_);
  if (jwt_current_.empty()) return absl::UnavailableError("no active JWT key");
  absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(clock_->Now()));
  absl::Duration eff = CapTtl(ttl, opts_.default_jwt_svid_ttl, now, jwt_current_.not_after);
  if (eff <= absl::ZeroDuration()) return absl::UnavailableError("the JWT key has expired");
  JwtSvidParams p{id, audience, now, now + eff, opts_.jwt_issuer};
  ASSIGN_OR_RETURN(std::string token,
                   signet::SignJwtSvid(jwt_current_.key.get(), jwt_current_.kid, p));
  absl::StatusOr<JwtSvid> v = ValidateJwtSvid(token, *bundle_set_, audience[0], now);
  if (!v.ok()) {
    return absl::InternalError(
        absl::StrCat("issued JWT-SVID does not verify against the bundle: ", v.status().message()));
  }
  return SignedJwt{std::move(token), p.issued_at, p.expires_at};
}

signet::types::Bundle ServerCa::BundleProto() {
  absl::MutexLock l(&mu_);
  return bundle_;
}

Bundle ServerCa::GetBundle() {
  absl::MutexLock l(&mu_);
  return *bundle_set_->Find(opts_.trust_domain);
}

CaStatus ServerCa::Status() {
  absl::MutexLock l(&mu_);
  CaStatus s;
  if (!x509_current_.empty()) {
    s.current_x509_serial = CertSerialHex(x509_current_.cert.get());
    s.current_x509_not_after = CertNotAfter(x509_current_.cert.get());
  }
  if (!x509_next_.empty()) s.next_x509_serial = CertSerialHex(x509_next_.cert.get());
  s.current_jwt_kid = jwt_current_.kid;
  s.next_jwt_kid = jwt_next_.kid;
  s.sequence_number = bundle_.sequence_number();
  return s;
}

absl::Time ServerCa::CurrentX509CaNotAfter() {
  absl::MutexLock l(&mu_);
  return x509_current_.empty() ? absl::InfinitePast() : CertNotAfter(x509_current_.cert.get());
}

}  // namespace signet::server
