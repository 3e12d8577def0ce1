// Authorizers decide whether an authenticated peer SPIFFE ID may talk to us.
// They run after the peer's X.509-SVID was verified against its trust
// domain's bundle.
#ifndef SIGNET_CLIENT_AUTHORIZER_H_
#define SIGNET_CLIENT_AUTHORIZER_H_

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "common/spiffe_id.h"

namespace signet::client {

// Authorizer returns OK to accept `peer`, PermissionDenied (with the reason)
// to refuse it. Must be thread-safe.
using Authorizer = std::function<absl::Status(const SpiffeId& peer)>;

// AuthorizeAny accepts every verified peer.
Authorizer AuthorizeAny();
// AuthorizeId accepts exactly `id`; PermissionDenied `unexpected ID "<peer>"`.
Authorizer AuthorizeId(SpiffeId id);
// AuthorizeOneOf accepts any of `ids`; PermissionDenied `unexpected ID "<peer>"`.
Authorizer AuthorizeOneOf(std::vector<SpiffeId> ids);
// AuthorizeMemberOf accepts every ID of `td`; PermissionDenied
// `unexpected trust domain "<peer td>"`.
Authorizer AuthorizeMemberOf(TrustDomain td);
// AuthorizeIf accepts the peer when `pred` returns true; PermissionDenied
// `unauthorized ID "<peer>"` otherwise.
Authorizer AuthorizeIf(std::function<bool(const SpiffeId&)> pred);

}  // namespace signet::client

#endif  // SIGNET_CLIENT_AUTHORIZER_H_
