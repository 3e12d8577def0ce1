#include "common/http/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace signet::http {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};
struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;
using CurlUrlPtr = std::unique_ptr<CURLU, CurlUrlDeleter>;
using CurlStringPtr = std::unique_ptr<char, CurlStringDeleter>;

// GlobalInit runs curl_global_init once per process; returns its result.
CURLcode GlobalInit() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return rc;
}

struct Sink {
  std::string* body;
  size_t max;
  bool overflow = false;
};

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  size_t n = size * nmemb;
  if (sink->body->size() + n > sink->max) {
    sink->overflow = true;
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

// AppendSlist adds `line` to `list`; false when curl is out of memory.
bool AppendSlist(CurlSlistPtr& list, const std::string& line) {
  curl_slist* next = curl_slist_append(list.get(), line.c_str());
  if (next == nullptr) return false;
  (void)list.release();
  list.reset(next);
  return true;
}

// ResolveEntry returns "host:port:address" for CURLOPT_RESOLVE, or
// InvalidArgument when the URL does not parse.
absl::StatusOr<std::string> ResolveEntry(const std::string& url, const std::string& address) {
  CurlUrlPtr u(curl_url());
  if (!u) return absl::ResourceExhaustedError("curl_url: out of memory");
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("malformed URL \"", url, "\""));
  }
  char* host = nullptr;
  char* port = nullptr;
  if (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("URL without host \"", url, "\""));
  }
  CurlStringPtr host_owner(host);
  if (curl_url_get(u.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("URL without port \"", url, "\""));
  }
  CurlStringPtr port_owner(port);
  return absl::StrCat(host, ":", port, ":", address);
}

}  // namespace

absl::StatusOr<HttpResponse> HttpDo(const HttpRequest& req) {
  if (GlobalInit() != CURLE_OK) return absl::InternalError("curl_global_init failed");
  CurlEasyPtr curl(curl_easy_init());
  if (!curl) return absl::ResourceExhaustedError("curl_easy_init failed");
  CURL* c = curl.get();

  HttpResponse resp;
  Sink sink{&resp.body, req.max_response_bytes};
  char errbuf[CURL_ERROR_SIZE] = {0};
  CurlSlistPtr headers;
  CurlSlistPtr resolve;
  curl_blob ca_blob{};

  bool ok = true;
  auto set = [&ok](CURLcode rc) { ok = ok && rc == CURLE_OK; };
  set(curl_easy_setopt(c, CURLOPT_URL, req.url.c_str()));
  set(curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf));
  set(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L));
  const long timeout_ms = static_cast<long>(absl::ToInt64Milliseconds(req.timeout));
  set(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L));
  set(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L));
  set(curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(req.max_response_bytes)));
  set(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteCallback));
  set(curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink));
  set(curl_easy_setopt(c, CURLOPT_NOPROXY, "*"));
  if (!req.unix_socket_path.empty()) {
    set(curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req.unix_socket_path.c_str()));
  }
  if (!req.connect_address.empty()) {
    absl::StatusOr<std::string> entry = ResolveEntry(req.url, req.connect_address);
    if (!entry.ok()) return entry.status();
    if (!AppendSlist(resolve, *entry)) return absl::ResourceExhaustedError("out of memory");
    set(curl_easy_setopt(c, CURLOPT_RESOLVE, resolve.get()));
  }
  for (const std::string& h : req.headers) {
    if (!AppendSlist(headers, h)) return absl::ResourceExhaustedError("out of memory");
  }
  if (headers) set(curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get()));
  if (req.method == "POST" || !req.body.empty()) {
    set(curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size())));
    set(curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data()));
  }
  if (req.method != "GET" && req.method != "POST") {
    set(curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str()));
  }
  if (req.insecure_skip_verify) {
    set(curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L));
    set(curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L));
  } else if (!req.ca_pem.empty() || !req.ca_file.empty()) {
    // Pin: only the given CAs, never the system store.
    set(curl_easy_setopt(c, CURLOPT_CAPATH, nullptr));
    if (!req.ca_pem.empty()) {
      ca_blob.data = const_cast<char*>(req.ca_pem.data());
      ca_blob.len = req.ca_pem.size();
      ca_blob.flags = CURL_BLOB_COPY;
      set(curl_easy_setopt(c, CURLOPT_CAINFO, nullptr));
      set(curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca_blob));
    } else {
      set(curl_easy_setopt(c, CURLOPT_CAINFO, req.ca_file.c_str()));
    }
  }
  if (!ok) return absl::InternalError("curl_easy_setopt failed");

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    if (sink.overflow || rc == CURLE_FILESIZE_EXCEEDED) {
      return absl::ResourceExhaustedError(
          absl::StrCat("response body exceeds ", req.max_response_bytes, " bytes"));
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(absl::StrCat(
          "request timed out after ", absl::FormatDuration(req.timeout), ": ", detail));
    }
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return absl::InvalidArgumentError(absl::StrCat("bad request URL: ", detail));
    }
    return absl::UnavailableError(absl::StrCat("request failed: ", detail));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

}  // namespace signet::http
