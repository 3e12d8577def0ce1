#include "helper/helper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/jwt_source.h"
#include "common/file.h"
#include "common/log.h"
#include "common/x509.h"

extern char** environ;

namespace signet::helper {
SvidFiles RenderSvidFiles(const client::X509Context& ctx, bool add_intermediates_to_bundle) {
  SvidFiles f;
  const client::X509Svid& svid = *ctx.svids[0];
  std::string intermediates;
  for (size_t i = 0; i < svid.chain.size(); ++i) {
    absl::StatusOr<std::string> pem = CertToPem(svid.chain[i].get());
    if (!pem.ok()) continue;
    if (i == 0 || !add_intermediates_to_bundle) {
      f.svid_pem += *pem;
    } else {
      intermediates += *pem;
    }
  }
  f.key_pem = svid.KeyPem();
  if (const Bundle* b = ctx.bundles->Find(svid.id.trust_domain())) {
    f.bundle_pem = b->X509AuthoritiesPem();
  }
  f.bundle_pem += intermediates;
  return f;
}

Helper::Helper(HelperConfig config, client::WorkloadApiOptions options)
    : config_(std::move(config)), options_(std::move(options)) {
  if (!config_.agent_address.empty()) options_.address = WorkloadAddress(config_.agent_address);
}

Helper::~Helper() { StopChild(); }

absl::Status Helper::WriteX509(const client::X509Context& ctx) {
  SvidFiles f = RenderSvidFiles(ctx, config_.add_intermediates_to_bundle);
  if (f.key_pem.empty()) return absl::InternalError("cannot encode the private key");
  // Key first: a reader that sees the new certificate also finds its key.
  absl::Status s = WriteFileAtomic(absl::StrCat(config_.cert_dir, "/", config_.svid_key_file_name),
                                   f.key_pem, config_.key_file_mode);
  if (s.ok()) {
    s = WriteFileAtomic(absl::StrCat(config_.cert_dir, "/", config_.svid_file_name), f.svid_pem,
                        config_.cert_file_mode);
  }
  if (s.ok()) {
    s = WriteFileAtomic(absl::StrCat(config_.cert_dir, "/", config_.svid_bundle_file_name),
                        f.bundle_pem, config_.cert_file_mode);
  }
  if (s.ok()) {
    LogInfo("X.509-SVID written", {{"spiffe_id", ctx.svids[0]->id.ToString()},
                                   {"dir", config_.cert_dir},
                                   {"serial", CertSerialHex(ctx.svids[0]->chain[0].get())}});
  }
  return s;
}

absl::Status Helper::RefreshJwts(bool force) {
  absl::Time now = absl::Now();
  for (const JwtSvidFile& j : config_.jwt_svids) {
    auto it = jwt_refresh_at_.find(j.file_name);
    if (!force && it != jwt_refresh_at_.end() && now < it->second) continue;
    absl::StatusOr<std::vector<client::JwtSvidToken>> toks =
        client::FetchJwtSvids(options_, {j.audience});
    if (!toks.ok()) {
      LogWarn("cannot fetch JWT-SVID",
              {{"audience", j.audience}, {"error", toks.status().ToString()}});
      jwt_refresh_at_[j.file_name] = now + absl::Seconds(5);
      continue;
    }
    const client::JwtSvidToken& t = (*toks)[0];
    absl::Status s = WriteFileAtomic(absl::StrCat(config_.cert_dir, "/", j.file_name), t.token,
                                     config_.jwt_svid_file_mode);
    if (!s.ok()) return s;
    // Refresh at half of the remaining lifetime (as spiffe-helper).
    jwt_refresh_at_[j.file_name] = now + std::max(absl::Seconds(1), (t.svid.expires_at - now) / 2);
    LogInfo("JWT-SVID written", {{"audience", j.audience}, {"file", j.file_name}});
  }
  return absl::OkStatus();
}

void Helper::StartChild() {
  absl::StatusOr<std::vector<std::string>> args = SplitArgs(config_.cmd_args);
  std::vector<std::string> argv{config_.cmd};
  if (args.ok()) argv.insert(argv.end(), args->begin(), args->end());
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, config_.cmd.c_str(), nullptr, nullptr, cargv.data(), environ);
  if (rc != 0) {
    LogError("cannot start cmd", {{"cmd", config_.cmd}, {"error", strerror(rc)}});
    return;
  }
  child_ = pid;
  LogInfo("started cmd", {{"cmd", config_.cmd}, {"pid", absl::StrCat(pid)}});
}

void Helper::ReapChild() {
  if (child_ <= 0) return;
  int status = 0;
  pid_t r = waitpid(child_, &status, WNOHANG);
  if (r == child_) {
    LogWarn("cmd exited; it is started again at the next SVID update",
            {{"pid", absl::StrCat(child_)},
             {"status", WIFEXITED(status) ? absl::StrCat("exit ", WEXITSTATUS(status))
                                          : absl::StrCat("signal ", WTERMSIG(status))}});
    child_ = -1;
  }
}

void Helper::StopChild() {
  if (child_ <= 0) return;
  kill(child_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(child_, nullptr, WNOHANG) == child_) {
      child_ = -1;
      return;
    }
    usleep(50 * 1000);
  }
  kill(child_, SIGKILL);
  waitpid(child_, nullptr, 0);
  child_ = -1;
}

void Helper::NotifyProgram() {
  int sig = 0;
  if (!config_.renew_signal.empty()) sig = SignalFromName(config_.renew_signal).value_or(0);
  if (!config_.cmd.empty()) {
    ReapChild();
    if (child_ <= 0) {
      StartChild();
    } else if (sig != 0) {
      if (kill(child_, sig) != 0) {
        LogWarn("cannot signal cmd", {{"pid", absl::StrCat(child_)}, {"error", strerror(errno)}});
      }
    }
  }
  if (!config_.pid_file_name.empty() && sig != 0) {
    // A pid file holds one decimal number.
    absl::StatusOr<std::string> text = ReadFileBounded(config_.pid_file_name, 64);
    int pid = 0;
    if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 0) {
      LogWarn("cannot read pid file", {{"file", config_.pid_file_name}});
    } else if (kill(pid, sig) != 0) {
      LogWarn("cannot signal process", {{"pid", absl::StrCat(pid)}, {"error", strerror(errno)}});
    }
  }
}

absl::Status Helper::Run() {
  absl::StatusOr<std::unique_ptr<client::X509Source>> source = client::X509Source::Create(options_);
  if (!source.ok()) return source.status();
  std::shared_ptr<const client::X509Context> ctx = (*source)->GetX509Context();
  absl::Status s = WriteX509(*ctx);
  if (!s.ok()) return s;
  s = RefreshJwts(true);
  if (!s.ok()) return s;
  if (!config_.daemon_mode) return absl::OkStatus();
  (*source)->AddUpdateCallback([this](const client::X509Context& c) {
    absl::MutexLock l(&mu_);
    pending_ = std::make_shared<const client::X509Context>(client::X509Context{c.svids, c.bundles});
  });
  NotifyProgram();
  while (!stop_.load()) {
    std::shared_ptr<const client::X509Context> next;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ != nullptr; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(100));
      next = std::move(pending_);
      pending_ = nullptr;
    }
    ReapChild();
    if (next != nullptr) {
      absl::Status w = WriteX509(*next);
      if (!w.ok()) {
        LogError("cannot write X.509-SVID files", {{"error", w.ToString()}});
        continue;
      }
      absl::Status j = RefreshJwts(true);
      if (!j.ok()) LogError("cannot write JWT-SVID files", {{"error", j.ToString()}});
      NotifyProgram();
    } else if (!config_.jwt_svids.empty()) {
      absl::Status j = RefreshJwts(false);
      if (!j.ok()) LogError("cannot write JWT-SVID files", {{"error", j.ToString()}});
    }
  }
  (*source)->Close();
  StopChild();
  return absl::OkStatus();
}

}  // namespace signet::helper
