// Signet client library: options shared by every Workload API source, the
// SVID types the sources hand out, and the narrow interfaces the TLS and gRPC
// helpers consume (so tests and other code can feed them without a Workload
// API).
#ifndef SIGNET_CLIENT_WORKLOAD_API_H_
#define SIGNET_CLIENT_WORKLOAD_API_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bundle.h"
#include "common/jwt.h"
#include "common/openssl_util.h"
#include "common/spiffe_id.h"

namespace signet::client {

// Metadata every Workload API request carries (checklist E3).
inline constexpr char kWorkloadHeaderKey[] = "workload.spiffe.io";
inline constexpr char kWorkloadHeaderValue[] = "true";

// WorkloadApiOptions configures how a source reaches the Workload API.
struct WorkloadApiOptions {
  // Workload endpoint URI ("unix:///run/spire/api.sock", "tcp://127.0.0.1:8000").
  // Empty: $SPIFFE_ENDPOINT_SOCKET (E7).
  std::string address;
  // Step of the linear reconnect backoff (go-spiffe: 1s, 2s, 3s, ... capped at
  // 30 steps). Tests inject a few milliseconds.
  absl::Duration backoff_unit = absl::Seconds(1);
  // How long a source factory waits for the first valid message.
  absl::Duration initial_timeout = absl::Seconds(30);
  // Deadline of unary RPCs (FetchJWTSVID, ValidateJWTSVID).
  absl::Duration rpc_timeout = absl::Seconds(30);
};

// LinearBackoff yields unit, 2*unit, 3*unit, ... capped at 30*unit (go-spiffe's
// workloadapi backoff). Thread-compatible.
class LinearBackoff {
 public:
  explicit LinearBackoff(absl::Duration unit) : unit_(unit) {}
  // Next returns the next delay and advances.
  absl::Duration Next();
  // Reset starts again from one unit (after each successful receive).
  void Reset() { n_ = 0; }

 private:
  static constexpr int kMaxSteps = 30;
  absl::Duration unit_;
  int n_ = 0;
};

// X509Svid is one X.509-SVID with its private key. Immutable once built;
// shared between readers through std::shared_ptr<const X509Svid>.
struct X509Svid {
  SpiffeId id;
  std::vector<X509Ptr> chain;  // leaf first, then intermediates
  EvpPkeyPtr private_key;
  std::string hint;

  // ChainPem returns the chain as PEM blocks (leaf first); empty on error.
  std::string ChainPem() const;
  // KeyPem returns the PKCS#8 PEM of the private key; empty on error.
  std::string KeyPem() const;
};

// X509Context is one accepted X509SVIDResponse: the SVIDs in server order
// (svids[0] is the default identity, F9) and the bundles of the own and
// federated trust domains.
struct X509Context {
  std::vector<std::shared_ptr<const X509Svid>> svids;
  std::shared_ptr<const BundleSet> bundles;
};

// JwtSvidToken is a JWT-SVID fetched from the Workload API.
struct JwtSvidToken {
  std::string token;  // compact JWS
  JwtSvid svid;       // parsed claims (sub, aud, exp, ...)
  std::string hint;
};

// X509SvidSource hands out the current X.509-SVID. Implementations are
// thread-safe; the returned object stays valid while the caller holds it.
class X509SvidSource {
 public:
  virtual ~X509SvidSource() = default;
  // GetX509Svid returns the current default SVID (never null once built).
  virtual std::shared_ptr<const X509Svid> GetX509Svid() const = 0;
};

// X509BundleSource hands out the X.509 bundles used to verify peers (F17:
// never used for JWT-SVIDs). Thread-safe.
class X509BundleSource {
 public:
  virtual ~X509BundleSource() = default;
  virtual std::shared_ptr<const BundleSet> GetX509Bundles() const = 0;
};

// JwtBundleSource hands out the JWT bundles used to validate JWT-SVIDs.
// Thread-safe.
class JwtBundleSource {
 public:
  virtual ~JwtBundleSource() = default;
  virtual std::shared_ptr<const BundleSet> GetJwtBundles() const = 0;
};

// StaticX509Source serves fixed material (for tools and tests that do not
// use the Workload API). Set() swaps it atomically. Thread-safe.
class StaticX509Source final : public X509SvidSource, public X509BundleSource {
 public:
  StaticX509Source(std::shared_ptr<const X509Svid> svid, std::shared_ptr<const BundleSet> bundles);
  void Set(std::shared_ptr<const X509Svid> svid, std::shared_ptr<const BundleSet> bundles);
  std::shared_ptr<const X509Svid> GetX509Svid() const override;
  std::shared_ptr<const BundleSet> GetX509Bundles() const override;

 private:
  // Guarded by mu_
  mutable absl::Mutex mu_;
  std::shared_ptr<const X509Svid> svid_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const BundleSet> bundles_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::client

#endif  // SIGNET_CLIENT_WORKLOAD_API_H_
