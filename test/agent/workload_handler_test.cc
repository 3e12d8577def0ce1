#include "agent/workload_handler.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/issuance/x509_issuer.h"
#include "common/jwt.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

using ::testing::HasSubstr;

class FakeManager : public Manager {
 public:
  FakeManager() : snap_(std::make_shared<AgentSnapshot>()) {}
  void Set(AgentSnapshot s) {
    absl::MutexLock l(&mu_);
    s.version = snap_->version + 1;
    snap_ = std::make_shared<AgentSnapshot>(std::move(s));
  }
  std::shared_ptr<const AgentSnapshot> Snapshot() override {
    absl::MutexLock l(&mu_);
    return snap_;
  }
  std::shared_ptr<const AgentSnapshot> WaitForChange(uint64_t seen, absl::Time deadline) override {
    absl::MutexLock l(&mu_);
    auto cond = [this, seen]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return snap_->version != seen; };
    mu_.AwaitWithDeadline(absl::Condition(&cond), deadline);
    return snap_;
  }
  absl::StatusOr<std::string> FetchJwtSvid(const WorkloadEntry& entry,
                                           const std::vector<std::string>& audience) override {
    ++jwt_calls;
    JwtSvidParams p{*SpiffeId::FromString(entry.spiffe_id), audience, absl::Now(),
                    absl::Now() + absl::Minutes(5), ""};  // NOLINT
    return SignJwtSvid(jwt_key, "kid1", p);
  }
  EVP_PKEY* jwt_key = nullptr;
  std::atomic<int> jwt_calls{0};

 private:
  absl::Mutex mu_;
  std::shared_ptr<const AgentSnapshot> snap_ ABSL_GUARDED_BY(mu_);
};

class FakeAttestor : public attestors::WorkloadAttestor {
 public:
  absl::StatusOr<std::vector<attestors::Selector>> Attest(const attestors::WorkloadProcess&,
                                                          absl::Time) override {
    if (++calls == 1 && block_first != nullptr) block_first->WaitForNotification();
    return result;
  }
  std::string name() const override { return "fake"; }
  std::atomic<int> calls{0};
  // When set, the first Attest waits for it (a slow kubelet, say).
  absl::Notification* block_first = nullptr;
  absl::StatusOr<std::vector<attestors::Selector>> result =
      std::vector<attestors::Selector>{{"unix", "uid:1000"}, {"unix", "gid:1000"}};
};

class FakePinner;

// FakePinned reads the pinner's check_status when checked, so a test can
// make a pinned (and cached) process "exit" later.
class FakePinned : public PinnedProcess {
 public:
  explicit FakePinned(FakePinner* pinner) : pinner_(pinner) {}
  absl::Status Check() override;

 private:
  FakePinner* const pinner_;
};

class FakePinner : public ProcessPinner {
 public:
  absl::StatusOr<std::unique_ptr<PinnedProcess>> Pin(pid_t) override {
    absl::MutexLock l(&mu);
    if (!pin_status.ok()) return pin_status;
    return std::unique_ptr<PinnedProcess>(new FakePinned(this));
  }
  void SetCheck(absl::Status s) {
    absl::MutexLock l(&mu);
    check_status = std::move(s);
  }
  absl::Mutex mu;
  absl::Status pin_status ABSL_GUARDED_BY(mu);
  absl::Status check_status ABSL_GUARDED_BY(mu);
};

absl::Status FakePinned::Check() {
  absl::MutexLock l(&pinner_->mu);
  return pinner_->check_status;
}

struct Material {
  EvpPkeyPtr ca_key;
  X509Ptr ca;
  EvpPkeyPtr jwt_key;
};

class WorkloadHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    td_ = *TrustDomain::FromString("example.org");
    ca_key_ = *GenerateKey(KeyType::kEcP256);
    CaParams cp{td_, "Signet CA", "SPIFFE", absl::Now(), absl::Hours(24)};
    ca_ = *CreateSelfSignedCa(ca_key_.get(), cp);
    jwt_key_ = *GenerateKey(KeyType::kEcP256);
    manager_.jwt_key = jwt_key_.get();
    StartHandler(absl::Seconds(1));
  }
  void TearDown() override { StopHandler(); }

  void StartHandler(absl::Duration selector_cache_ttl) {
    WorkloadHandlerConfig c;
    c.manager = &manager_;
    c.attestor = &attestor_;
    c.pinner = &pinner_;
    c.peer_lookup = [this](const std::string&) -> absl::StatusOr<PeerCred> {
      if (!peer_ok_) return absl::NotFoundError("unknown peer");
      PeerCred p;
      p.pid = peer_pid_;
      p.uid = 1000;
      p.conn_id = conn_id_;
      return p;
    };
    c.selector_cache_ttl = selector_cache_ttl;
    c.close_connection = [this](const PeerCred&) { ++closed_; };
    c.cancel_poll = absl::Milliseconds(20);
    c.mint_wait = absl::Milliseconds(300);
    c.clock = [this] {
      absl::MutexLock l(&clock_mu_);
      return absl::Now() + clock_offset_;
    };
    handler_ = std::make_unique<WorkloadHandler>(std::move(c));
    grpc::ServerBuilder b;
    handler_->Attach(&b);
    server_ = b.BuildAndStart();
    handler_->Start();
    stub_ = SpiffeWorkloadAPI::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void AdvanceClock(absl::Duration d) {
    absl::MutexLock l(&clock_mu_);
    clock_offset_ += d;
  }
  void StopHandler() {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    handler_->Shutdown();
    stub_.reset();
    server_.reset();
    handler_.reset();
  }

  Bundle MakeBundle() {
    Bundle b(td_);
    b.AddX509Authority(CopyCert(ca_.get()));
    EvpPkeyPtr pub = *ParsePublicKeyDer(*PublicKeyToDer(jwt_key_.get()));
    b.AddJwtAuthority("kid1", std::move(pub));
    return b;
  }

  WorkloadEntry Entry(const std::string& id, const std::string& spiffe_id,
                      std::vector<attestors::Selector> sel, const std::string& hint = "") {
    WorkloadEntry e;
    e.id = id;
    e.spiffe_id = spiffe_id;
    e.hint = hint;
    e.selectors = std::move(sel);
    EvpPkeyPtr key = *GenerateKey(KeyType::kEcP256);
    LeafParams lp{*SpiffeId::FromString(spiffe_id), {}, absl::Now(), absl::Hours(1)};
    X509Ptr leaf = *IssueLeaf(ca_.get(), ca_key_.get(), key.get(), lp);
    auto m = std::make_shared<X509SvidMaterial>();
    m->chain_der = *CertToDer(leaf.get());
    m->key_der = *PrivateKeyToPkcs8Der(key.get());
    e.svid = m;
    return e;
  }

  AgentSnapshot Ready(std::vector<WorkloadEntry> entries) {
    AgentSnapshot s;
    s.ready = true;
    s.bundle = MakeBundle();
    for (WorkloadEntry& e : entries) {
      s.entries.push_back(std::make_shared<const WorkloadEntry>(std::move(e)));
    }
    return s;
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::vector<std::string>& header_values = {
                                               "true"}) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    for (const auto& v : header_values) ctx->AddMetadata("workload.spiffe.io", v);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return ctx;
  }

  // FirstX509 opens FetchX509SVID and reads one message (or the status).
  grpc::Status FirstX509(X509SVIDResponse* out, const std::vector<std::string>& hdr = {"true"}) {
    auto ctx = Ctx(hdr);
    auto r = stub_->FetchX509SVID(ctx.get(), X509SVIDRequest());
    if (r->Read(out)) {
      ctx->TryCancel();
      (void)r->Finish();
      return grpc::Status::OK;
    }
    return r->Finish();
  }

  TrustDomain td_ = *TrustDomain::FromString("x.org");
  EvpPkeyPtr ca_key_;
  X509Ptr ca_;
  EvpPkeyPtr jwt_key_;
  FakeManager manager_;
  FakeAttestor attestor_;
  FakePinner pinner_;
  bool peer_ok_ = true;
  // The caller's pid and connection id (0: no id, never cached).
  std::atomic<pid_t> peer_pid_{1234};
  std::atomic<uint64_t> conn_id_{0};
  std::atomic<int> closed_{0};
  absl::Mutex clock_mu_;
  absl::Duration clock_offset_ ABSL_GUARDED_BY(clock_mu_) = absl::ZeroDuration();
  std::unique_ptr<WorkloadHandler> handler_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<SpiffeWorkloadAPI::Stub> stub_;
};

const attestors::Selector kUid{"unix", "uid:1000"};
const attestors::Selector kGid{"unix", "gid:1000"};

// Calls every RPC with the given header values; returns their statuses.
std::vector<grpc::Status> CallAll(
    WorkloadHandlerTest* t, SpiffeWorkloadAPI::Stub* stub,
    const std::function<std::unique_ptr<grpc::ClientContext>()>& ctx) {
  std::vector<grpc::Status> out;
  {
    auto c = ctx();
    auto r = stub->FetchX509SVID(c.get(), X509SVIDRequest());
    X509SVIDResponse m;
    while (r->Read(&m)) {
    }
    out.push_back(r->Finish());
  }
  {
    auto c = ctx();
    auto r = stub->FetchX509Bundles(c.get(), X509BundlesRequest());
    X509BundlesResponse m;
    while (r->Read(&m)) {
    }
    out.push_back(r->Finish());
  }
  {
    auto c = ctx();
    auto r = stub->FetchJWTBundles(c.get(), JWTBundlesRequest());
    JWTBundlesResponse m;
    while (r->Read(&m)) {
    }
    out.push_back(r->Finish());
  }
  {
    auto c = ctx();
    JWTSVIDRequest req;
    req.add_audience("a");
    JWTSVIDResponse resp;
    out.push_back(stub->FetchJWTSVID(c.get(), req, &resp));
  }
  {
    auto c = ctx();
    ValidateJWTSVIDRequest req;
    req.set_audience("a");
    req.set_svid("x.y.z");
    ValidateJWTSVIDResponse resp;
    out.push_back(stub->ValidateJWTSVID(c.get(), req, &resp));
  }
  {
    auto c = ctx();
    auto r = stub->FetchWITSVID(c.get(), WITSVIDRequest());
    WITSVIDResponse m;
    while (r->Read(&m)) {
    }
    out.push_back(r->Finish());
  }
  {
    auto c = ctx();
    auto r = stub->FetchWITBundles(c.get(), WITBundlesRequest());
    WITBundlesResponse m;
    while (r->Read(&m)) {
    }
    out.push_back(r->Finish());
  }
  return out;
}

void ExpectAllInvalidHeader(WorkloadHandlerTest* t, SpiffeWorkloadAPI::Stub* stub,
                            std::vector<std::string> values) {
  auto statuses = CallAll(t, stub, [&] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    for (const auto& v : values) ctx->AddMetadata("workload.spiffe.io", v);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return ctx;
  });
  ASSERT_EQ(statuses.size(), 7u);
  for (size_t i = 0; i < statuses.size(); ++i) {
    EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "rpc #" << i;
    EXPECT_EQ(statuses[i].error_message(), "security header missing from request") << "rpc #" << i;
  }
}

TEST_F(WorkloadHandlerTest, HeaderAbsentIsInvalidArgumentOnEveryRpc) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  ExpectAllInvalidHeader(this, stub_.get(), {});
}
TEST_F(WorkloadHandlerTest, HeaderTitleCaseTrueIsInvalidArgument) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  ExpectAllInvalidHeader(this, stub_.get(), {"True"});
}
TEST_F(WorkloadHandlerTest, HeaderUpperCaseTrueIsInvalidArgument) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  ExpectAllInvalidHeader(this, stub_.get(), {"TRUE"});
}
TEST_F(WorkloadHandlerTest, HeaderFalseIsInvalidArgument) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  ExpectAllInvalidHeader(this, stub_.get(), {"false"});
}
TEST_F(WorkloadHandlerTest, HeaderEmptyIsInvalidArgument) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  ExpectAllInvalidHeader(this, stub_.get(), {""});
}
TEST_F(WorkloadHandlerTest, HeaderTwiceIsInvalidArgument) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  ExpectAllInvalidHeader(this, stub_.get(), {"true", "true"});
}

TEST_F(WorkloadHandlerTest, WitRpcsAreUnimplemented) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  // The three streams stay open (entitled caller): end them by a short
  // deadline. The other RPCs answer at once and keep Ctx()'s 10 s deadline
  // (200 ms for them too made a slow run, e.g. under ThreadSanitizer on a
  // loaded machine, see DEADLINE_EXCEEDED instead of UNIMPLEMENTED).
  int calls = 0;
  auto statuses = CallAll(this, stub_.get(), [this, &calls] {
    auto c = Ctx();
    if (calls++ < 3) c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
    return c;
  });
  ASSERT_EQ(statuses.size(), 7u);
  EXPECT_EQ(statuses[5].error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(statuses[6].error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(WorkloadHandlerTest, NotReadyIsUnavailable) {
  X509SVIDResponse r;
  grpc::Status s = FirstX509(&r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("not ready"));
}

TEST_F(WorkloadHandlerTest, NoMatchingEntryIsPermissionDenied) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {{"unix", "uid:5"}})}));
  X509SVIDResponse r;
  grpc::Status s = FirstX509(&r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "no identity issued");
}

TEST_F(WorkloadHandlerTest, UnknownPeerIsUnauthenticated) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  peer_ok_ = false;
  X509SVIDResponse r;
  EXPECT_EQ(FirstX509(&r).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(WorkloadHandlerTest, PidReuseIsUnauthenticatedAndClosesConnection) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  pinner_.SetCheck(absl::UnauthenticatedError("caller process changed during attestation"));
  X509SVIDResponse r;
  grpc::Status s = FirstX509(&r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("changed"));
  EXPECT_EQ(closed_, 1);
}

TEST_F(WorkloadHandlerTest, ProcessGoneBeforePinIsUnauthenticated) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  {
    absl::MutexLock l(&pinner_.mu);
    pinner_.pin_status = absl::UnauthenticatedError("caller process is gone");
  }
  X509SVIDResponse r;
  EXPECT_EQ(FirstX509(&r).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(WorkloadHandlerTest, AttestationFailureIsUnavailable) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  attestor_.result = absl::InternalError("boom");
  X509SVIDResponse r;
  EXPECT_EQ(FirstX509(&r).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(WorkloadHandlerTest, SeveralEntriesGiveSeveralSvidsInStableOrderWithUniqueHints) {
  // Snapshot order is the manager's (sorted by spiffe_id, id).
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid}, "h1"),
                      Entry("e2", "spiffe://example.org/b", {kUid, kGid}, "h1"),
                      Entry("e3", "spiffe://example.org/c", {kGid}, ""),
                      Entry("e4", "spiffe://example.org/d", {kGid}, ""),
                      Entry("e5", "spiffe://example.org/e", {{"unix", "uid:1"}})}));
  X509SVIDResponse r;
  grpc::Status s = FirstX509(&r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(r.svids_size(), 3);
  EXPECT_EQ(r.svids(0).spiffe_id(), "spiffe://example.org/a");
  EXPECT_EQ(r.svids(1).spiffe_id(), "spiffe://example.org/c");
  EXPECT_EQ(r.svids(2).spiffe_id(), "spiffe://example.org/d");
  // DER forms.
  auto chain = ParseCertsDer(r.svids(0).x509_svid());
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(SpiffeIdFromCert((*chain)[0].get())->ToString(), "spiffe://example.org/a");
  EXPECT_TRUE(ParsePrivateKeyDer(r.svids(0).x509_svid_key()).ok());
  EXPECT_EQ(r.svids(0).bundle(), *CertToDer(ca_.get()));
}

TEST_F(WorkloadHandlerTest, StreamPushesRotationAndEndsWhenEntryDeleted) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid})}));
  auto ctx = Ctx();
  auto reader = stub_->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse first, second, third;
  ASSERT_TRUE(reader->Read(&first));
  // Rotation: new material for the same entry.
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid}),
                      Entry("e2", "spiffe://example.org/b", {kUid})}));
  ASSERT_TRUE(reader->Read(&second));
  EXPECT_EQ(second.svids_size(), 2);
  EXPECT_NE(first.svids(0).x509_svid(), second.svids(0).x509_svid());
  // e2 deleted: next message without it.
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid})}));
  ASSERT_TRUE(reader->Read(&third));
  EXPECT_EQ(third.svids_size(), 1);
  // Everything deleted: PermissionDenied.
  manager_.Set(Ready({}));
  X509SVIDResponse none;
  EXPECT_FALSE(reader->Read(&none));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// WaitOpenStreams waits (bounded) until the handler has `n` open streams.
bool WaitOpenStreams(WorkloadHandler* h, size_t n) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (h->open_streams() != n) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST_F(WorkloadHandlerTest, CancelledStreamIsReleased) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid})}));
  auto ctx = Ctx();
  auto reader = stub_->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(handler_->open_streams(), 1u);
  ctx->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitOpenStreams(handler_.get(), 0));
}

TEST_F(WorkloadHandlerTest, EntitledButNotMintedIsUnavailableAfterMintWait) {
  WorkloadEntry e = Entry("e1", "spiffe://example.org/a", {kUid});
  e.svid = nullptr;
  manager_.Set(Ready({e}));
  auto ctx = Ctx();
  auto reader = stub_->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse m;
  EXPECT_FALSE(reader->Read(&m));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "agent is not ready: no identities synced yet");
  EXPECT_TRUE(WaitOpenStreams(handler_.get(), 0));
}

TEST_F(WorkloadHandlerTest, PendingSvidIsSentOnceMinted) {
  WorkloadEntry e = Entry("e1", "spiffe://example.org/a", {kUid});
  WorkloadEntry pending = e;
  pending.svid = nullptr;
  manager_.Set(Ready({pending}));
  auto ctx = Ctx();
  auto reader = stub_->FetchX509SVID(ctx.get(), X509SVIDRequest());
  ASSERT_TRUE(WaitOpenStreams(handler_.get(), 1));
  manager_.Set(Ready({e}));
  X509SVIDResponse m;
  ASSERT_TRUE(reader->Read(&m));
  EXPECT_EQ(m.svids(0).x509_svid(), e.svid->chain_der);
}

TEST_F(WorkloadHandlerTest, UnchangedSnapshotSendsNothingNew) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid}),
                      Entry("e9", "spiffe://example.org/z", {{"unix", "uid:9"}})}));
  auto ctx = Ctx();
  // The deadline counts from the call's start (it cannot be changed later).
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
  auto reader = stub_->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse first;
  ASSERT_TRUE(reader->Read(&first));
  // Change only an entry the caller does not match: same content, no message.
  AgentSnapshot s = Ready({});
  s.entries = manager_.Snapshot()->entries;
  s.entries.pop_back();
  s.bundle = manager_.Snapshot()->bundle;
  manager_.Set(std::move(s));
  X509SVIDResponse next;
  EXPECT_FALSE(reader->Read(&next));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(WorkloadHandlerTest, X509BundlesKeyedBySpiffeTd) {
  WorkloadEntry e = Entry("e1", "spiffe://example.org/a", {kUid});
  e.federates_with = {"spiffe://other.org"};
  AgentSnapshot s = Ready({e});
  Bundle other(*TrustDomain::FromString("other.org"));
  other.AddX509Authority(CopyCert(ca_.get()));
  s.federated.emplace("other.org", other);
  manager_.Set(std::move(s));
  auto ctx = Ctx();
  auto reader = stub_->FetchX509Bundles(ctx.get(), X509BundlesRequest());
  X509BundlesResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.bundles().at("spiffe://example.org"), *CertToDer(ca_.get()));
  EXPECT_EQ(r.bundles().count("spiffe://other.org"), 1u);
  ctx->TryCancel();
  X509SVIDResponse x;
  grpc::Status st = FirstX509(&x);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(x.federated_bundles().count("spiffe://other.org"), 1u);
}

TEST_F(WorkloadHandlerTest, JwtBundlesArePlainJwks) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid})}));
  auto ctx = Ctx();
  auto reader = stub_->FetchJWTBundles(ctx.get(), JWTBundlesRequest());
  JWTBundlesResponse r;
  ASSERT_TRUE(reader->Read(&r));
  ASSERT_EQ(r.bundles().count("spiffe://example.org"), 1u);
  EXPECT_THAT(r.bundles().at("spiffe://example.org"), HasSubstr("kid1"));
  EXPECT_THAT(r.bundles().at("spiffe://example.org"), ::testing::Not(HasSubstr("x509-svid")));
}

TEST_F(WorkloadHandlerTest, FetchJwtSvidWithoutAudienceIsInvalidArgument) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid})}));
  auto ctx = Ctx();
  JWTSVIDResponse resp;
  grpc::Status s = stub_->FetchJWTSVID(ctx.get(), JWTSVIDRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("audience"));
}

TEST_F(WorkloadHandlerTest, FetchJwtSvidMalformedSpiffeIdIsInvalidArgument) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid})}));
  auto ctx = Ctx();
  JWTSVIDRequest req;
  req.add_audience("aud");
  req.set_spiffe_id("http://example.org/a");
  JWTSVIDResponse resp;
  EXPECT_EQ(stub_->FetchJWTSVID(ctx.get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(WorkloadHandlerTest, FetchJwtSvidForUnentitledIdIsPermissionDenied) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid})}));
  auto ctx = Ctx();
  JWTSVIDRequest req;
  req.add_audience("aud");
  req.set_spiffe_id("spiffe://example.org/b");
  JWTSVIDResponse resp;
  grpc::Status s = stub_->FetchJWTSVID(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "no identity issued");
}

TEST_F(WorkloadHandlerTest, FetchJwtSvidAllIdentitiesThenValidate) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/a", {kUid}),
                      Entry("e2", "spiffe://example.org/b", {kGid})}));
  JWTSVIDResponse resp;
  {
    auto ctx = Ctx();
    JWTSVIDRequest req;
    req.add_audience("aud");
    grpc::Status s = stub_->FetchJWTSVID(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(resp.svids_size(), 2);
  EXPECT_EQ(resp.svids(0).spiffe_id(), "spiffe://example.org/a");
  EXPECT_EQ(resp.svids(1).spiffe_id(), "spiffe://example.org/b");
  {
    auto ctx = Ctx();
    ValidateJWTSVIDRequest req;
    req.set_audience("aud");
    req.set_svid(resp.svids(1).svid());
    ValidateJWTSVIDResponse v;
    grpc::Status s = stub_->ValidateJWTSVID(ctx.get(), req, &v);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(v.spiffe_id(), "spiffe://example.org/b");
    EXPECT_EQ(v.claims().fields().at("sub").string_value(), "spiffe://example.org/b");
  }
  {
    auto ctx = Ctx();
    ValidateJWTSVIDRequest req;
    req.set_audience("other");
    req.set_svid(resp.svids(1).svid());
    ValidateJWTSVIDResponse v;
    EXPECT_EQ(stub_->ValidateJWTSVID(ctx.get(), req, &v).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(WorkloadHandlerTest, ValidateWithoutAudienceIsInvalidArgument) {
  manager_.Set(Ready({}));
  auto ctx = Ctx();
  ValidateJWTSVIDRequest req;
  req.set_svid("a.b.c");
  ValidateJWTSVIDResponse v;
  grpc::Status s = stub_->ValidateJWTSVID(ctx.get(), req, &v);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("audience"));
}

TEST_F(WorkloadHandlerTest, ValidateWithoutSvidIsInvalidArgument) {
  manager_.Set(Ready({}));
  auto ctx = Ctx();
  ValidateJWTSVIDRequest req;
  req.set_audience("a");
  ValidateJWTSVIDResponse v;
  grpc::Status s = stub_->ValidateJWTSVID(ctx.get(), req, &v);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("svid"));
}

TEST_F(WorkloadHandlerTest, ValidateGarbageIsInvalidArgument) {
  manager_.Set(Ready({}));
  auto ctx = Ctx();
  ValidateJWTSVIDRequest req;
  req.set_audience("a");
  req.set_svid("not-a-jwt");
  ValidateJWTSVIDResponse v;
  EXPECT_EQ(stub_->ValidateJWTSVID(ctx.get(), req, &v).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// The per-connection selector cache: further streams on a connection of the
// same, still pinned process skip attestation for selector_cache_ttl.
TEST_F(WorkloadHandlerTest, SelectorsAreReusedOnTheSameConnection) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  peer_pid_ = getpid();  // its /proc/<pid>/status is read (credentials)
  conn_id_ = 7;
  X509SVIDResponse r;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(FirstX509(&r).ok()) << i;
  JWTSVIDResponse j;
  auto ctx = Ctx();
  JWTSVIDRequest req;
  req.add_audience("a");
  ASSERT_TRUE(stub_->FetchJWTSVID(ctx.get(), req, &j).ok());
  EXPECT_EQ(attestor_.calls, 1);
  EXPECT_EQ(handler_->attestations(), 1u);
  // Another connection of the same process is attested on its own.
  conn_id_ = 8;
  ASSERT_TRUE(FirstX509(&r).ok());
  EXPECT_EQ(attestor_.calls, 2);
}

TEST_F(WorkloadHandlerTest, ConnectionWithoutIdIsAttestedOnEveryCall) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  peer_pid_ = getpid();
  X509SVIDResponse r;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(FirstX509(&r).ok()) << i;
  EXPECT_EQ(attestor_.calls, 3);
}

TEST_F(WorkloadHandlerTest, ZeroSelectorCacheTtlAttestsEveryCall) {
  StopHandler();
  StartHandler(absl::ZeroDuration());
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  peer_pid_ = getpid();
  conn_id_ = 7;
  X509SVIDResponse r;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(FirstX509(&r).ok()) << i;
  EXPECT_EQ(attestor_.calls, 3);
}

TEST_F(WorkloadHandlerTest, CachedSelectorsExpireAfterTtl) {
  // The cache reads the handler's clock, which the test moves forward.
  StopHandler();
  StartHandler(absl::Minutes(1));
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  peer_pid_ = getpid();
  conn_id_ = 7;
  X509SVIDResponse r;
  ASSERT_TRUE(FirstX509(&r).ok());
  AdvanceClock(absl::Seconds(50));
  ASSERT_TRUE(FirstX509(&r).ok());
  EXPECT_EQ(attestor_.calls, 1);
  AdvanceClock(absl::Seconds(11));  // 61 s after the entry was cached
  ASSERT_TRUE(FirstX509(&r).ok());
  EXPECT_EQ(attestor_.calls, 2);
}

TEST_F(WorkloadHandlerTest, CachedCallerWhoseProcessExitedIsAttestedAgain) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  peer_pid_ = getpid();
  conn_id_ = 7;
  X509SVIDResponse r;
  ASSERT_TRUE(FirstX509(&r).ok());
  // The pinned process is gone: the cache is not used, the full path runs
  // and refuses the caller as for any pid that changed under attestation.
  pinner_.SetCheck(absl::UnauthenticatedError("caller process exited during attestation"));
  grpc::Status s = FirstX509(&r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "caller process exited during attestation");
  EXPECT_EQ(attestor_.calls, 2);
  EXPECT_EQ(closed_, 1);
}

TEST_F(WorkloadHandlerTest, CachedSelectorsFollowEntryChanges) {
  // Only the selectors are cached, never what they entitle to.
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  peer_pid_ = getpid();
  conn_id_ = 7;
  X509SVIDResponse r;
  ASSERT_TRUE(FirstX509(&r).ok());
  manager_.Set(Ready({}));
  EXPECT_EQ(FirstX509(&r).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  manager_.Set(Ready({Entry("e2", "spiffe://example.org/v", {kUid})}));
  ASSERT_TRUE(FirstX509(&r).ok());
  EXPECT_EQ(r.svids(0).spiffe_id(), "spiffe://example.org/v");
  EXPECT_EQ(attestor_.calls, 1);
}

TEST_F(WorkloadHandlerTest, SlowAttestationDoesNotHoldUpOtherCallers) {
  manager_.Set(Ready({Entry("e1", "spiffe://example.org/w", {kUid})}));
  peer_pid_ = getpid();
  absl::Notification release;
  attestor_.block_first = &release;
  X509SVIDResponse slow_resp;
  grpc::Status slow_status;
  std::thread slow([&] { slow_status = FirstX509(&slow_resp); });
  while (attestor_.calls < 1) absl::SleepFor(absl::Milliseconds(1));
  // The first caller's attestation is stuck; a second one is served.
  X509SVIDResponse r;
  grpc::Status s = FirstX509(&r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(attestor_.calls, 2);
  release.Notify();
  slow.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
}

// Many short streams from several threads while entries come and go: every
// call ends with an SVID or PermissionDenied (none hangs until its deadline)
// and every stream is released.
TEST_F(WorkloadHandlerTest, ManyConcurrentShortStreamsAllEnd) {
  peer_pid_ = getpid();
  conn_id_ = 7;
  WorkloadEntry e = Entry("e1", "spiffe://example.org/w", {kUid});
  manager_.Set(Ready({e}));
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    for (int i = 0; !stop; ++i) {
      manager_.Set(i % 2 ? Ready({e}) : Ready({}));
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  std::atomic<int> ok{0}, denied{0}, other{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        X509SVIDResponse r;
        grpc::Status s = FirstX509(&r);
        if (s.ok()) {
          ++ok;
        } else if (s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
          ++denied;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  stop = true;
  flipper.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(ok + denied, 800);
  EXPECT_GT(ok, 0);
  EXPECT_TRUE(WaitOpenStreams(handler_.get(), 0));
}

TEST(ProcessStartTimeTest, OwnStartTimeIsStable) {
  auto a = ProcessStartTime(getpid());
  auto b = ProcessStartTime(getpid());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(ProcessStartTime(0x3ffffff0).ok());
}

TEST(LinuxPinnerTest, LiveProcessChecksOkExitedChildFails) {
  auto pinner = NewLinuxProcessPinner();
  auto self = pinner->Pin(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_TRUE((*self)->Check().ok());
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  auto pinned = pinner->Pin(child);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_TRUE((*pinned)->Check().ok());
  kill(child, SIGKILL);
  int st;
  waitpid(child, &st, 0);
  absl::Status s = (*pinned)->Check();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
}

// ProcStatusFile: the credential lines of the process it was opened for,
// read through one descriptor, until that process is reaped.
TEST(ProcStatusFileTest, ReadsCredentialLinesUntilTheProcessIsReaped) {
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  std::shared_ptr<ProcStatusFile> f = ProcStatusFile::Open(child);
  ASSERT_NE(f, nullptr);
  std::optional<std::string> creds = f->Creds();
  ASSERT_TRUE(creds.has_value());
  const std::string uid = absl::StrCat(getuid());
  const std::string gid = absl::StrCat(getgid());
  EXPECT_THAT(*creds, ::testing::StartsWith(absl::StrCat("Uid:\t", uid, "\t")));
  EXPECT_THAT(*creds, HasSubstr(absl::StrCat("\nGid:\t", gid, "\t")));
  EXPECT_THAT(*creds, HasSubstr("\nGroups:"));
  EXPECT_EQ(std::count(creds->begin(), creds->end(), '\n'), 3) << *creds;
  EXPECT_EQ(f->Creds(), creds);  // re-read through the same descriptor
  kill(child, SIGKILL);
  int st;
  waitpid(child, &st, 0);
  EXPECT_EQ(f->Creds(), std::nullopt);
}

TEST(ProcStatusFileTest, ProcessThatIsGoneCannotBeOpened) {
  EXPECT_EQ(ProcStatusFile::Open(0x3ffffff0), nullptr);
}

}  // namespace
}  // namespace signet::agent
