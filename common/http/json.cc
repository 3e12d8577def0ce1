#include "common/http/json.h"

#include <google/protobuf/util/json_util.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace signet::http {

absl::StatusOr<google::protobuf::Struct> ParseJsonObject(absl::string_view json) {
  google::protobuf::Struct out;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out, opts);
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", st.message().ToString()));
  }
  return out;
}

const google::protobuf::Value* FieldOrNull(const google::protobuf::Struct& obj,
                                           absl::string_view key) {
  auto it = obj.fields().find(std::string(key));
  if (it == obj.fields().end() || it->second.has_null_value()) return nullptr;
  return &it->second;
}

absl::StatusOr<std::string> StringField(const google::protobuf::Struct& obj, absl::string_view key,
                                        absl::string_view what) {
  const google::protobuf::Value* v = FieldOrNull(obj, key);
  if (v == nullptr) return std::string();
  if (!v->has_string_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ".", key, " is not a string"));
  }
  return v->string_value();
}

absl::StatusOr<const google::protobuf::Struct*> StructField(const google::protobuf::Struct& obj,
                                                            absl::string_view key,
                                                            absl::string_view what) {
  const google::protobuf::Value* v = FieldOrNull(obj, key);
  if (v == nullptr) return nullptr;
  if (!v->has_struct_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ".", key, " is not an object"));
  }
  return &v->struct_value();
}

absl::StatusOr<const google::protobuf::ListValue*> ListField(const google::protobuf::Struct& obj,
                                                             absl::string_view key,
                                                             absl::string_view what) {
  const google::protobuf::Value* v = FieldOrNull(obj, key);
  if (v == nullptr) return nullptr;
  if (!v->has_list_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ".", key, " is not a list"));
  }
  return &v->list_value();
}

}  // namespace signet::http
