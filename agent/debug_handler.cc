#include "agent/debug_handler.h"

#include <openssl/bio.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/openssl_util.h"
#include "common/x509.h"

namespace signet::agent {
namespace {

namespace debugpb = spire::api::agent::debug::v1;

// SubjectString renders a certificate's subject the way RFC 2253 writes a
// distinguished name (most specific RDN first, comma separated).
std::string SubjectString(const X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  if (name == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  std::string out;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0 && data != nullptr) out.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  return out;
}

int32_t ClampInt32(int64_t v) { return static_cast<int32_t>(std::clamp<int64_t>(v, 0, INT32_MAX)); }

}  // namespace

debugpb::GetInfoResponse BuildGetInfoResponse(const AgentDebugInfo& info, absl::Time now) {
  debugpb::GetInfoResponse resp;
  for (const std::shared_ptr<const X509>& cert : info.svid_chain) {
    debugpb::GetInfoResponse::Cert* c = resp.add_svid_chain();
    // CA certificates of the chain usually carry no SPIFFE ID: leave id unset.
    if (absl::StatusOr<SpiffeId> id = SpiffeIdFromCert(cert.get()); id.ok()) {
      c->mutable_id()->set_trust_domain(id->trust_domain().name());
      c->mutable_id()->set_path(id->path());
    }
    c->set_expires_at(absl::ToUnixSeconds(CertNotAfter(cert.get())));
    c->set_subject(SubjectString(cert.get()));
  }
  resp.set_uptime(ClampInt32(absl::ToInt64Seconds(now - info.started)));
  resp.set_svids_count(info.cached_x509_svids);
  resp.set_cached_x509_svids_count(info.cached_x509_svids);
  resp.set_cached_jwt_svids_count(info.cached_jwt_svids);
  resp.set_cached_svidstore_x509_svids_count(0);
  resp.set_last_sync_success(
      info.last_sync == absl::InfinitePast() ? 0 : absl::ToUnixSeconds(info.last_sync));
  return resp;
}

grpc::ServerUnaryReactor* DebugHandler::GetInfo(grpc::CallbackServerContext* ctx,
                                                const debugpb::GetInfoRequest*,
                                                debugpb::GetInfoResponse* resp) {
  *resp = BuildGetInfoResponse(source_(), absl::Now());
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  r->Finish(grpc::Status::OK);
  return r;
}

}  // namespace signet::agent
