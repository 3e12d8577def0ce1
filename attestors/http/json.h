// Compatibility header: the JSON helpers moved to common/http/ so the server
// can use them too. New code includes "common/http/json.h".
#ifndef SIGNET_ATTESTORS_HTTP_JSON_H_
#define SIGNET_ATTESTORS_HTTP_JSON_H_

#include "common/http/json.h"

namespace signet::attestors {
using ::signet::http::FieldOrNull;
using ::signet::http::ListField;
using ::signet::http::ParseJsonObject;
using ::signet::http::StringField;
using ::signet::http::StructField;
}  // namespace signet::attestors

#endif  // SIGNET_ATTESTORS_HTTP_JSON_H_
