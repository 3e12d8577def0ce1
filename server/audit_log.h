// Audit log: one JSON line per admin and agent call.
#ifndef SIGNET_SERVER_AUDIT_LOG_H_
#define SIGNET_SERVER_AUDIT_LOG_H_

#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"  // ToGrpcStatus, for the audited handlers

namespace signet::server {

// AuditLog writes to a file descriptor (stderr by default). Thread-safe.
class AuditLog {
 public:
  explicit AuditLog(bool enabled, int fd = 2) : enabled_(enabled), fd_(fd) {}
  bool enabled() const { return enabled_; }

  // Record writes {"type":"audit","request_id","time","method","caller":{...},
  // "request":{...},"status","status_code","status_message"}. Request fields
  // that may carry key material or secrets are replaced by "[REDACTED]";
  // strings longer than 512 bytes are cut ("...(N bytes)") and lists longer
  // than 16 values end with "...(N more)", so a caller cannot make a line
  // grow with its request.
  void Record(const std::string& method, const google::protobuf::Struct& caller,
              const google::protobuf::Message* request, const absl::Status& status);

 private:
  const bool enabled_;
  const int fd_;
  absl::Mutex mu_;
};

// NewRequestId returns a random request id (uuid form).
std::string NewRequestId();

}  // namespace signet::server

#endif  // SIGNET_SERVER_AUDIT_LOG_H_
