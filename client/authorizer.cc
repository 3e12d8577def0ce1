#include "client/authorizer.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace signet::client {

Authorizer AuthorizeAny() {
  return [](const SpiffeId&) { return absl::OkStatus(); };
}

Authorizer AuthorizeId(SpiffeId id) {
  return [id = std::move(id)](const SpiffeId& peer) {
    if (peer == id) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat("unexpected ID \"", peer.ToString(), "\""));
  };
}

Authorizer AuthorizeOneOf(std::vector<SpiffeId> ids) {
  return [ids = std::move(ids)](const SpiffeId& peer) {
    for (const SpiffeId& id : ids) {
      if (peer == id) return absl::OkStatus();
    }
    return absl::PermissionDeniedError(absl::StrCat("unexpected ID \"", peer.ToString(), "\""));
  };
}

Authorizer AuthorizeMemberOf(TrustDomain td) {
  return [td = std::move(td)](const SpiffeId& peer) {
    if (peer.IsMemberOf(td)) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("unexpected trust domain \"", peer.trust_domain().name(), "\""));
  };
}

Authorizer AuthorizeIf(std::function<bool(const SpiffeId&)> pred) {
  return [pred = std::move(pred)](const SpiffeId& peer) {
    if (pred(peer)) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat("unauthorized ID \"", peer.ToString(), "\""));
  };
}

}  // namespace signet::client
