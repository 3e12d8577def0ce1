// Unit tests: the server CA with an injected clock -- prepare, publish,
// activate, prune; persistence; SVID caps and re-verification.
#include "server/ca.h"

#include <sys/stat.h>

#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/jwt.h"
#include "common/x509.h"
#include "gtest/gtest.h"
#include "server/datastore/memory_datastore.h"

namespace signet::server {
namespace {

class CaTest : public ::testing::Test {
 protected:
  CaTest() : clock_(absl::FromUnixSeconds(1700000000)) {}
  void SetUp() override {
    ds_ = NewMemoryDatastore();
    km_ = NewMemoryKeyManager();
  }
  CaOptions Options() {
    CaOptions o(TrustDomain::FromString("example.org").value());
    o.ca_ttl = absl::Hours(6);
    o.default_x509_svid_ttl = absl::Hours(1);
    return o;
  }
  std::unique_ptr<ServerCa> NewCa() { return NewCa(Options()); }
  std::unique_ptr<ServerCa> NewCa(CaOptions o) {
    absl::StatusOr<std::unique_ptr<ServerCa>> ca =
        ServerCa::Create(std::move(o), ds_.get(), km_.get(), &clock_);
    EXPECT_TRUE(ca.ok()) << ca.status();
    return std::move(*ca);
  }
  SignedX509 Mint(ServerCa& ca, absl::Duration ttl = absl::ZeroDuration()) {
    EvpPkeyPtr key = std::move(GenerateKey(KeyType::kEcP256)).value();
    absl::StatusOr<SignedX509> s = ca.SignX509SvidForKey(
        key.get(), SpiffeId::FromString("spiffe://example.org/w").value(), {}, ttl);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  // Verifies `svid` against the CA's current bundle at the clock's now.
  absl::Status VerifyNow(ServerCa& ca, const SignedX509& svid) {
    BundleSet set;
    set.Put(ca.GetBundle());
    std::vector<X509Ptr> chain;
    // From the DER, as a relying party sees it (a leaf signed from a CSR
    // keeps its key encoded only).
    absl::StatusOr<X509Ptr> leaf = ParseCertDer(svid.leaf_der);
    if (!leaf.ok()) return leaf.status();
    chain.push_back(*std::move(leaf));
    return VerifyX509Svid(chain, set, clock_.Now()).status();
  }

  FakeClock clock_;
  std::unique_ptr<Datastore> ds_;
  std::unique_ptr<KeyManager> km_;
};

TEST_F(CaTest, CreatesCurrentAuthorityAndBundle) {
  auto ca = NewCa();
  CaStatus s = ca->Status();
  EXPECT_FALSE(s.current_x509_serial.empty());
  EXPECT_TRUE(s.next_x509_serial.empty());
  EXPECT_FALSE(s.current_jwt_kid.empty());
  EXPECT_EQ(s.sequence_number, 1u);
  signet::types::Bundle b = ca->BundleProto();
  EXPECT_EQ(b.x509_authorities_size(), 1);
  EXPECT_EQ(b.jwt_authorities_size(), 1);
  EXPECT_TRUE(ds_->GetBundle("example.org").ok());
}

TEST_F(CaTest, PreparesAtHalfPublishesAtOnceActivatesAtFiveSixths) {
  auto ca = NewCa();
  std::string first = ca->Status().current_x509_serial;
  clock_.Advance(absl::Hours(3) - absl::Seconds(1));
  EXPECT_FALSE(ca->Rotate().value());
  EXPECT_TRUE(ca->Status().next_x509_serial.empty());

  clock_.Advance(absl::Seconds(1));  // half of 6h: prepare + publish
  EXPECT_TRUE(ca->Rotate().value());
  CaStatus prepared = ca->Status();
  EXPECT_EQ(prepared.current_x509_serial, first);
  EXPECT_FALSE(prepared.next_x509_serial.empty());
  EXPECT_FALSE(prepared.next_jwt_kid.empty());
  EXPECT_EQ(prepared.sequence_number, 2u);
  EXPECT_EQ(ca->BundleProto().x509_authorities_size(), 2);
  EXPECT_EQ(ca->BundleProto().jwt_authorities_size(), 2);

  clock_.Advance(absl::Hours(2) - absl::Seconds(1));  // just before 5/6
  EXPECT_FALSE(ca->Rotate().value());
  EXPECT_EQ(ca->Status().current_x509_serial, first);
  SignedX509 old_svid = Mint(*ca);   // still signed by the first CA
  clock_.Advance(absl::Seconds(1));  // 5/6 of 6h: activate
  ca->Rotate().value();
  CaStatus active = ca->Status();
  EXPECT_EQ(active.current_x509_serial, prepared.next_x509_serial);
  EXPECT_EQ(active.current_jwt_kid, prepared.next_jwt_kid);
  EXPECT_TRUE(active.next_x509_serial.empty());
  // The old authority stays while anything it signed may be valid.
  EXPECT_EQ(ca->BundleProto().x509_authorities_size(), 2);
  EXPECT_TRUE(VerifyNow(*ca, old_svid).ok());
  SignedX509 new_svid = Mint(*ca);
  EXPECT_TRUE(VerifyNow(*ca, new_svid).ok());

  // After the old CA expires it is pruned and the sequence bumps.
  uint64_t seq = ca->Status().sequence_number;
  clock_.Advance(absl::Minutes(30));
  EXPECT_FALSE(ca->Rotate().value());
  clock_.Advance(absl::Minutes(30) + absl::Seconds(1));
  EXPECT_TRUE(ca->Rotate().value());
  EXPECT_GT(ca->Status().sequence_number, seq);
  signet::types::Bundle pruned = ca->BundleProto();
  for (const std::string& der : pruned.x509_authorities()) {
    EXPECT_NE(CertSerialHex(ParseCertDer(der).value().get()), first);
  }
}

TEST_F(CaTest, BundleNeverLacksIssuerOfAValidSvid) {
  auto ca = NewCa();
  std::vector<SignedX509> svids;
  uint64_t seq = ca->Status().sequence_number;
  for (int step = 0; step < 6 * 24 * 2; ++step) {  // two days in 10-minute steps
    clock_.Advance(absl::Minutes(10));
    ASSERT_TRUE(ca->Rotate().ok());
    EXPECT_GE(ca->Status().sequence_number, seq);
    seq = ca->Status().sequence_number;
    svids.push_back(Mint(*ca));
    for (const SignedX509& s : svids) {
      if (s.expires_at <= clock_.Now()) continue;
      ASSERT_TRUE(VerifyNow(*ca, s).ok()) << "step " << step;
    }
  }
}

TEST_F(CaTest, SvidNeverOutlivesIssuer) {
  auto ca = NewCa();
  SignedX509 s = Mint(*ca, absl::Hours(100));
  EXPECT_LE(s.expires_at, ca->CurrentX509CaNotAfter());
  absl::StatusOr<SignedJwt> jwt = ca->SignJwtSvid(
      SpiffeId::FromString("spiffe://example.org/w").value(), {"a"}, absl::Hours(100));
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_LE(jwt->expires_at, clock_.Now() + absl::Hours(6));
}

TEST_F(CaTest, DefaultTtls) {
  auto ca = NewCa();
  SignedX509 s = Mint(*ca);
  EXPECT_EQ(s.expires_at,
            absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now())) + absl::Hours(1));
  absl::StatusOr<SignedJwt> jwt = ca->SignJwtSvid(
      SpiffeId::FromString("spiffe://example.org/w").value(), {"a"}, absl::ZeroDuration());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->expires_at - jwt->issued_at, absl::Minutes(5));
}

TEST_F(CaTest, JwtSvidVerifiesAgainstBundle) {
  auto ca = NewCa();
  absl::StatusOr<SignedJwt> jwt = ca->SignJwtSvid(
      SpiffeId::FromString("spiffe://example.org/w").value(), {"aud"}, absl::ZeroDuration());
  ASSERT_TRUE(jwt.ok());
  BundleSet set;
  set.Put(ca->GetBundle());
  absl::StatusOr<JwtSvid> v = ValidateJwtSvid(jwt->token, set, "aud", clock_.Now());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->subject.ToString(), "spiffe://example.org/w");
  EXPECT_EQ(v->audience, std::vector<std::string>{"aud"});
  EXPECT_EQ(v->expires_at, jwt->expires_at);
  EXPECT_EQ(ca->GetBundle().jwt_authorities().count(v->key_id), 1u) << v->key_id;
}

TEST_F(CaTest, JwtNeedsAudience) {
  auto ca = NewCa();
  absl::StatusOr<SignedJwt> jwt = ca->SignJwtSvid(
      SpiffeId::FromString("spiffe://example.org/w").value(), {}, absl::ZeroDuration());
  EXPECT_EQ(jwt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwt.status().message(), "at least one audience is required");
}

TEST_F(CaTest, BadCsrIsInvalidArgument) {
  auto ca = NewCa();
  absl::StatusOr<SignedX509> s = ca->SignX509SvidFromCsr(
      "garbage", SpiffeId::FromString("spiffe://example.org/w").value(), {}, absl::ZeroDuration());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.status().message(), "invalid CSR: ")) << s.status();
}

TEST_F(CaTest, CsrNamesAreIgnored) {
  auto ca = NewCa();
  EvpPkeyPtr key = std::move(GenerateKey(KeyType::kEcP256)).value();
  SpiffeId evil = SpiffeId::FromString("spiffe://example.org/admin").value();
  std::string csr = CreateCsrDer(key.get(), &evil).value();
  absl::StatusOr<SignedX509> s = ca->SignX509SvidFromCsr(
      csr, SpiffeId::FromString("spiffe://example.org/w").value(), {}, absl::ZeroDuration());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(SpiffeIdFromCert(s->leaf.get())->ToString(), "spiffe://example.org/w");
}

TEST_F(CaTest, ReloadsSameAuthorityAfterRestart) {
  auto ca = NewCa();
  clock_.Advance(absl::Hours(3));
  ASSERT_TRUE(ca->Rotate().ok());
  CaStatus before = ca->Status();
  signet::types::Bundle bundle = ca->BundleProto();
  ca.reset();
  auto again = NewCa();
  CaStatus after = again->Status();
  EXPECT_EQ(after.current_x509_serial, before.current_x509_serial);
  EXPECT_EQ(after.next_x509_serial, before.next_x509_serial);
  EXPECT_EQ(after.current_jwt_kid, before.current_jwt_kid);
  EXPECT_EQ(after.sequence_number, before.sequence_number);
  EXPECT_EQ(again->BundleProto().SerializeAsString(), bundle.SerializeAsString());
}

TEST_F(CaTest, LostKeysMakeANewAuthority) {
  auto ca = NewCa();
  std::string serial = ca->Status().current_x509_serial;
  ca.reset();
  km_ = NewMemoryKeyManager();  // like a memory KeyManager after restart
  auto again = NewCa();
  EXPECT_NE(again->Status().current_x509_serial, serial);
  // The old authority stays published until it expires.
  EXPECT_EQ(again->BundleProto().x509_authorities_size(), 2);
}

TEST(DiskKeyManagerTest, KeysAreFiles0600) {
  char tmpl[] = "/tmp/sg-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/keys";
  auto km = NewDiskKeyManager(dir);
  ASSERT_TRUE(km.ok()) << km.status();
  ASSERT_TRUE((*km)->GenerateKey("k1", KeyType::kEcP256).ok());
  struct stat st;
  ASSERT_EQ(stat((dir + "/k1.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE((*km)->GetKey("k1").ok());
  EXPECT_EQ((*km)->GetKey("k2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*km)->GenerateKey("../x", KeyType::kEcP256).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*km)->DeleteKey("k1").ok());
  EXPECT_EQ((*km)->GetKey("k1").status().code(), absl::StatusCode::kNotFound);
  std::string cmd = "rm -rf " + std::string(tmpl);
  ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST_F(CaTest, BatchSigningKeepsOrderAndPerRequestErrors) {
  auto ca = NewCa();
  // Large enough to take the parallel path.
  const size_t n = ServerCa::kParallelBatchMin * 3 + 1;
  std::vector<std::string> csrs;
  std::vector<EvpPkeyPtr> keys;
  std::vector<SpiffeId> ids;
  for (size_t i = 0; i < n; ++i) {
    keys.push_back(std::move(GenerateKey(KeyType::kEcP256)).value());
    csrs.push_back(i == 5 ? std::string("garbage") : CreateCsrDer(keys.back().get()).value());
    ids.push_back(SpiffeId::FromString(absl::StrCat("spiffe://example.org/w/", i)).value());
  }
  std::vector<std::string> dns = {"svc.example.org"};
  std::vector<X509SvidRequest> reqs;
  for (size_t i = 0; i < n; ++i) {
    reqs.push_back({csrs[i], &ids[i], i == 7 ? &dns : nullptr,
                    i == 9 ? absl::Minutes(5) : absl::ZeroDuration()});
  }
  std::vector<absl::StatusOr<SignedX509>> out = ca->SignX509SvidsFromCsrs(reqs);
  ASSERT_EQ(out.size(), n);
  for (size_t i = 0; i < n; ++i) {
    if (i == 5) {
      EXPECT_EQ(out[i].status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StartsWith(out[i].status().message(), "invalid CSR: ")) << out[i].status();
      continue;
    }
    ASSERT_TRUE(out[i].ok()) << i << ": " << out[i].status();
    EXPECT_EQ(SpiffeIdFromCert(out[i]->leaf.get())->ToString(), ids[i].ToString());
    X509Ptr parsed = ParseCertDer(out[i]->leaf_der).value();
    EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(parsed.get()), keys[i].get()));
    EXPECT_TRUE(VerifyNow(*ca, *out[i]).ok());
    EXPECT_EQ(out[i]->expires_at,
              clock_.Now() + (i == 9 ? absl::Minutes(5) : absl::Hours(1)) -
                  (clock_.Now() - absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now()))));
  }
  const X509_NAME* subj = X509_get_subject_name(out[7]->leaf.get());
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(const_cast<X509_NAME*>(subj), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "svc.example.org");
}

// One batch of CSRs with their keys and SPIFFE IDs, for the batch tests.
struct CsrBatch {
  std::vector<EvpPkeyPtr> keys;
  std::vector<std::string> csrs;
  std::vector<SpiffeId> ids;
  std::vector<X509SvidRequest> Requests() const {
    std::vector<X509SvidRequest> reqs;
    for (size_t i = 0; i < csrs.size(); ++i) {
      reqs.push_back({csrs[i], &ids[i], nullptr, absl::ZeroDuration()});
    }
    return reqs;
  }
};

// MakeBatch makes `n` CSRs for distinct keys (every 25th a P-384 key) and
// IDs spiffe://example.org/<prefix>/<i>.
CsrBatch MakeBatch(size_t n, absl::string_view prefix) {
  CsrBatch b;
  for (size_t i = 0; i < n; ++i) {
    b.keys.push_back(
        std::move(GenerateKey(i % 25 == 3 ? KeyType::kEcP384 : KeyType::kEcP256)).value());
    b.csrs.push_back(CreateCsrDer(b.keys.back().get()).value());
    b.ids.push_back(
        SpiffeId::FromString(absl::StrCat("spiffe://example.org/", prefix, "/", i)).value());
  }
  return b;
}

TEST_F(CaTest, BatchOf200SignedConcurrentlyIsInOrderAndABadCsrFailsAlone) {
  CaOptions o = Options();
  o.sign_threads = 4;  // parallel even on a one-core machine
  auto ca = NewCa(std::move(o));
  CsrBatch b = MakeBatch(200, "w");
  constexpr size_t kBad = 100;
  b.csrs[kBad][b.csrs[kBad].size() - 5] ^= 0x5a;  // inside the ECDSA signature
  std::vector<absl::StatusOr<SignedX509>> out = ca->SignX509SvidsFromCsrs(b.Requests());
  ASSERT_EQ(out.size(), 200u);
  std::set<std::string> serials;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i == kBad) {
      EXPECT_EQ(out[i].status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(out[i].status().message(), "invalid CSR: CSR signature is invalid");
      continue;
    }
    ASSERT_TRUE(out[i].ok()) << i << ": " << out[i].status();
    // Its own SPIFFE ID and key, as a relying party parses the DER.
    X509Ptr parsed = ParseCertDer(out[i]->leaf_der).value();
    EXPECT_EQ(SpiffeIdFromCert(parsed.get())->ToString(), b.ids[i].ToString()) << i;
    EXPECT_EQ(SpiffeIdFromCert(out[i]->leaf.get())->ToString(), b.ids[i].ToString()) << i;
    EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(parsed.get()), b.keys[i].get())) << i;
    EXPECT_EQ(out[i]->serial_hex, CertSerialHex(parsed.get()));
    serials.insert(out[i]->serial_hex);
    EXPECT_TRUE(VerifyNow(*ca, *out[i]).ok()) << i;
  }
  EXPECT_EQ(serials.size(), 199u);
}

TEST_F(CaTest, ConcurrentBatchesShareThePool) {
  CaOptions o = Options();
  o.sign_threads = 2;
  auto ca = NewCa(std::move(o));
  constexpr int kCallers = 4;
  std::vector<CsrBatch> batches;
  for (int c = 0; c < kCallers; ++c) batches.push_back(MakeBatch(40, absl::StrCat("c", c)));
  std::vector<std::vector<absl::StatusOr<SignedX509>>> outs(kCallers);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] { outs[c] = ca->SignX509SvidsFromCsrs(batches[c].Requests()); });
  }
  for (std::thread& t : callers) t.join();
  for (int c = 0; c < kCallers; ++c) {
    ASSERT_EQ(outs[c].size(), 40u);
    for (size_t i = 0; i < 40; ++i) {
      ASSERT_TRUE(outs[c][i].ok()) << c << "/" << i << ": " << outs[c][i].status();
      X509Ptr parsed = ParseCertDer(outs[c][i]->leaf_der).value();
      EXPECT_EQ(SpiffeIdFromCert(parsed.get())->ToString(), batches[c].ids[i].ToString());
      EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(parsed.get()), batches[c].keys[i].get()));
      EXPECT_TRUE(VerifyNow(*ca, *outs[c][i]).ok());
    }
  }
}

TEST_F(CaTest, SmallBatchesAndOneSignThreadSignTheSame) {
  CaOptions o = Options();
  o.sign_threads = 1;  // no pool
  auto single = NewCa(std::move(o));
  auto pooled = NewCa();
  CsrBatch b = MakeBatch(20, "s");
  for (ServerCa* ca : {single.get(), pooled.get()}) {
    std::vector<X509SvidRequest> all = b.Requests();
    for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, all.size()}) {
      std::vector<absl::StatusOr<SignedX509>> out =
          ca->SignX509SvidsFromCsrs(absl::MakeConstSpan(all).subspan(0, n));
      ASSERT_EQ(out.size(), n);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_TRUE(out[i].ok()) << n << "/" << i << ": " << out[i].status();
        EXPECT_EQ(SpiffeIdFromCert(out[i]->leaf.get())->ToString(), b.ids[i].ToString());
        EXPECT_TRUE(VerifyNow(*ca, *out[i]).ok());
      }
    }
  }
}

TEST_F(CaTest, BatchWithoutActiveAuthorityFailsEveryRequest) {
  auto ca = NewCa();
  CsrBatch b = MakeBatch(5, "x");
  clock_.Advance(absl::Hours(7));  // past the CA's 6 h life, not rotated
  std::vector<absl::StatusOr<SignedX509>> out = ca->SignX509SvidsFromCsrs(b.Requests());
  ASSERT_EQ(out.size(), 5u);
  for (const auto& r : out) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_EQ(r.status().message(), "the X.509 CA has expired");
  }
}

TEST_F(CaTest, SvidForKeyIsACompleteCertificateObject) {
  auto ca = NewCa();
  EvpPkeyPtr key = std::move(GenerateKey(KeyType::kEcP256)).value();
  absl::StatusOr<SignedX509> s = ca->SignX509SvidForKey(
      key.get(), SpiffeId::FromString("spiffe://example.org/w").value(), {}, absl::ZeroDuration());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(PublicKeysEqual(X509_get0_pubkey(s->leaf.get()), key.get()));
  BundleSet set;
  set.Put(ca->GetBundle());
  std::vector<X509Ptr> chain;
  chain.push_back(CopyCert(s->leaf.get()));
  EXPECT_TRUE(VerifyX509Svid(chain, set, clock_.Now()).ok());
}

TEST_F(CaTest, BatchSigningWithoutIdIsInvalidArgument) {
  auto ca = NewCa();
  EvpPkeyPtr key = std::move(GenerateKey(KeyType::kEcP256)).value();
  std::string csr = CreateCsrDer(key.get()).value();
  std::vector<absl::StatusOr<SignedX509>> out =
      ca->SignX509SvidsFromCsrs({{csr, nullptr, nullptr, absl::ZeroDuration()}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out[0].status().message(), "SPIFFE ID is required");
}

TEST_F(CaTest, SignsWithTheNewAuthorityAfterActivation) {
  auto ca = NewCa();
  std::string before = ca->Status().current_x509_serial;
  clock_.Advance(absl::Hours(3));  // next prepared at 1/2
  ASSERT_TRUE(ca->Rotate().ok());
  clock_.Advance(absl::Hours(2));  // activated at 5/6
  ASSERT_TRUE(ca->Rotate().ok());
  ASSERT_NE(ca->Status().current_x509_serial, before);
  SignedX509 s = Mint(*ca);
  std::string issuer_serial = ca->Status().current_x509_serial;
  // The leaf's AKI names the current authority's SKI.
  Bundle b = ca->GetBundle();
  bool found = false;
  for (const X509Ptr& a : b.x509_authorities()) {
    if (CertSerialHex(a.get()) == issuer_serial) {
      found = X509_check_issued(a.get(), s.leaf.get()) == X509_V_OK;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(VerifyNow(*ca, s).ok());
}

}  // namespace
}  // namespace signet::server
