// JSON documents from daemons, parsed with protobuf's JSON parser into a
// google::protobuf::Struct, and typed accessors that say what was wrong.
#ifndef SIGNET_COMMON_HTTP_JSON_H_
#define SIGNET_COMMON_HTTP_JSON_H_

#include <google/protobuf/struct.pb.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet::http {

// ParseJsonObject parses `json` (a JSON object). InvalidArgument "malformed
// JSON: ..." when it does not parse or is not an object.
[[nodiscard]] absl::StatusOr<google::protobuf::Struct> ParseJsonObject(absl::string_view json);

// FieldOrNull returns obj[key], or nullptr when absent or JSON null.
const google::protobuf::Value* FieldOrNull(const google::protobuf::Struct& obj,
                                           absl::string_view key);

// StringField returns obj[key] as a string: "" when absent or null,
// InvalidArgument "<what>.<key> is not a string" for another type.
[[nodiscard]] absl::StatusOr<std::string> StringField(const google::protobuf::Struct& obj,
                                                      absl::string_view key,
                                                      absl::string_view what);

// StructField returns obj[key] as an object: nullptr when absent or null,
// InvalidArgument "<what>.<key> is not an object" for another type.
[[nodiscard]] absl::StatusOr<const google::protobuf::Struct*> StructField(
    const google::protobuf::Struct& obj, absl::string_view key, absl::string_view what);

// ListField returns obj[key] as a list: nullptr when absent or null,
// InvalidArgument "<what>.<key> is not a list" for another type.
[[nodiscard]] absl::StatusOr<const google::protobuf::ListValue*> ListField(
    const google::protobuf::Struct& obj, absl::string_view key, absl::string_view what);

}  // namespace signet::http

#endif  // SIGNET_COMMON_HTTP_JSON_H_
