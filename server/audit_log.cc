#include "server/audit_log.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/keys.h"
#include "common/log.h"

namespace signet::server {
namespace {

// ScrubSecrets removes fields that may carry key material or secrets.
void ScrubSecrets(google::protobuf::Struct* s) {
  static const char* kSecretFields[] = {"privateKey", "private_key", "payload", "challengeResponse",
                                        "challenge_response"};
  for (const char* f : kSecretFields) {
    auto it = s->mutable_fields()->find(f);
    if (it != s->mutable_fields()->end()) it->second.set_string_value("[REDACTED]");
  }
  for (auto& [k, v] : *s->mutable_fields()) {
    if (v.has_struct_value()) ScrubSecrets(v.mutable_struct_value());
  }
}

// Bounds on what a caller's request puts into an audit line: strings are
// cut to kMaxAuditStringBytes, lists to kMaxAuditListItems values.
constexpr size_t kMaxAuditStringBytes = 512;
constexpr int kMaxAuditListItems = 16;

void CapValue(google::protobuf::Value* v);

void CapStruct(google::protobuf::Struct* s) {
  for (auto& [k, v] : *s->mutable_fields()) CapValue(&v);
}

// CapValue cuts long strings ("...(N bytes)") and long lists (a last value
// "...(N more)") in `v`, recursively.
void CapValue(google::protobuf::Value* v) {
  if (v->has_string_value()) {
    if (v->string_value().size() > kMaxAuditStringBytes) {
      v->set_string_value(TruncateForLog(v->string_value(), kMaxAuditStringBytes));
    }
  } else if (v->has_struct_value()) {
    CapStruct(v->mutable_struct_value());
  } else if (v->has_list_value()) {
    auto* values = v->mutable_list_value()->mutable_values();
    const int n = values->size();
    if (n > kMaxAuditListItems) {
      values->DeleteSubrange(kMaxAuditListItems, n - kMaxAuditListItems);
      values->Add()->set_string_value(absl::StrCat("...(", n - kMaxAuditListItems, " more)"));
    }
    for (int i = 0; i < kMaxAuditListItems && i < values->size(); ++i) CapValue(&(*values)[i]);
  }
}

}  // namespace

std::string NewRequestId() {
  absl::StatusOr<std::string> r = RandomBytes(16);
  std::string h = r.ok() ? HexEncode(*r) : std::string(32, '0');
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                      h.substr(16, 4), "-", h.substr(20, 12));
}

void AuditLog::Record(const std::string& method, const google::protobuf::Struct& caller,
                      const google::protobuf::Message* request, const absl::Status& status) {
  if (!enabled_) return;
  google::protobuf::Struct line;
  auto& f = *line.mutable_fields();
  f["type"].set_string_value("audit");
  f["request_id"].set_string_value(NewRequestId());
  f["time"].set_string_value(
      absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone()));
  f["method"].set_string_value(method);
  *f["caller"].mutable_struct_value() = caller;
  google::protobuf::Struct* req = f["request"].mutable_struct_value();
  if (request != nullptr) {
    std::string raw;
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    if (google::protobuf::util::MessageToJsonString(*request, &raw, o).ok()) {
      if (google::protobuf::util::JsonStringToMessage(raw, req).ok()) ScrubSecrets(req);
    }
  }
  f["status"].set_string_value(status.ok() ? "success" : "error");
  f["status_code"].set_string_value(absl::StatusCodeToString(status.code()));
  f["status_message"].set_string_value(std::string(status.message()));
  CapStruct(&line);
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(line, &out).ok()) return;
  out += "\n";
  absl::MutexLock l(&mu_);
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = write(fd_, out.data() + off, out.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace signet::server
