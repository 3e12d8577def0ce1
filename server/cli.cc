#include "server/cli.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/bundle.h"
#include "common/bundle_proto.h"
#include "common/file.h"
#include "common/flags.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/text.h"
#include "common/version.h"
#include "common/x509.h"
#include "server/ca.h"
#include "server/config.h"
#include "server/entry_validation.h"
#include "server/key_manager.h"
#include "server/nodeattestor/registry.h"
#include "server/server.h"
#include "signet/admin.grpc.pb.h"

namespace signet::server {
namespace {

using signet::admin::Admin;
using signet::types::AttestedAgent;
using signet::types::RegistrationEntry;

constexpr char kSocketHelp[] = "Path to the signet-server admin socket";

// Fail prints `msg` (escaped: it may quote stored or server-sent text) and
// returns the exit code 1.
int Fail(const std::string& msg) {
  std::cerr << "Error: " << EscapeForDisplay(msg) << "\n";
  return 1;
}

int FailStatus(const grpc::Status& s) {
  return Fail(s.error_message().empty() ? absl::StrCat("rpc failed with code ", s.error_code())
                                        : s.error_message());
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  // The JSON writer escapes C0 controls; C1 and bidirectional formatting
  // characters would reach the terminal raw.
  return EscapeJsonUnsafe(out);
}

// Out returns a stored string for a "pretty" output line: control and
// bidirectional formatting characters escaped (see EscapeForDisplay), so a
// value cannot forge a line or drive the terminal.
std::string Out(absl::string_view s) { return EscapeForDisplay(s); }

// CheckSpiffeIdFlag checks the syntax of the SPIFFE ID given as -`flag` (when
// set) before it is sent; the server checks the trust domain and the rest.
absl::Status CheckSpiffeIdFlag(const FlagSet& f, const char* flag) {
  std::string v = f.GetString(flag);
  if (v.empty()) return absl::OkStatus();
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(v);
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid -", flag, " ", QuoteForMessage(v), ": ", id.status().message()));
  }
  return absl::OkStatus();
}

std::string FormatUnix(int64_t t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S +0000 UTC", absl::FromUnixSeconds(t),
                          absl::UTCTimeZone());
}

void PrintEntry(const RegistrationEntry& e) {
  std::cout << "Entry ID         : " << Out(e.id()) << "\n";
  std::cout << "SPIFFE ID        : " << Out(e.spiffe_id()) << "\n";
  std::cout << "Parent ID        : " << Out(e.parent_id()) << "\n";
  std::cout << "Revision         : " << e.revision_number() << "\n";
  if (e.downstream()) std::cout << "Downstream       : true\n";
  if (e.x509_svid_ttl() == 0) {
    std::cout << "X509-SVID TTL    : default\n";
  } else {
    std::cout << "X509-SVID TTL    : " << e.x509_svid_ttl() << "\n";
  }
  if (e.jwt_svid_ttl() == 0) {
    std::cout << "JWT-SVID TTL     : default\n";
  } else {
    std::cout << "JWT-SVID TTL     : " << e.jwt_svid_ttl() << "\n";
  }
  if (e.entry_expiry() != 0)
    std::cout << "Expiration time  : " << FormatUnix(e.entry_expiry()) << "\n";
  for (const auto& s : e.selectors()) {
    std::cout << "Selector         : " << Out(s.type()) << ":" << Out(s.value()) << "\n";
  }
  for (const auto& f : e.federates_with()) std::cout << "FederatesWith    : " << Out(f) << "\n";
  for (const auto& d : e.dns_names()) std::cout << "DNS name         : " << Out(d) << "\n";
  if (e.admin()) std::cout << "Admin            : true\n";
  if (e.node()) std::cout << "Node             : true\n";
  if (!e.hint().empty()) std::cout << "Hint             : " << Out(e.hint()) << "\n";
  std::cout << "\n";
}

void PrintAgent(const AttestedAgent& a) {
  std::cout << "SPIFFE ID         : " << Out(a.spiffe_id()) << "\n";
  std::cout << "Attestation type  : " << Out(a.attestation_type()) << "\n";
  std::cout << "Expiration time   : " << FormatUnix(a.x509_svid_expires_at()) << "\n";
  std::cout << "Serial number     : " << Out(a.x509_svid_serial()) << "\n";
  const NodeAttestorPlugin* kind = NodeAttestors().Find(a.attestation_type());
  std::cout << "Can re-attest     : " << (kind != nullptr && kind->can_reattest ? "true" : "false")
            << "\n";
  std::cout << "Banned            : " << (a.banned() ? "true" : "false") << "\n";
  for (const auto& s : a.selectors()) {
    std::cout << "Selectors         : " << Out(s.type()) << ":" << Out(s.value()) << "\n";
  }
  std::cout << "\n";
}

std::unique_ptr<Admin::Stub> Connect(const FlagSet& f) {
  std::string path = f.GetString("socketPath");
  return Admin::NewStub(grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials()));
}

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

grpc::Status Call(const FlagSet& f,
                  const std::function<grpc::Status(Admin::Stub*, grpc::ClientContext*)>& fn) {
  std::unique_ptr<Admin::Stub> stub = Connect(f);
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = fn(stub.get(), &ctx);
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return grpc::Status(s.error_code(), absl::StrCat("cannot connect to signet-server at ",
                                                     f.GetString("socketPath"),
                                                     " (-socketPath): ", s.error_message()));
  }
  return s;
}

// Call, for the calls that need only a stub method and its request.
template <typename Request, typename Response>
grpc::Status Call(const FlagSet& f,
                  grpc::Status (Admin::Stub::*rpc)(grpc::ClientContext*, const Request&, Response*),
                  const Request& req, Response* resp) {
  return Call(f, [&](Admin::Stub* st, grpc::ClientContext* c) { return (st->*rpc)(c, req, resp); });
}

// ListAll calls the list RPC `rpc` page by page, from `req` until the server
// sends no next page token, and gathers every page's items into `all`. The
// token is cleared before merging so that `all` prints like a single last page.
template <typename Request, typename Response>
grpc::Status ListAll(const FlagSet& f,
                     grpc::Status (Admin::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                      Response*),
                     Request req, Response* all) {
  do {
    Response resp;
    grpc::Status s = Call(f, rpc, req, &resp);
    if (!s.ok()) return s;
    req.set_page_token(resp.next_page_token());
    resp.clear_next_page_token();
    all->MergeFrom(resp);
  } while (!req.page_token().empty());
  return grpc::Status::OK;
}

// Command: name -> flags setup + action.
struct Command {
  std::string usage;
  std::string description;
  std::function<void(FlagSet&)> flags;
  std::function<int(FlagSet&)> run;
};

void AddSocket(FlagSet& f) { f.String("socketPath", kDefaultAdminSocketPath, kSocketHelp); }
void AddOutput(FlagSet& f) { f.String("output", "pretty", "Desired output format (pretty, json)"); }

absl::Status CheckOutput(const FlagSet& f) {
  std::string o = f.GetString("output");
  if (o != "pretty" && o != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid value \"", o, "\" for flag -output: must be pretty or json"));
  }
  return absl::OkStatus();
}

void AddEntryFlags(FlagSet& f) {
  AddSocket(f);
  f.String("parentID", "", "The SPIFFE ID of this record's parent");
  f.String("spiffeID", "", "The SPIFFE ID that this record represents");
  f.List("selector", "A colon-delimited type:value selector. Can be used more than once");
  f.Int("x509SVIDTTL", 0, "The lifetime, in seconds, for x509-SVIDs issued based on this entry");
  f.Int("jwtSVIDTTL", 0, "The lifetime, in seconds, for JWT-SVIDs issued based on this entry");
  f.Int("ttl", 0, "Deprecated alias of -x509SVIDTTL");
  f.List("dns", "A DNS name associated with the identity; can be used more than once");
  f.String("hint", "", "The entry hint, used to disambiguate entries with the same SPIFFE ID");
  f.Int("entryExpiry", 0, "An expiry, from epoch in seconds, for the resulting registration entry");
  f.Bool("admin", "If set, the SPIFFE ID in this entry will be granted access to the admin API");
  f.Bool("node", "If set, this entry will be applied to matching nodes rather than workloads");
  f.Bool("downstream",
         "A boolean value that, when set, indicates that the entry describes a downstream SPIRE "
         "server");
  f.List("federatesWith",
         "SPIFFE ID of a trust domain to federate with. Can be used more than once");
  AddOutput(f);
}

// ApplyEntryFlags copies set flags into `e`. Errors name the flag.
absl::Status ApplyEntryFlags(const FlagSet& f, RegistrationEntry& e, bool only_set) {
  auto want = [&](const char* n) { return !only_set || f.IsSet(n); };
  RETURN_IF_ERROR(CheckSpiffeIdFlag(f, "spiffeID"));
  RETURN_IF_ERROR(CheckSpiffeIdFlag(f, "parentID"));
  if (want("spiffeID")) e.set_spiffe_id(f.GetString("spiffeID"));
  if (want("parentID")) e.set_parent_id(f.GetString("parentID"));
  if (want("selector")) {
    e.clear_selectors();
    for (const std::string& s : f.GetList("selector")) {
      absl::StatusOr<signet::types::Selector> sel = ParseSelector(s);
      if (!sel.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid -selector: ", sel.status().message()));
      }
      *e.add_selectors() = *sel;
    }
  }
  auto ttl_flag = [&](const char* n, int64_t v) -> absl::Status {
    if (v < 0) return absl::InvalidArgumentError(absl::StrCat("-", n, " must not be negative"));
    if (v > INT32_MAX) return absl::InvalidArgumentError(absl::StrCat("-", n, " is too large"));
    return absl::OkStatus();
  };
  if (f.IsSet("ttl") && !f.IsSet("x509SVIDTTL")) {
    RETURN_IF_ERROR(ttl_flag("ttl", f.GetInt("ttl")));
    e.set_x509_svid_ttl(static_cast<int32_t>(f.GetInt("ttl")));
  } else if (want("x509SVIDTTL")) {
    RETURN_IF_ERROR(ttl_flag("x509SVIDTTL", f.GetInt("x509SVIDTTL")));
    e.set_x509_svid_ttl(static_cast<int32_t>(f.GetInt("x509SVIDTTL")));
  }
  if (want("jwtSVIDTTL")) {
    RETURN_IF_ERROR(ttl_flag("jwtSVIDTTL", f.GetInt("jwtSVIDTTL")));
    e.set_jwt_svid_ttl(static_cast<int32_t>(f.GetInt("jwtSVIDTTL")));
  }
  if (want("dns")) {
    e.clear_dns_names();
    for (const std::string& d : f.GetList("dns")) {
      absl::Status st = ValidateDnsName(d);
      if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid -dns: ", st.message()));
      e.add_dns_names(d);
    }
  }
  if (want("hint")) {
    std::string hint = f.GetString("hint");
    if (hint.size() > kMaxHintBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("-hint must be at most ", kMaxHintBytes, " bytes"));
    }
    absl::Status st = CheckDisplaySafe("hint", hint);
    if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid -hint: ", st.message()));
    e.set_hint(hint);
  }
  if (want("entryExpiry")) {
    if (f.GetInt("entryExpiry") < 0) {
      return absl::InvalidArgumentError("-entryExpiry must not be negative");
    }
    if (f.GetInt("entryExpiry") > kMaxEntryExpiry) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-entryExpiry must not be after 9999-12-31T23:59:59Z (", kMaxEntryExpiry, ")"));
    }
    e.set_entry_expiry(f.GetInt("entryExpiry"));
  }
  if (want("admin")) e.set_admin(f.GetBool("admin"));
  if (want("node")) e.set_node(f.GetBool("node"));
  if (want("downstream")) e.set_downstream(f.GetBool("downstream"));
  if (want("federatesWith")) {
    e.clear_federates_with();
    for (const std::string& fw : f.GetList("federatesWith")) {
      absl::StatusOr<TrustDomain> td = TrustDomain::FromString(fw);
      if (!td.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid -federatesWith \"", fw, "\": ", td.status().message()));
      }
      e.add_federates_with(td->name());
    }
  }
  return absl::OkStatus();
}

// SaveEntry sends a create or update call, `rpc`, and prints the entry the
// server stored: the JSON response, or the entry's fields.
template <typename Request>
int SaveEntry(const FlagSet& f,
              grpc::Status (Admin::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                               signet::admin::EntryResponse*),
              const Request& req) {
  signet::admin::EntryResponse resp;
  grpc::Status s = Call(f, rpc, req, &resp);
  if (!s.ok()) return FailStatus(s);
  if (f.GetString("output") == "json") {
    std::cout << ToJson(resp) << "\n";
  } else {
    PrintEntry(resp.entry());
  }
  return 0;
}

int EntryCreate(FlagSet& f) {
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  if (f.GetString("spiffeID").empty()) return Fail("a SPIFFE ID is required (-spiffeID)");
  if (!f.GetBool("node") && f.GetString("parentID").empty()) {
    return Fail("a parent ID is required if the node flag is not set (-parentID)");
  }
  if (f.GetList("selector").empty()) return Fail("at least one selector is required (-selector)");
  signet::admin::CreateEntryRequest req;
  if (absl::Status s = ApplyEntryFlags(f, *req.mutable_entry(), false); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  return SaveEntry(f, &Admin::Stub::CreateEntry, req);
}

int EntryUpdate(FlagSet& f) {
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  std::string id = f.GetString("entryID");
  if (id.empty()) return Fail("an entry ID is required (-entryID)");
  signet::admin::ShowEntriesRequest sreq;
  sreq.set_id(id);
  signet::admin::ShowEntriesResponse sresp;
  grpc::Status s = Call(
      f, [&](Admin::Stub* st, grpc::ClientContext* c) { return st->ShowEntries(c, sreq, &sresp); });
  if (!s.ok()) return FailStatus(s);
  if (sresp.entries_size() != 1) return Fail(absl::StrCat("entry ", id, " not found"));
  signet::admin::UpdateEntryRequest req;
  *req.mutable_entry() = sresp.entries(0);
  if (f.IsSet("node") && f.GetBool("node")) req.mutable_entry()->clear_parent_id();
  if (absl::Status st = ApplyEntryFlags(f, *req.mutable_entry(), true); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  return SaveEntry(f, &Admin::Stub::UpdateEntry, req);
}

int EntryShow(FlagSet& f) {
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  for (const char* flag : {"spiffeID", "parentID"}) {
    if (absl::Status st = CheckSpiffeIdFlag(f, flag); !st.ok()) {
      return Fail(std::string(st.message()));
    }
  }
  signet::admin::ShowEntriesRequest req;
  req.set_id(f.GetString("entryID"));
  req.set_spiffe_id(f.GetString("spiffeID"));
  req.set_parent_id(f.GetString("parentID"));
  for (const std::string& s : f.GetList("selector")) {
    absl::StatusOr<signet::types::Selector> sel = ParseSelector(s);
    if (!sel.ok()) return Fail(absl::StrCat("invalid -selector: ", sel.status().message()));
    *req.add_selectors() = *sel;
  }
  std::string match = f.GetString("matchSelectorsOn");
  if (match != "exact" && match != "subset" && match != "superset" && match != "any") {
    return Fail(
        absl::StrCat("invalid value \"", match,
                     "\" for flag -matchSelectorsOn: must be exact, subset, superset or any"));
  }
  req.set_match(match);
  signet::admin::ShowEntriesResponse all;
  grpc::Status s = ListAll(f, &Admin::Stub::ShowEntries, req, &all);
  if (!s.ok()) return FailStatus(s);
  if (f.GetString("output") == "json") {
    std::cout << ToJson(all) << "\n";
    return 0;
  }
  std::cout << "Found " << all.entries_size() << (all.entries_size() == 1 ? " entry" : " entries")
            << "\n";
  for (const auto& e : all.entries()) PrintEntry(e);
  return 0;
}

int EntryDelete(FlagSet& f) {
  std::string id = f.GetString("entryID");
  if (id.empty()) return Fail("an entry ID is required (-entryID)");
  signet::admin::DeleteEntryRequest req;
  req.set_id(id);
  signet::admin::DeleteEntryResponse resp;
  grpc::Status s = Call(
      f, [&](Admin::Stub* st, grpc::ClientContext* c) { return st->DeleteEntry(c, req, &resp); });
  if (!s.ok()) return FailStatus(s);
  std::cout << "Deleted entry with ID: " << Out(id) << "\n";
  return 0;
}

// Count runs one of the count calls, `rpc`, and prints its answer: the JSON
// response, or "N <noun>" with the singular noun only when N is exactly 1.
template <typename Request>
int Count(FlagSet& f,
          grpc::Status (Admin::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                           signet::admin::CountResponse*),
          absl::string_view singular, absl::string_view plural) {
  signet::admin::CountResponse resp;
  grpc::Status s = Call(f, rpc, Request(), &resp);
  if (!s.ok()) return FailStatus(s);
  if (f.GetString("output") == "json") {
    std::cout << ToJson(resp) << "\n";
  } else {
    std::cout << resp.count() << " " << (resp.count() == 1 ? singular : plural) << "\n";
  }
  return 0;
}

int TokenGenerate(FlagSet& f) {
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  int64_t ttl = f.GetInt("ttl");
  if (ttl <= 0) return Fail("-ttl must be greater than zero");
  if (ttl > INT32_MAX) return Fail("-ttl is too large");
  if (absl::Status st = CheckSpiffeIdFlag(f, "spiffeID"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  signet::admin::GenerateTokenRequest req;
  req.set_ttl(static_cast<int32_t>(ttl));
  req.set_spiffe_id(f.GetString("spiffeID"));
  signet::admin::GenerateTokenResponse resp;
  grpc::Status s = Call(
      f, [&](Admin::Stub* st, grpc::ClientContext* c) { return st->GenerateToken(c, req, &resp); });
  if (!s.ok()) return FailStatus(s);
  if (f.GetString("output") == "json") {
    std::cout << ToJson(resp.token()) << "\n";
  } else {
    std::cout << "Token: " << resp.token().token() << "\n";
  }
  return 0;
}

int BundleShow(FlagSet& f) {
  std::string format = f.GetString("format");
  if (format != "pem" && format != "spiffe") {
    return Fail(
        absl::StrCat("invalid value \"", format, "\" for flag -format: must be pem or spiffe"));
  }
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  signet::admin::ShowBundleResponse resp;
  grpc::Status s = Call(f, [&](Admin::Stub* st, grpc::ClientContext* c) {
    return st->ShowBundle(c, signet::admin::ShowBundleRequest(), &resp);
  });
  if (!s.ok()) return FailStatus(s);
  if (f.GetString("output") == "json") {
    std::cout << ToJson(resp.bundle()) << "\n";
    return 0;
  }
  if (format == "spiffe") {
    std::cout << resp.spiffe_bundle_json() << "\n";
    return 0;
  }
  absl::StatusOr<Bundle> b = BundleFromProto(resp.bundle());
  if (!b.ok()) return Fail(std::string(b.status().message()));
  std::cout << b->X509AuthoritiesPem();
  return 0;
}

int AgentList(FlagSet& f) {
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  signet::admin::ListAgentsResponse all;
  grpc::Status s = ListAll(f, &Admin::Stub::ListAgents, signet::admin::ListAgentsRequest(), &all);
  if (!s.ok()) return FailStatus(s);
  if (f.GetString("output") == "json") {
    std::cout << ToJson(all) << "\n";
    return 0;
  }
  if (all.agents_size() == 0) {
    std::cout << "No attested agents found\n";
    return 0;
  }
  std::cout << "Found " << all.agents_size() << " attested agent"
            << (all.agents_size() == 1 ? "" : "s") << ":\n\n";
  for (const auto& a : all.agents()) PrintAgent(a);
  return 0;
}

int AgentOne(FlagSet& f, const std::string& op) {
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  std::string id = f.GetString("spiffeID");
  if (id.empty()) return Fail("a SPIFFE ID is required (-spiffeID)");
  if (absl::Status st = CheckSpiffeIdFlag(f, "spiffeID"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  signet::admin::AgentRequest req;
  req.set_spiffe_id(id);
  signet::admin::AgentResponse resp;
  grpc::Status s = Call(f, [&](Admin::Stub* st, grpc::ClientContext* c) {
    if (op == "evict") return st->EvictAgent(c, req, &resp);
    if (op == "ban") return st->BanAgent(c, req, &resp);
    return st->ShowAgent(c, req, &resp);
  });
  if (!s.ok()) return FailStatus(s);
  if (f.GetString("output") == "json") {
    std::cout << ToJson(resp) << "\n";
  } else if (op == "evict") {
    std::cout << "Agent evicted successfully\n";
  } else if (op == "ban") {
    std::cout << "Agent banned successfully\n";
  } else {
    std::cout << "Found an attested agent given its SPIFFE ID\n\n";
    PrintAgent(resp.agent());
  }
  return 0;
}

int X509Mint(FlagSet& f) {
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  if (f.GetString("spiffeID").empty()) return Fail("a SPIFFE ID is required (-spiffeID)");
  if (absl::Status st = CheckSpiffeIdFlag(f, "spiffeID"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  if (f.GetInt("ttl") < 0) return Fail("-ttl must not be negative");
  if (f.GetInt("ttl") > INT32_MAX) return Fail("-ttl is too large");
  signet::admin::MintX509SvidRequest req;
  req.set_spiffe_id(f.GetString("spiffeID"));
  req.set_ttl(static_cast<int32_t>(f.GetInt("ttl")));
  for (const std::string& d : f.GetList("dns")) {
    absl::Status st = ValidateDnsName(d);
    if (!st.ok()) return Fail(absl::StrCat("invalid -dns: ", st.message()));
    req.add_dns_names(d);
  }
  signet::admin::MintX509SvidResponse resp;
  grpc::Status s = Call(
      f, [&](Admin::Stub* st, grpc::ClientContext* c) { return st->MintX509Svid(c, req, &resp); });
  if (!s.ok()) return FailStatus(s);
  std::string svid_pem, key_pem, bundle_pem;
  for (const std::string& der : resp.svid().cert_chain()) {
    absl::StatusOr<X509Ptr> c = ParseCertDer(der);
    if (c.ok()) svid_pem += CertToPem(c->get()).value_or("");
  }
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKeyDer(resp.private_key());
  if (key.ok()) key_pem = PrivateKeyToPkcs8Pem(key->get()).value_or("");
  for (const std::string& der : resp.root_cas()) {
    absl::StatusOr<X509Ptr> c = ParseCertDer(der);
    if (c.ok()) bundle_pem += CertToPem(c->get()).value_or("");
  }
  std::string dir = f.GetString("write");
  if (!dir.empty()) {
    absl::Status st = MakeDirs(dir, 0700);
    if (st.ok()) st = WriteFileAtomic(dir + "/svid.pem", svid_pem, 0644);
    if (st.ok()) st = WriteFileAtomic(dir + "/key.pem", key_pem, 0600);
    if (st.ok()) st = WriteFileAtomic(dir + "/bundle.pem", bundle_pem, 0644);
    if (!st.ok()) return Fail(absl::StrCat("-write: ", st.message()));
    std::cout << "X509-SVID written to " << dir << "/svid.pem\n"
              << "Private key written to " << dir << "/key.pem\n"
              << "Root CAs written to " << dir << "/bundle.pem\n";
    return 0;
  }
  if (f.GetString("output") == "json") {
    signet::admin::MintX509SvidResponse out = resp;
    out.clear_private_key();
    std::cout << ToJson(out) << "\n";
    return 0;
  }
  std::cout << "X509-SVID:\n"
            << svid_pem << "\nPrivate key:\n"
            << key_pem << "\nRoot CAs:\n"
            << bundle_pem;
  return 0;
}

int JwtMint(FlagSet& f) {
  if (absl::Status s = CheckOutput(f); !s.ok()) return Fail(std::string(s.message()));
  if (f.GetString("spiffeID").empty()) return Fail("a SPIFFE ID is required (-spiffeID)");
  if (absl::Status st = CheckSpiffeIdFlag(f, "spiffeID"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  if (f.GetList("audience").empty()) return Fail("at least one audience is required (-audience)");
  if (f.GetInt("ttl") < 0) return Fail("-ttl must not be negative");
  if (f.GetInt("ttl") > INT32_MAX) return Fail("-ttl is too large");
  signet::admin::MintJwtSvidRequest req;
  req.set_spiffe_id(f.GetString("spiffeID"));
  for (const std::string& a : f.GetList("audience")) req.add_audience(a);
  req.set_ttl(static_cast<int32_t>(f.GetInt("ttl")));
  signet::admin::MintJwtSvidResponse resp;
  grpc::Status s = Call(
      f, [&](Admin::Stub* st, grpc::ClientContext* c) { return st->MintJwtSvid(c, req, &resp); });
  if (!s.ok()) return FailStatus(s);
  std::string path = f.GetString("write");
  if (!path.empty()) {
    absl::Status st = WriteFileAtomic(path, resp.token() + "\n", 0600);
    if (!st.ok()) return Fail(absl::StrCat("-write: ", st.message()));
    std::cout << "JWT-SVID written to " << path << "\n";
    return 0;
  }
  if (f.GetString("output") == "json") {
    std::cout << ToJson(resp) << "\n";
  } else {
    std::cout << resp.token() << "\n";
  }
  return 0;
}

int Healthcheck(FlagSet& f) {
  signet::admin::HealthResponse resp;
  grpc::Status s = Call(f, [&](Admin::Stub* st, grpc::ClientContext* c) {
    return st->Health(c, signet::admin::HealthRequest(), &resp);
  });
  if (!s.ok()) {
    std::cerr << "Server is unhealthy: " << s.error_message() << "\n";
    return 1;
  }
  if (!f.GetBool("shallow") && !resp.ready()) {
    std::cerr << "Server is unhealthy: " << resp.message() << "\n";
    return 1;
  }
  std::cout << "Server is healthy.\n";
  return 0;
}

int Validate(FlagSet& f) {
  absl::StatusOr<ServerConfig> c = LoadServerConfig(f.GetString("config"));
  if (!c.ok()) {
    std::cerr << c.status().message() << "\n";
    return 1;
  }
  std::cout << "Configuration is valid.\n";
  return 0;
}

int Run(FlagSet& f) {
  absl::StatusOr<ServerConfig> c = LoadServerConfig(f.GetString("config"));
  if (!c.ok()) {
    std::cerr << c.status().message() << "\n";
    return 1;
  }
  if (f.IsSet("logLevel")) c->log_level = f.GetString("logLevel");
  c->allow_new_ca = f.GetBool("allowNewCA");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Past a file size limit (RLIMIT_FSIZE) a write fails with EFBIG like one
  // on a full disk, instead of killing the server with its sockets left
  // behind.
  signal(SIGXFSZ, SIG_IGN);
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(*std::move(c));
  if (!server.ok()) return Fail(std::string(server.status().message()));
  absl::Status st = (*server)->Start();
  if (!st.ok()) {
    (*server)->Shutdown();
    return Fail(std::string(st.message()));
  }
  int sig = 0;
  sigwait(&set, &sig);
  LogInfo("signal received, stopping", {{"signal", absl::StrCat(sig)}});
  (*server)->Shutdown();
  return 0;
}

// PrintVersion prints "<version>-<commit>" (e.g. "0.1.0-1a2b3c4") to stdout,
// for `signet-server version` and `signet-server --version`.
int PrintVersion(FlagSet&) {
  std::cout << VersionString() << "\n";
  return 0;
}

std::map<std::string, Command> Commands() {
  std::map<std::string, Command> m;
  // For the commands whose only flags are the socket and the output format.
  auto socket_output_flags = [](FlagSet& f) {
    AddSocket(f);
    AddOutput(f);
  };
  m["run"] = {"run -config FILE", "Runs the server.",
              [](FlagSet& f) {
                f.String("config", "conf/server.yaml", "Path to a signet-server config file");
                f.String("logLevel", "", "Overrides server.log_level (debug, info, warn, error)");
                f.Bool("allowNewCA",
                       "Start a new CA (a new trust bundle) even though CA key files exist but "
                       "the datastore has no CA state, or the datastore names key files that "
                       "are missing or unusable; without it the server refuses to start");
              },
              Run};
  m["version"] = {"version", "Prints the version and commit.", [](FlagSet&) {}, PrintVersion};
  m["validate"] = {"validate -config FILE",
                   "Validates a server configuration file, reporting every problem with its line.",
                   [](FlagSet& f) {
                     f.String("config", "conf/server.yaml", "Path to a signet-server config file");
                   },
                   Validate};
  m["entry create"] = {"entry create [flags]", "Creates registration entries.", AddEntryFlags,
                       EntryCreate};
  m["entry update"] = {"entry update -entryID ID [flags]",
                       "Updates a registration entry: flags given replace those fields.",
                       [](FlagSet& f) {
                         AddEntryFlags(f);
                         f.String("entryID", "",
                                  "The Registration Entry ID of the record to update");
                       },
                       EntryUpdate};
  m["entry show"] = {
      "entry show [flags]", "Displays configured registration entries.",
      [](FlagSet& f) {
        AddSocket(f);
        f.String("entryID", "", "The Entry ID of the records to show");
        f.String("spiffeID", "", "The SPIFFE ID of the records to show");
        f.String("parentID", "", "The Parent ID of the records to show");
        f.List("selector", "A colon-delimited type:value selector. Can be used more than once");
        f.String("matchSelectorsOn", "superset",
                 "The match mode used when filtering by selectors (exact, subset, superset, any)");
        AddOutput(f);
      },
      EntryShow};
  m["entry delete"] = {"entry delete -entryID ID", "Deletes a registration entry.",
                       [](FlagSet& f) {
                         AddSocket(f);
                         f.String("entryID", "",
                                  "The Registration Entry ID of the record to delete");
                         AddOutput(f);
                       },
                       EntryDelete};
  m["entry count"] = {
      "entry count", "Counts registration entries.", socket_output_flags, [](FlagSet& f) {
        return Count(f, &Admin::Stub::CountEntries, "registration entry", "registration entries");
      }};
  m["token generate"] = {"token generate [flags]", "Generates a join token.",
                         [](FlagSet& f) {
                           AddSocket(f);
                           f.String("spiffeID", "",
                                    "Additional SPIFFE ID to assign the token owner (optional)");
                           f.Int("ttl", 600, "Token TTL in seconds");
                           AddOutput(f);
                         },
                         TokenGenerate};
  m["bundle show"] = {"bundle show [-format pem|spiffe]", "Prints the server's trust bundle.",
                      [](FlagSet& f) {
                        AddSocket(f);
                        f.String("format", "pem", "The format to show the bundle (pem or spiffe)");
                        AddOutput(f);
                      },
                      BundleShow};
  auto agent_flags = [](FlagSet& f) {
    AddSocket(f);
    f.String("spiffeID", "", "The SPIFFE ID of the agent");
    AddOutput(f);
  };
  m["agent list"] = {"agent list", "Lists attested agents.", socket_output_flags, AgentList};
  m["agent show"] = {"agent show -spiffeID ID", "Shows the details of an attested agent.",
                     agent_flags, [](FlagSet& f) { return AgentOne(f, "show"); }};
  m["agent evict"] = {"agent evict -spiffeID ID",
                      "Evicts an attested agent (it must attest again).", agent_flags,
                      [](FlagSet& f) { return AgentOne(f, "evict"); }};
  m["agent ban"] = {"agent ban -spiffeID ID", "Bans an attested agent (refused at once).",
                    agent_flags, [](FlagSet& f) { return AgentOne(f, "ban"); }};
  m["agent count"] = {
      "agent count", "Counts attested agents.", socket_output_flags, [](FlagSet& f) {
        return Count(f, &Admin::Stub::CountAgents, "attested agent", "attested agents");
      }};
  m["x509 mint"] = {"x509 mint -spiffeID ID [flags]", "Mints an X.509-SVID.",
                    [](FlagSet& f) {
                      AddSocket(f);
                      f.String("spiffeID", "", "SPIFFE ID of the X509-SVID");
                      f.Int("ttl", 0, "TTL of the X509-SVID in seconds (0: server default)");
                      f.List("dns",
                             "DNS name that will be included in SVID. Can be used more than once");
                      f.String("write", "", "Directory to write output to instead of stdout");
                      AddOutput(f);
                    },
                    X509Mint};
  m["jwt mint"] = {
      "jwt mint -spiffeID ID -audience AUD [flags]", "Mints a JWT-SVID.",
      [](FlagSet& f) {
        AddSocket(f);
        f.String("spiffeID", "", "SPIFFE ID of the JWT-SVID");
        f.List("audience",
               "Audience claim that will be included in the SVID. Can be used more than once");
        f.Int("ttl", 0, "TTL of the JWT-SVID in seconds (0: server default)");
        f.String("write", "", "File to write token to instead of stdout");
        AddOutput(f);
      },
      JwtMint};
  m["healthcheck"] = {"healthcheck", "Determines server health status.",
                      [](FlagSet& f) {
                        AddSocket(f);
                        f.Bool("shallow", "Perform a less stringent health check (liveness only)");
                        f.Bool("verbose", "Print verbose information");
                      },
                      Healthcheck};
  return m;
}

std::string TopUsage(const std::map<std::string, Command>& cmds) {
  std::string out = "Usage: signet-server <command> [flags]\n\nCommands:\n";
  for (const auto& [name, c] : cmds) {
    absl::StrAppend(&out, "  ", name, std::string(name.size() < 16 ? 16 - name.size() : 1, ' '),
                    c.description, "\n");
  }
  out += "\nRun 'signet-server <command> -h' for the flags of a command.\n";
  return out;
}

}  // namespace

int RunCli(const std::vector<std::string>& args) {
  std::map<std::string, Command> cmds = Commands();
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help" ||
      args[0] == "-help") {
    (args.empty() ? std::cerr : std::cout) << TopUsage(cmds);
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "--version" || args[0] == "-version") {
    std::vector<std::string> v = args;
    v[0] = "version";
    return RunCli(v);
  }
  size_t consumed = 1;
  auto it = cmds.find(args[0]);
  if (it == cmds.end() && args.size() >= 2) {
    it = cmds.find(args[0] + " " + args[1]);
    consumed = 2;
  }
  if (it == cmds.end()) {
    // A command group without (valid) subcommand: list the group's commands.
    std::string prefix = args[0] + " ";
    std::string group;
    for (const auto& [name, c] : cmds) {
      if (name.rfind(prefix, 0) == 0)
        absl::StrAppend(&group, "  ", name, "\t", c.description, "\n");
    }
    bool help = args.size() >= 2 && (args[1] == "-h" || args[1] == "--help");
    if (!group.empty()) {
      (help ? std::cout : std::cerr)
          << "Usage: signet-server " << args[0] << " <subcommand> [flags]\n\nSubcommands:\n"
          << group;
      if (help) return 0;
      if (args.size() >= 2) std::cerr << "\nError: unknown subcommand \"" << args[1] << "\"\n";
      return 1;
    }
    std::cerr << "Error: unknown command \"" << args[0] << "\"\n\n" << TopUsage(cmds);
    return 1;
  }
  const Command& cmd = it->second;
  FlagSet flags("signet-server", cmd.usage, cmd.description);
  cmd.flags(flags);
  absl::Status st =
      flags.Parse(std::vector<std::string>(args.begin() + static_cast<long>(consumed), args.end()));
  if (absl::IsCancelled(st)) {
    std::cout << flags.Usage();
    return 0;
  }
  if (!st.ok()) {
    std::cerr << "Error: " << st.message() << "\n\n" << flags.Usage();
    return 1;
  }
  if (!flags.positional().empty()) {
    std::cerr << "Error: unexpected argument \"" << flags.positional()[0] << "\"\n\n"
              << flags.Usage();
    return 1;
  }
  return cmd.run(flags);
}

}  // namespace signet::server
