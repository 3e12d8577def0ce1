#include "client/internal/workload_conn.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/endpoint.h"
#include "common/grpc_status.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace signet::client {

absl::Duration LinearBackoff::Next() {
  ++n_;
  return unit_ * std::min(n_, kMaxSteps);
}

std::string X509Svid::ChainPem() const {
  std::string out;
  for (const X509Ptr& c : chain) {
    absl::StatusOr<std::string> pem = CertToPem(c.get());
    if (!pem.ok()) return "";
    out += *pem;
  }
  return out;
}

std::string X509Svid::KeyPem() const {
  absl::StatusOr<std::string> pem = PrivateKeyToPkcs8Pem(private_key.get());
  return pem.ok() ? *pem : "";
}

StaticX509Source::StaticX509Source(std::shared_ptr<const X509Svid> svid,
                                   std::shared_ptr<const BundleSet> bundles)
    : svid_(std::move(svid)), bundles_(std::move(bundles)) {}

void StaticX509Source::Set(std::shared_ptr<const X509Svid> svid,
                           std::shared_ptr<const BundleSet> bundles) {
  absl::MutexLock l(&mu_);
  svid_ = std::move(svid);
  bundles_ = std::move(bundles);
}

std::shared_ptr<const X509Svid> StaticX509Source::GetX509Svid() const {
  absl::MutexLock l(&mu_);
  return svid_;
}

std::shared_ptr<const BundleSet> StaticX509Source::GetX509Bundles() const {
  absl::MutexLock l(&mu_);
  return bundles_;
}

namespace internal {

WorkloadConn::WorkloadConn(WorkloadApiOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(SpiffeWorkloadAPI::NewStub(channel_)) {}

absl::StatusOr<std::shared_ptr<WorkloadConn>> WorkloadConn::Create(
    const WorkloadApiOptions& options) {
  ASSIGN_OR_RETURN(std::string target, WorkloadEndpointFromEnvOrFlag(options.address));
  grpc::ChannelArguments args;
  // Reconnect quickly after the agent restarts; our own backoff paces streams.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create channel to ", target));
  }
  return std::shared_ptr<WorkloadConn>(new WorkloadConn(options, std::move(channel)));
}

std::unique_ptr<grpc::ClientContext> WorkloadConn::NewContext(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata(kWorkloadHeaderKey, kWorkloadHeaderValue);
  if (timeout > absl::ZeroDuration()) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return ctx;
}

namespace {

absl::Status Invalid(absl::string_view msg) { return absl::InvalidArgumentError(msg); }

bool HasKeyUsageExt(X509* cert) { return (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0; }

// ValidateSvidChain mirrors go-spiffe's x509svid validateCertificates.
absl::StatusOr<SpiffeId> ValidateSvidChain(const std::vector<X509Ptr>& chain) {
  X509* leaf = chain[0].get();
  ASSIGN_OR_RETURN(SpiffeId id, SpiffeIdFromCert(leaf));
  if (id.path().empty()) return Invalid("leaf certificate SPIFFE ID must have a non-root path");
  if (CertIsCa(leaf)) return Invalid("leaf certificate must not have CA flag set to true");
  uint32_t ku = X509_get_key_usage(leaf);
  if (!HasKeyUsageExt(leaf) || (ku & KU_DIGITAL_SIGNATURE) == 0) {
    return Invalid("leaf certificate must have 'digitalSignature' set as key usage");
  }
  if ((ku & KU_KEY_CERT_SIGN) != 0) {
    return Invalid("leaf certificate must not have 'keyCertSign' set as key usage");
  }
  if ((ku & KU_CRL_SIGN) != 0) {
    return Invalid("leaf certificate must not have 'cRLSign' set as key usage");
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    X509* c = chain[i].get();
    if (!CertIsCa(c)) return Invalid("signing certificate must have CA flag set to true");
    if (!HasKeyUsageExt(c) || (X509_get_key_usage(c) & KU_KEY_CERT_SIGN) == 0) {
      return Invalid("signing certificate must have 'keyCertSign' set as key usage");
    }
  }
  return id;
}

absl::StatusOr<std::shared_ptr<const X509Svid>> ParseSvid(const X509SVID& in) {
  if (in.x509_svid().empty()) return Invalid("X509SVID has no certificates");
  ASSIGN_OR_RETURN(std::vector<X509Ptr> chain, ParseCertsDer(in.x509_svid()));
  absl::StatusOr<SpiffeId> id = ValidateSvidChain(chain);
  if (!id.ok()) return Invalid(absl::StrCat("invalid X509-SVID: ", id.status().message()));
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKeyDer(in.x509_svid_key());
  if (!key.ok()) {
    return Invalid(absl::StrCat("invalid X509-SVID key: ", key.status().message()));
  }
  if (!PublicKeysEqual(X509_get0_pubkey(chain[0].get()), key->get())) {
    ClearOpensslErrors();
    return Invalid("leaf certificate public key does not match the private key");
  }
  auto svid =
      std::make_shared<X509Svid>(X509Svid{*id, std::move(chain), *std::move(key), in.hint()});
  return std::shared_ptr<const X509Svid>(std::move(svid));
}

}  // namespace

absl::StatusOr<X509Context> ParseX509SvidResponse(const X509SVIDResponse& resp) {
  if (resp.svids().empty()) return Invalid("no SVIDs in response");
  X509Context ctx;
  auto bundles = std::make_shared<BundleSet>();
  std::set<std::string> hints;
  for (const X509SVID& in : resp.svids()) {
    if (!in.hint().empty() && !hints.insert(in.hint()).second) continue;  // F8: first wins
    ASSIGN_OR_RETURN(std::shared_ptr<const X509Svid> svid, ParseSvid(in));
    absl::StatusOr<SpiffeId> declared = SpiffeId::FromString(in.spiffe_id());
    if (!declared.ok()) {
      return Invalid(absl::StrCat("invalid spiffe_id: ", declared.status().message()));
    }
    absl::StatusOr<Bundle> b = Bundle::FromX509Der(declared->trust_domain(), in.bundle());
    if (!b.ok()) return Invalid(absl::StrCat("invalid bundle: ", b.status().message()));
    bundles->Put(*std::move(b));
    ctx.svids.push_back(std::move(svid));
  }
  for (const auto& [key, der] : resp.federated_bundles()) {
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString(key);
    if (!td.ok()) {
      return Invalid(
          absl::StrCat("invalid federated bundle key \"", key, "\": ", td.status().message()));
    }
    absl::StatusOr<Bundle> b = Bundle::FromX509Der(*td, der);
    if (!b.ok()) {
      return Invalid(
          absl::StrCat("invalid federated bundle for \"", key, "\": ", b.status().message()));
    }
    // Never let a federated entry replace the own trust domain's bundle.
    if (bundles->Find(*td) == nullptr) bundles->Put(*std::move(b));
  }
  ctx.bundles = std::move(bundles);
  return ctx;
}

absl::StatusOr<BundleSet> ParseX509BundlesResponse(const X509BundlesResponse& resp) {
  BundleSet out;
  for (const auto& [key, der] : resp.bundles()) {
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString(key);
    if (!td.ok()) {
      return Invalid(absl::StrCat("invalid bundle key \"", key, "\": ", td.status().message()));
    }
    absl::StatusOr<Bundle> b = Bundle::FromX509Der(*td, der);
    if (!b.ok()) {
      return Invalid(absl::StrCat("invalid bundle for \"", key, "\": ", b.status().message()));
    }
    out.Put(*std::move(b));
  }
  return out;
}

absl::StatusOr<BundleSet> ParseJwtBundlesResponse(const JWTBundlesResponse& resp) {
  using google::protobuf::Struct;
  using google::protobuf::Value;
  BundleSet out;
  for (const auto& [key, json] : resp.bundles()) {
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString(key);
    if (!td.ok()) {
      return Invalid(absl::StrCat("invalid bundle key \"", key, "\": ", td.status().message()));
    }
    Struct root;
    if (!google::protobuf::util::JsonStringToMessage(json, &root).ok()) {
      return Invalid(absl::StrCat("JWT bundle for \"", key, "\" is not a JSON object"));
    }
    auto keys_it = root.fields().find("keys");
    if (keys_it == root.fields().end() || keys_it->second.kind_case() != Value::kListValue) {
      return Invalid(absl::StrCat("JWT bundle for \"", key, "\" has no \"keys\" array"));
    }
    Value* keys = &(*root.mutable_fields())["keys"];
    for (int i = 0; i < keys->list_value().values_size(); ++i) {
      Value* jwk = keys->mutable_list_value()->mutable_values(i);
      if (jwk->kind_case() != Value::kStructValue) {
        return Invalid(absl::StrCat("JWT bundle for \"", key, "\": key ", i, " is not an object"));
      }
      auto kid = jwk->struct_value().fields().find("kid");
      if (kid == jwk->struct_value().fields().end() ||
          kid->second.kind_case() != Value::kStringValue || kid->second.string_value().empty()) {
        return Invalid(absl::StrCat("JWT bundle for \"", key, "\": error adding authority ", i,
                                    " of JWKS: keyID cannot be empty"));
      }
      // go-spiffe ignores "use": treat every key of a JWT bundle as jwt-svid.
      (*jwk->mutable_struct_value()->mutable_fields())["use"].set_string_value("jwt-svid");
    }
    std::string normalized;
    if (!google::protobuf::util::MessageToJsonString(root, &normalized).ok()) {
      return absl::InternalError("cannot re-encode JWT bundle");
    }
    absl::StatusOr<Bundle> b = Bundle::ParseJwks(*td, normalized);
    if (!b.ok()) {
      return Invalid(absl::StrCat("invalid JWT bundle for \"", key, "\": ", b.status().message()));
    }
    out.Put(*std::move(b));
  }
  return out;
}

absl::StatusOr<std::vector<JwtSvidToken>> ParseJwtSvidResponse(
    const JWTSVIDResponse& resp, const std::vector<std::string>& audiences, absl::Time now) {
  if (resp.svids().empty()) return Invalid("there were no SVIDs in the response");
  std::vector<JwtSvidToken> out;
  std::set<std::string> hints;
  for (const JWTSVID& in : resp.svids()) {
    if (!in.hint().empty() && !hints.insert(in.hint()).second) continue;
    absl::StatusOr<JwtSvid> parsed = ParseJwtSvidInsecure(in.svid(), audiences, now);
    if (!parsed.ok()) {
      return Invalid(absl::StrCat("invalid JWT-SVID: ", parsed.status().message()));
    }
    out.push_back(JwtSvidToken{in.svid(), *std::move(parsed), in.hint()});
  }
  return out;
}

StreamWatcher::StreamWatcher(std::string name, absl::Duration backoff_unit, RunStream run,
                             ErrorFn on_error, ErrorFn on_stop)
    : name_(std::move(name)),
      backoff_unit_(backoff_unit),
      run_(std::move(run)),
      on_error_(std::move(on_error)),
      on_stop_(std::move(on_stop)),
      backoff_(backoff_unit) {}

StreamWatcher::~StreamWatcher() { Stop(); }

void StreamWatcher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void StreamWatcher::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    if (ctx_ != nullptr) ctx_->TryCancel();
  }
  // Close() may be called from several threads at once: join only once.
  absl::MutexLock j(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

void StreamWatcher::ResetBackoff() {
  absl::MutexLock l(&mu_);
  backoff_.Reset();
}

void StreamWatcher::Loop() {
  while (true) {
    std::unique_ptr<grpc::ClientContext> ctx = WorkloadConn::NewContext();
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      ctx_ = ctx.get();
    }
    grpc::Status st = run_(ctx.get());
    absl::Duration delay;
    {
      absl::MutexLock l(&mu_);
      ctx_ = nullptr;
      if (stopping_) return;
      delay = backoff_.Next();
    }
    absl::Status s = FromGrpcStatus(st);
    if (st.ok()) s = absl::UnavailableError("workload API stream ended");
    if (st.error_code() == grpc::StatusCode::CANCELLED ||
        st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      LogWarn("workload API watch stopped", {{"stream", name_}, {"error", s.ToString()}});
      on_stop_(s);
      return;
    }
    on_error_(s);
    LogDebug(
        "workload API stream failed; retrying",
        {{"stream", name_}, {"error", s.ToString()}, {"backoff", absl::FormatDuration(delay)}});
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
    if (stopping_) return;
  }
}

}  // namespace internal
}  // namespace signet::client
