#include "agent/cli.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/security/credentials.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/config.h"
#include "agent/run.h"
#include "common/bundle.h"
#include "common/endpoint.h"
#include "common/flags.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/text.h"
#include "common/version.h"
#include "common/x509.h"
#include "spire/api/agent/debug/v1/debug.grpc.pb.h"
#include "workload/workload.grpc.pb.h"

namespace signet::agent {
namespace {

constexpr char kUsage[] = R"(Usage: signet-agent <command> [flags]

Commands:
  run -config FILE [-joinToken TOKEN]
      Runs the agent: attests to the server and serves the SPIFFE Workload API.
  api fetch [x509] [-write DIR] [-output json|pretty] [-socketPath PATH] [-timeout 5s] [-silent]
      Fetches X.509-SVIDs. With -write, writes svid.N.pem, svid.N.key (0600) and
      bundle.N.pem for every SVID into DIR (created 0700 when missing; it must
      belong to you or root and not be writable by others unless sticky).
  api fetch jwt -audience AUD [-audience AUD2 | -audience AUD,AUD2] [-spiffeID ID]
                [-output json|pretty] [-socketPath PATH] [-timeout 5s]
      Fetches JWT-SVIDs and the JWT bundles.
  api validate jwt -audience AUD -svid TOKEN [-output json|pretty] [-socketPath PATH]
      Validates a JWT-SVID through the agent.
  api watch [-socketPath PATH]
      Streams X.509-SVID updates until interrupted.
  debug info -socketPath ADMIN_SOCKET [-output json|pretty] [-timeout 5s]
      Shows the agent's own SVID chain, uptime, last sync with the server and
      cache sizes, from the admin API on agent.admin_socket_path.
  healthcheck [-socketPath PATH] [-shallow] [-verbose]
      Checks that the agent is up and ready.
  validate -config FILE
      Checks a configuration file and reports every problem.
  version (or --version)
      Prints the version and commit, e.g. 0.1.0-1a2b3c4.

Flags may be written -flag or --flag, with "-flag value" or "-flag=value".
The Workload API socket is -socketPath, else $SPIFFE_ENDPOINT_SOCKET (a
unix:///path or tcp://IP:port URI), else /tmp/signet-agent/public/api.sock.
)";

const char* CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

// Fail prints `msg` as a line on stderr and returns the exit code of a failed
// command.
int Fail(absl::string_view msg) {
  std::cerr << EscapeForDisplay(msg) << "\n";
  return 1;
}

// FailLines is Fail for a message of several lines (a configuration's
// problems, one a line): each line is escaped on its own.
int FailLines(absl::string_view msg) {
  for (absl::string_view line : absl::StrSplit(msg, '\n')) {
    std::cerr << EscapeForDisplay(line) << "\n";
  }
  return 1;
}

int RpcError(const grpc::Status& s) {
  std::cerr << "rpc error: code = " << CodeName(s.error_code()) << " desc = " << s.error_message()
            << "\n";
  return 1;
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S +0000 UTC", t, absl::UTCTimeZone());
}

// FormatSeconds renders a whole number of seconds as "1h2m3s" ("0s" for none).
std::string FormatSeconds(absl::Duration d) {
  d = absl::Trunc(d, absl::Seconds(1));
  return d == absl::ZeroDuration() ? "0s" : absl::FormatDuration(d);
}

std::string FormatElapsed(absl::Duration d) {
  double ms = absl::ToDoubleMilliseconds(d);
  if (ms < 1000) return absl::StrFormat("%.1fms", ms);
  return absl::StrFormat("%.3fs", ms / 1000);
}

absl::StatusOr<std::string> SocketTarget(const ParsedFlags& f) {
  std::string flag = f.Get("socketPath");
  if (!flag.empty()) {
    if (absl::StartsWith(flag, "unix:") || absl::StartsWith(flag, "tcp:")) {
      return ParseWorkloadEndpoint(flag);
    }
    if (flag[0] != '/') {
      char cwd[4096];
      if (getcwd(cwd, sizeof(cwd)) != nullptr) flag = absl::StrCat(cwd, "/", flag);
    }
    return "unix:" + flag;
  }
  absl::StatusOr<std::string> env = WorkloadEndpointFromEnvOrFlag("");
  if (env.ok() || env.status().code() != absl::StatusCode::kFailedPrecondition) return env;
  return std::string("unix:") + kDefaultSocketPath;
}

absl::StatusOr<absl::Duration> TimeoutFlag(const ParsedFlags& f) {
  std::string t = f.Get("timeout", "5s");
  absl::Duration d;
  if (!absl::ParseDuration(t, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid -timeout \"", t, "\""));
  }
  return d;
}

std::unique_ptr<SpiffeWorkloadAPI::Stub> NewClient(const std::string& target) {
  return SpiffeWorkloadAPI::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

void PrepareContext(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->AddMetadata("workload.spiffe.io", "true");
  if (timeout < absl::InfiniteDuration()) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

// OutputDir is the -write directory, opened once so every file lands in the
// directory that was checked, whatever happens to its path meanwhile.
class OutputDir {
 public:
  ~OutputDir() {
    if (fd_ >= 0) close(fd_);
  }

  // Open creates `path` (0700) when it does not exist, then opens it. The
  // directory must belong to this user or root and must not be writable by
  // others unless it is sticky (as /tmp is): key material is never written
  // where another user could swap or pre-plant the files.
  absl::Status Open(const std::string& path) {
    path_ = path;
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("cannot create directory ", path, ": ", strerror(errno)));
    }
    fd_ = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("cannot open directory ", path, ": ", strerror(errno)));
    }
    struct stat st;
    if (fstat(fd_, &st) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot stat directory ", path, ": ", strerror(errno)));
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "directory ", path, " belongs to uid ", st.st_uid, ", not to this user (uid ", geteuid(),
          "); refusing to write SVIDs and keys there"));
    }
    if ((st.st_mode & 0022) != 0 && (st.st_mode & S_ISVTX) == 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("directory ", path,
                       " is writable by other users; refusing to write SVIDs and keys there"));
    }
    return absl::OkStatus();
  }

  std::string PathOf(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

  // Write replaces `name` with `data` (mode `mode`): a new file created
  // exclusively under a temporary name, then renamed over `name`, so an
  // existing file or symlink there is never opened or followed.
  absl::Status Write(const std::string& name, const std::string& data, mode_t mode) const {
    const std::string tmp = absl::StrCat(".", name, ".tmp-", getpid());
    int fd = openat(fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return Error(name);
    bool ok = fchmod(fd, mode) == 0;
    for (size_t off = 0; ok && off < data.size();) {
      ssize_t n = write(fd, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) off += static_cast<size_t>(n);
    }
    if (close(fd) != 0) ok = false;
    if (ok && renameat(fd_, tmp.c_str(), fd_, name.c_str()) == 0) return absl::OkStatus();
    absl::Status st = Error(name);
    unlinkat(fd_, tmp.c_str(), 0);
    return st;
  }

 private:
  absl::Status Error(const std::string& name) const {
    return absl::InternalError(absl::StrCat("cannot write ", PathOf(name), ": ", strerror(errno)));
  }

  std::string path_;
  int fd_ = -1;
};

std::string DerChainToPem(const std::string& der) {
  absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertsDer(der);
  if (!certs.ok()) return "";
  std::string out;
  for (const X509Ptr& c : *certs) {
    absl::StatusOr<std::string> pem = CertToPem(c.get());
    if (pem.ok()) out += *pem;
  }
  return out;
}

void PrintX509Response(const X509SVIDResponse& resp, absl::Duration elapsed) {
  std::cout << "Received " << resp.svids_size() << " svid" << (resp.svids_size() == 1 ? "" : "s")
            << " after " << FormatElapsed(elapsed) << "\n\n";
  for (const X509SVID& s : resp.svids()) {
    // The hint is an entry's free text, set by the server's operators; the
    // Workload API's other servers are less trusted still: escape both.
    std::cout << "SPIFFE ID:\t\t" << EscapeForDisplay(s.spiffe_id()) << "\n";
    if (!s.hint().empty()) std::cout << "Hint:\t\t\t" << EscapeForDisplay(s.hint()) << "\n";
    absl::StatusOr<std::vector<X509Ptr>> chain = ParseCertsDer(s.x509_svid());
    if (chain.ok()) {
      std::cout << "SVID Valid After:\t" << FormatUtc(CertNotBefore((*chain)[0].get())) << "\n";
      std::cout << "SVID Valid Until:\t" << FormatUtc(CertNotAfter((*chain)[0].get())) << "\n";
      for (size_t i = 1; i < chain->size(); ++i) {
        std::cout << "Intermediate #" << i << " Valid After:\t"
                  << FormatUtc(CertNotBefore((*chain)[i].get())) << "\n";
        std::cout << "Intermediate #" << i << " Valid Until:\t"
                  << FormatUtc(CertNotAfter((*chain)[i].get())) << "\n";
      }
    }
    absl::StatusOr<std::vector<X509Ptr>> cas = ParseCertsDer(s.bundle());
    if (cas.ok()) {
      for (size_t i = 0; i < cas->size(); ++i) {
        std::cout << "CA #" << i + 1 << " Valid After:\t"
                  << FormatUtc(CertNotBefore((*cas)[i].get())) << "\n";
        std::cout << "CA #" << i + 1 << " Valid Until:\t"
                  << FormatUtc(CertNotAfter((*cas)[i].get())) << "\n";
      }
    }
    for (const auto& [td, der] : resp.federated_bundles()) {
      std::cout << "[" << EscapeForDisplay(td) << "] federated bundle\n";
    }
    std::cout << "\n";
  }
}

int FetchX509(const ParsedFlags& f) {
  absl::StatusOr<std::string> target = SocketTarget(f);
  if (!target.ok()) return Fail(target.status().message());
  absl::StatusOr<absl::Duration> timeout = TimeoutFlag(f);
  if (!timeout.ok()) return Fail(timeout.status().message());
  auto stub = NewClient(*target);
  absl::Time start = absl::Now();
  grpc::ClientContext ctx;
  PrepareContext(&ctx, *timeout);
  auto reader = stub->FetchX509SVID(&ctx, X509SVIDRequest());
  X509SVIDResponse resp;
  if (!reader->Read(&resp)) return RpcError(reader->Finish());
  absl::Duration elapsed = absl::Now() - start;
  ctx.TryCancel();
  (void)reader->Finish();
  if (f.Get("output") == "json") {
    std::cout << ToJson(resp) << "\n";
  } else if (!f.Has("silent")) {
    PrintX509Response(resp, elapsed);
  }
  std::string dir_path = f.Get("write");
  if (!dir_path.empty()) {
    OutputDir dir;
    if (absl::Status st = dir.Open(dir_path); !st.ok()) return Fail(st.message());
    for (int i = 0; i < resp.svids_size(); ++i) {
      const X509SVID& s = resp.svids(i);
      const std::string svid_name = absl::StrCat("svid.", i, ".pem");
      const std::string key_name = absl::StrCat("svid.", i, ".key");
      const std::string bundle_name = absl::StrCat("bundle.", i, ".pem");
      absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKeyDer(s.x509_svid_key());
      absl::StatusOr<std::string> key_pem =
          key.ok() ? PrivateKeyToPkcs8Pem(key->get()) : absl::StatusOr<std::string>(key.status());
      if (!key_pem.ok()) return Fail("invalid private key in response");
      std::cout << "Writing SVID #" << i << " to file " << dir.PathOf(svid_name) << ".\n";
      absl::Status st = dir.Write(svid_name, DerChainToPem(s.x509_svid()), 0644);
      if (st.ok()) {
        std::cout << "Writing key #" << i << " to file " << dir.PathOf(key_name) << ".\n";
        st = dir.Write(key_name, *key_pem, 0600);
      }
      if (st.ok()) {
        std::cout << "Writing bundle #" << i << " to file " << dir.PathOf(bundle_name) << ".\n";
        st = dir.Write(bundle_name, DerChainToPem(s.bundle()), 0644);
      }
      int j = 0;
      for (const auto& [td, der] : resp.federated_bundles()) {
        if (!st.ok()) break;
        const std::string name = absl::StrCat("federated_bundle.", i, ".", j++, ".pem");
        std::cout << "Writing federated bundle #" << j - 1 << " for trust domain " << td
                  << " to file " << dir.PathOf(name) << ".\n";
        st = dir.Write(name, DerChainToPem(der), 0644);
      }
      if (!st.ok()) return Fail(st.message());
    }
  }
  return 0;
}

std::vector<std::string> Audiences(const ParsedFlags& f) {
  std::vector<std::string> out;
  auto it = f.values.find("audience");
  if (it == f.values.end()) return out;
  for (const std::string& v : it->second) {
    for (absl::string_view a : absl::StrSplit(v, ',', absl::SkipEmpty())) out.emplace_back(a);
  }
  return out;
}

int FetchJwt(const ParsedFlags& f) {
  absl::StatusOr<std::string> target = SocketTarget(f);
  if (!target.ok()) return Fail(target.status().message());
  std::vector<std::string> aud = Audiences(f);
  if (aud.empty()) return Fail("audience must be specified");
  absl::StatusOr<absl::Duration> timeout = TimeoutFlag(f);
  if (!timeout.ok()) return Fail(timeout.status().message());
  auto stub = NewClient(*target);
  JWTSVIDRequest req;
  for (const auto& a : aud) req.add_audience(a);
  req.set_spiffe_id(f.Get("spiffeID"));
  JWTSVIDResponse resp;
  {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, *timeout);
    grpc::Status s = stub->FetchJWTSVID(&ctx, req, &resp);
    if (!s.ok()) return RpcError(s);
  }
  JWTBundlesResponse bundles;
  {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, *timeout);
    auto reader = stub->FetchJWTBundles(&ctx, JWTBundlesRequest());
    if (!reader->Read(&bundles)) return RpcError(reader->Finish());
    ctx.TryCancel();
    (void)reader->Finish();
  }
  if (f.Get("output") == "json") {
    std::cout << ToJson(resp) << "\n" << ToJson(bundles) << "\n";
    return 0;
  }
  for (const JWTSVID& j : resp.svids()) {
    std::cout << "token(" << EscapeForDisplay(j.spiffe_id()) << "):\n\t"
              << EscapeForDisplay(j.svid()) << "\n";
  }
  for (const auto& [td, jwks] : bundles.bundles()) {
    std::cout << "bundle(" << EscapeForDisplay(td) << "):\n\t" << EscapeJsonUnsafe(jwks) << "\n";
  }
  return 0;
}

int ValidateJwt(const ParsedFlags& f) {
  absl::StatusOr<std::string> target = SocketTarget(f);
  if (!target.ok()) return Fail(target.status().message());
  std::string aud = f.Get("audience");
  std::string svid = f.Get("svid");
  if (aud.empty()) return Fail("audience must be specified");
  if (svid.empty()) return Fail("svid must be specified");
  absl::StatusOr<absl::Duration> timeout = TimeoutFlag(f);
  if (!timeout.ok()) return Fail(timeout.status().message());
  auto stub = NewClient(*target);
  ValidateJWTSVIDRequest req;
  req.set_audience(aud);
  req.set_svid(svid);
  ValidateJWTSVIDResponse resp;
  grpc::ClientContext ctx;
  PrepareContext(&ctx, *timeout);
  grpc::Status s = stub->ValidateJWTSVID(&ctx, req, &resp);
  if (!s.ok()) return RpcError(s);
  if (f.Get("output") == "json") {
    std::cout << ToJson(resp) << "\n";
    return 0;
  }
  std::string claims;
  (void)google::protobuf::util::MessageToJsonString(resp.claims(), &claims);
  std::cout << "SVID is valid.\nSPIFFE ID : " << resp.spiffe_id() << "\nClaims    : " << claims
            << "\n";
  return 0;
}

int Watch(const ParsedFlags& f) {
  absl::StatusOr<std::string> target = SocketTarget(f);
  if (!target.ok()) return Fail(target.status().message());
  auto stub = NewClient(*target);
  absl::Duration backoff = absl::Seconds(1);
  for (;;) {
    absl::Time start = absl::Now();
    grpc::ClientContext ctx;
    PrepareContext(&ctx, absl::InfiniteDuration());
    auto reader = stub->FetchX509SVID(&ctx, X509SVIDRequest());
    X509SVIDResponse resp;
    while (reader->Read(&resp)) {
      backoff = absl::Seconds(1);
      PrintX509Response(resp, absl::Now() - start);
      std::cout.flush();
      start = absl::Now();
    }
    grpc::Status s = reader->Finish();
    if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return RpcError(s);
    std::cerr << "Failed to receive update: rpc error: code = " << CodeName(s.error_code())
              << " desc = " << s.error_message() << "; retrying in "
              << absl::FormatDuration(backoff) << "\n";
    absl::SleepFor(backoff);
    backoff = std::min(backoff + absl::Seconds(1), absl::Seconds(30));
  }
}

int HealthCheck(const ParsedFlags& f) {
  bool verbose = f.Has("verbose");
  absl::StatusOr<std::string> target = SocketTarget(f);
  if (!target.ok()) return Fail(target.status().message());
  auto channel = grpc::CreateChannel(*target, grpc::InsecureChannelCredentials());
  if (verbose) std::cout << "Checking agent health...\n";
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::Slice empty("");
  grpc::ByteBuffer req(&empty, 1), resp;  // empty HealthCheckRequest
  grpc::internal::RpcMethod method("/grpc.health.v1.Health/Check",
                                   grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::Status s = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel.get(), method, &ctx, req, &resp);
  if (!s.ok()) {
    std::cerr << "Agent is unhealthy: unable to determine health\n";
    if (verbose) RpcError(s);
    return 1;
  }
  std::vector<grpc::Slice> slices;
  (void)resp.Dump(&slices);
  std::string body;
  for (const auto& sl : slices) body.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  // HealthCheckResponse{status: SERVING(1)} encodes as 08 01.
  if (body != std::string("\x08\x01", 2)) return Fail("Agent is unhealthy: agent is not ready");
  std::cout << "Agent is healthy.\n";
  return 0;
}

int DebugInfo(const ParsedFlags& f) {
  namespace debugpb = spire::api::agent::debug::v1;
  std::string path = f.Get("socketPath");
  if (path.empty()) return Fail("-socketPath is required: the agent's admin_socket_path");
  std::string output = f.Get("output", "pretty");
  if (output != "pretty" && output != "json") {
    return Fail(absl::StrCat("invalid -output \"", output, "\" (json or pretty)"));
  }
  absl::StatusOr<absl::Duration> timeout = TimeoutFlag(f);
  if (!timeout.ok()) return Fail(timeout.status().message());
  std::string target = absl::StartsWith(path, "unix:") ? path : "unix:" + path;
  auto stub =
      debugpb::Debug::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
  debugpb::GetInfoResponse resp;
  grpc::Status s = stub->GetInfo(&ctx, debugpb::GetInfoRequest(), &resp);
  if (!s.ok()) return RpcError(s);
  if (output == "json") {
    std::string out;
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    o.preserve_proto_field_names = true;
    o.always_print_primitive_fields = true;  // zero counts are information here
    (void)google::protobuf::util::MessageToJsonString(resp, &out, o);
    std::cout << out << "\n";
    return 0;
  }
  std::cout << "Agent SVID chain:\n";
  for (int i = 0; i < resp.svid_chain_size(); ++i) {
    const debugpb::GetInfoResponse::Cert& c = resp.svid_chain(i);
    std::string id = c.has_id() ? absl::StrCat("spiffe://", c.id().trust_domain(), c.id().path())
                                : "(no SPIFFE ID)";
    std::cout << "  #" << i + 1 << " " << EscapeForDisplay(id) << "\n"
              << "     Subject:    " << EscapeForDisplay(c.subject()) << "\n"
              << "     Expires at: " << FormatUtc(absl::FromUnixSeconds(c.expires_at())) << "\n";
  }
  if (resp.svid_chain_size() == 0) std::cout << "  (not attested yet)\n";
  std::cout << "Uptime:\t\t\t\t" << FormatSeconds(absl::Seconds(resp.uptime())) << "\n";
  std::cout << "Last sync success:\t\t";
  if (resp.last_sync_success() == 0) {
    std::cout << "never\n";
  } else {
    absl::Time t = absl::FromUnixSeconds(resp.last_sync_success());
    std::cout << FormatUtc(t) << " (" << FormatSeconds(absl::Now() - t) << " ago)\n";
  }
  std::cout << "Cached X.509-SVIDs:\t\t" << resp.cached_x509_svids_count() << "\n"
            << "Cached JWT-SVIDs:\t\t" << resp.cached_jwt_svids_count() << "\n"
            << "Cached SVIDStore X.509-SVIDs:\t" << resp.cached_svidstore_x509_svids_count()
            << "\n";
  return 0;
}

int Validate(const ParsedFlags& f) {
  std::string path = f.Get("config");
  if (path.empty()) return Fail("-config is required");
  absl::StatusOr<AgentConfig> c = LoadAgentConfig(path, "placeholder-token-for-validation");
  if (!c.ok()) return FailLines(c.status().message());
  std::cout << "Configuration is valid.\n";
  return 0;
}

int Run(const ParsedFlags& f) {
  std::string path = f.Get("config");
  if (path.empty()) return Fail("-config is required");
  absl::StatusOr<AgentConfig> c = LoadAgentConfig(path, f.Get("joinToken"));
  if (!c.ok()) return FailLines(c.status().message());
  if (!Logger::Configure(c->log_level, c->log_format)) {
    return Fail("invalid log_level or log_format");
  }
  absl::Status s = RunAgent(std::move(*c));
  if (!s.ok()) {
    LogError("agent stopped", {{"error", s.ToString()}});
    return Fail(absl::StrCat("signet-agent: ", s.message()));
  }
  return 0;
}

}  // namespace

std::string ParsedFlags::Get(const std::string& name, const std::string& def) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return def;
  return it->second.back();
}

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       const std::set<std::string>& value_flags,
                                       const std::set<std::string>& bool_flags) {
  FlagSet flags("signet-agent", "", "");
  for (const std::string& name : value_flags) flags.List(name, "");
  for (const std::string& name : bool_flags) flags.Bool(name, "");
  RETURN_IF_ERROR(flags.Parse(args));
  ParsedFlags out;
  for (const std::string& name : value_flags) {
    if (flags.IsSet(name)) out.values[name] = flags.GetList(name);
  }
  for (const std::string& name : bool_flags) {
    if (flags.GetBool(name)) out.bools.insert(name);
  }
  out.positional = flags.positional();
  return out;
}

int RunCli(const std::vector<std::string>& args) {
  auto usage = [](int code) {
    (code == 0 ? std::cout : std::cerr) << kUsage;
    return code;
  };
  if (args.empty()) return usage(1);
  const std::string& cmd = args[0];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") return usage(0);
  if ((cmd == "version" || cmd == "--version" || cmd == "-version") && args.size() == 1) {
    std::cout << VersionString() << "\n";
    return 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const auto& a : rest) {
    if (a == "-h" || a == "--help" || a == "-help") return usage(0);
  }
  const std::set<std::string> api_values = {"socketPath", "output", "timeout"};
  auto parse = [&](std::vector<std::string> v, std::set<std::string> values,
                   std::set<std::string> bools) -> absl::StatusOr<ParsedFlags> {
    return ParseFlags(v, values, bools);
  };
  absl::StatusOr<ParsedFlags> f = absl::InvalidArgumentError("unknown command");
  if (cmd == "run") {
    f = parse(rest, {"config", "joinToken"}, {});
    if (f.ok()) return Run(*f);
  } else if (cmd == "validate") {
    f = parse(rest, {"config"}, {});
    if (f.ok()) return Validate(*f);
  } else if (cmd == "healthcheck") {
    f = parse(rest, {"socketPath"}, {"shallow", "verbose"});
    if (f.ok()) return HealthCheck(*f);
  } else if (cmd == "debug" && !rest.empty() && rest[0] == "info") {
    f = parse(std::vector<std::string>(rest.begin() + 1, rest.end()), api_values, {});
    if (f.ok()) return DebugInfo(*f);
  } else if (cmd == "api" && !rest.empty()) {
    std::string sub = rest[0];
    std::vector<std::string> r2(rest.begin() + 1, rest.end());
    std::string kind;
    if (!r2.empty() && (r2[0] == "x509" || r2[0] == "jwt")) {
      kind = r2[0];
      r2.erase(r2.begin());
    }
    if (sub == "fetch" && (kind.empty() || kind == "x509")) {
      std::set<std::string> v = api_values;
      v.insert("write");
      f = parse(r2, v, {"silent"});
      if (f.ok()) return FetchX509(*f);
    } else if (sub == "fetch" && kind == "jwt") {
      std::set<std::string> v = api_values;
      v.insert({"audience", "spiffeID"});
      f = parse(r2, v, {});
      if (f.ok()) return FetchJwt(*f);
    } else if (sub == "validate" && (kind.empty() || kind == "jwt")) {
      std::set<std::string> v = api_values;
      v.insert({"audience", "svid"});
      f = parse(r2, v, {});
      if (f.ok()) return ValidateJwt(*f);
    } else if (sub == "watch") {
      f = parse(r2, api_values, {});
      if (f.ok()) return Watch(*f);
    }
  }
  std::cerr << f.status().message() << "\n";
  return usage(1);
}

}  // namespace signet::agent
