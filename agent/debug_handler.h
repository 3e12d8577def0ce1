// SPIRE's agent Debug API (spire.api.agent.debug.v1.Debug), served on the
// admin socket only: the agent's own identity and the state of its caches.
#ifndef SIGNET_AGENT_DEBUG_HANDLER_H_
#define SIGNET_AGENT_DEBUG_HANDLER_H_

#include <functional>

#include "absl/time/time.h"
#include "agent/agent.h"
#include "spire/api/agent/debug/v1/debug.grpc.pb.h"

namespace signet::agent {

// BuildGetInfoResponse renders `info` as of `now`.
spire::api::agent::debug::v1::GetInfoResponse BuildGetInfoResponse(const AgentDebugInfo& info,
                                                                   absl::Time now);

// DebugHandler answers GetInfo from `source` (called once per request).
// Thread-safe when `source` is.
class DebugHandler final : public spire::api::agent::debug::v1::Debug::CallbackService {
 public:
  explicit DebugHandler(std::function<AgentDebugInfo()> source) : source_(std::move(source)) {}

  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* ctx,
                                    const spire::api::agent::debug::v1::GetInfoRequest* req,
                                    spire::api::agent::debug::v1::GetInfoResponse* resp) override;

 private:
  const std::function<AgentDebugInfo()> source_;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_DEBUG_HANDLER_H_
