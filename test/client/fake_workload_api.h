// A scriptable in-process SpiffeWorkloadAPI server on a unix socket, plus a
// test CA that mints real SVIDs, for the client library tests.
#ifndef SIGNET_TEST_CLIENT_FAKE_WORKLOAD_API_H_
#define SIGNET_TEST_CLIENT_FAKE_WORKLOAD_API_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bundle.h"
#include "common/issuance/x509_issuer.h"
#include "common/jwt.h"
#include "common/keys.h"
#include "common/x509.h"
#include "gtest/gtest.h"
#include "test/testutil/testutil.h"
#include "workload/workload.grpc.pb.h"

namespace signet::clienttest {

// TestCa is a self-signed CA for one trust domain that issues X.509-SVIDs
// and JWT-SVIDs.
class TestCa {
 public:
  explicit TestCa(const std::string& td) : td_(*TrustDomain::FromString(td)) {
    key_ = *GenerateKey(KeyType::kEcP256);
    CaParams p{td_, "Signet CA", "SPIFFE", absl::Now(), absl::Hours(24)};
    cert_ = *CreateSelfSignedCa(key_.get(), p);
    jwt_key_ = *GenerateKey(KeyType::kEcP256);
  }
  const TrustDomain& td() const { return td_; }
  const X509* cert() const { return cert_.get(); }
  std::string BundleDer() const { return *CertToDer(cert_.get()); }
  Bundle X509Bundle() const {
    Bundle b(td_);
    b.AddX509Authority(CopyCert(cert_.get()));
    return b;
  }
  // JwtJwks returns a plain JWKS with the JWT signing key (kid "k1").
  std::string JwtJwks() const {
    Bundle b(td_);
    b.AddJwtAuthority("k1", *ParsePublicKeyDer(*PublicKeyToDer(jwt_key_.get())));
    return b.ToJwtJwks();
  }
  std::string SignJwt(const std::string& sub, const std::vector<std::string>& aud,
                      absl::Duration ttl = absl::Minutes(5)) const {
    JwtSvidParams p{*SpiffeId::FromString(sub), aud, absl::Now(), absl::Now() + ttl, ""};
    return *SignJwtSvid(jwt_key_.get(), "k1", p);
  }

  // Svid returns an X509SVID message for `id` with a fresh key.
  X509SVID Svid(const std::string& id, const std::string& hint = "") const {
    EvpPkeyPtr key = *GenerateKey(KeyType::kEcP256);
    LeafParams p{*SpiffeId::FromString(id), {}, absl::Now(), absl::Hours(1)};
    X509Ptr leaf = *IssueLeaf(cert_.get(), key_.get(), key.get(), p);
    X509SVID s;
    s.set_spiffe_id(id);
    s.set_x509_svid(*CertToDer(leaf.get()));
    s.set_x509_svid_key(*PrivateKeyToPkcs8Der(key.get()));
    s.set_bundle(BundleDer());
    s.set_hint(hint);
    return s;
  }
  X509SVIDResponse Response(const std::string& id) const {
    X509SVIDResponse r;
    *r.add_svids() = Svid(id);
    return r;
  }

 private:
  TrustDomain td_;
  EvpPkeyPtr key_;
  X509Ptr cert_;
  EvpPkeyPtr jwt_key_;
};

// FakeWorkloadApi serves scripted streams: each stream kind has a queue of
// steps (a message to send, or a status to end the stream with) consumed in
// order by whichever stream of that kind is open; an open stream waits for
// the next step. Records the security header of every call.
class FakeWorkloadApi final : public SpiffeWorkloadAPI::Service {
 public:
  using X509Step = std::variant<X509SVIDResponse, grpc::Status>;
  using X509BundlesStep = std::variant<X509BundlesResponse, grpc::Status>;
  using JwtBundlesStep = std::variant<JWTBundlesResponse, grpc::Status>;

  FakeWorkloadApi() {
    builder_.AddListeningPort("unix:" + dir_.File("api.sock"), grpc::InsecureServerCredentials());
    builder_.RegisterService(this);
    server_ = builder_.BuildAndStart();
  }
  ~FakeWorkloadApi() override { Shutdown(); }

  void Shutdown() {
    {
      absl::MutexLock l(&mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }

  // Address returns the SPIFFE_ENDPOINT_SOCKET form of the socket.
  std::string Address() const { return "unix://" + dir_.File("api.sock"); }
  const testutil::TempDir& dir() const { return dir_; }

  void PushX509(X509Step s) {
    absl::MutexLock l(&mu_);
    x509_.push_back(std::move(s));
  }
  void PushX509Bundles(X509BundlesStep s) {
    absl::MutexLock l(&mu_);
    x509_bundles_.push_back(std::move(s));
  }
  void PushJwtBundles(JwtBundlesStep s) {
    absl::MutexLock l(&mu_);
    jwt_bundles_.push_back(std::move(s));
  }
  void SetJwtSvidResponse(grpc::Status st, JWTSVIDResponse r = {}) {
    absl::MutexLock l(&mu_);
    jwt_status_ = std::move(st);
    jwt_response_ = std::move(r);
  }

  // Calls returns how many calls of `method` arrived; MissingHeader how many
  // lacked "workload.spiffe.io: true".
  int Calls(const std::string& method) {
    absl::MutexLock l(&mu_);
    return calls_[method];
  }
  int MissingHeader() {
    absl::MutexLock l(&mu_);
    return missing_header_;
  }
  JWTSVIDRequest last_jwt_request() {
    absl::MutexLock l(&mu_);
    return last_jwt_request_;
  }
  // WaitCalls waits until `method` was called at least `n` times.
  bool WaitCalls(const std::string& method, int n) {
    return testutil::WaitFor([&] { return Calls(method) >= n; }, absl::Seconds(10));
  }

  grpc::Status FetchX509SVID(grpc::ServerContext* ctx, const X509SVIDRequest*,
                             grpc::ServerWriter<X509SVIDResponse>* w) override {
    Record(ctx, "FetchX509SVID");
    return Serve(ctx, &x509_, w);
  }
  grpc::Status FetchX509Bundles(grpc::ServerContext* ctx, const X509BundlesRequest*,
                                grpc::ServerWriter<X509BundlesResponse>* w) override {
    Record(ctx, "FetchX509Bundles");
    return Serve(ctx, &x509_bundles_, w);
  }
  grpc::Status FetchJWTBundles(grpc::ServerContext* ctx, const JWTBundlesRequest*,
                               grpc::ServerWriter<JWTBundlesResponse>* w) override {
    Record(ctx, "FetchJWTBundles");
    return Serve(ctx, &jwt_bundles_, w);
  }
  grpc::Status FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                            JWTSVIDResponse* resp) override {
    Record(ctx, "FetchJWTSVID");
    absl::MutexLock l(&mu_);
    last_jwt_request_ = *req;
    *resp = jwt_response_;
    return jwt_status_;
  }

 private:
  void Record(grpc::ServerContext* ctx, const std::string& method) {
    const auto& md = ctx->client_metadata();
    auto range = md.equal_range("workload.spiffe.io");
    bool ok = std::distance(range.first, range.second) == 1 && range.first->second == "true";
    absl::MutexLock l(&mu_);
    ++calls_[method];
    if (!ok) ++missing_header_;
  }

  template <typename Resp>
  grpc::Status Serve(grpc::ServerContext* ctx, std::deque<std::variant<Resp, grpc::Status>>* q,
                     grpc::ServerWriter<Resp>* w) {
    while (true) {
      std::variant<Resp, grpc::Status> step;
      {
        absl::MutexLock l(&mu_);
        auto ready = [&]() { return !q->empty() || shutdown_; };
        while (!mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(20))) {
          if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
        }
        if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
        step = std::move(q->front());
        q->pop_front();
      }
      if (auto* st = std::get_if<grpc::Status>(&step)) return *st;
      if (!w->Write(std::get<Resp>(step))) return grpc::Status::CANCELLED;
    }
  }

  testutil::TempDir dir_;
  grpc::ServerBuilder builder_;
  std::unique_ptr<grpc::Server> server_;

  absl::Mutex mu_;
  bool shutdown_ = false;
  std::deque<X509Step> x509_;
  std::deque<X509BundlesStep> x509_bundles_;
  std::deque<JwtBundlesStep> jwt_bundles_;
  grpc::Status jwt_status_ = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no identity");
  JWTSVIDResponse jwt_response_;
  JWTSVIDRequest last_jwt_request_;
  std::map<std::string, int> calls_;
  int missing_header_ = 0;
};

}  // namespace signet::clienttest

#endif  // SIGNET_TEST_CLIENT_FAKE_WORKLOAD_API_H_
