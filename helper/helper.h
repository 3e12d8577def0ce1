// signet-helper: keeps a workload's X.509-SVID, key, bundle (and optional
// JWT-SVIDs) in files, and tells the program that reads them.
#ifndef SIGNET_HELPER_HELPER_H_
#define SIGNET_HELPER_HELPER_H_

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/workload_api.h"
#include "client/x509_source.h"
#include "helper/helper_config.h"

namespace signet::helper {

// SvidFiles is what is written for one X.509 context.
struct SvidFiles {
  std::string svid_pem;    // leaf (+ intermediates unless moved to the bundle)
  std::string key_pem;     // PKCS#8
  std::string bundle_pem;  // CA certificates of the SVID's trust domain
};
// RenderSvidFiles renders the default SVID of `ctx` as spiffe-helper does.
SvidFiles RenderSvidFiles(const client::X509Context& ctx, bool add_intermediates_to_bundle);

// Helper runs the helper: one X509Source, files rewritten on every update,
// then the program is signalled (pid file and/or the child started from
// `cmd`) or started. Not thread-safe: Run() drives everything on the calling
// thread; Stop() may be called from any thread or a signal handler.
class Helper {
 public:
  Helper(HelperConfig config, client::WorkloadApiOptions options);
  ~Helper();
  Helper(const Helper&) = delete;
  Helper& operator=(const Helper&) = delete;

  // Run waits for the first X.509 context (options.initial_timeout), writes
  // the files and, in daemon mode, keeps going until Stop(). Returns the
  // source's error when the first context never arrives, or an Internal
  // error when files cannot be written.
  [[nodiscard]] absl::Status Run();
  // Stop asks Run() to return (async-signal-safe).
  void Stop() { stop_.store(true); }

 private:
  absl::Status WriteX509(const client::X509Context& ctx);
  absl::Status RefreshJwts(bool force);
  void NotifyProgram();
  void StartChild();
  void ReapChild();
  void StopChild();

  const HelperConfig config_;
  client::WorkloadApiOptions options_;
  std::atomic<bool> stop_{false};
  pid_t child_ = -1;
  std::map<std::string, absl::Time> jwt_refresh_at_;  // by file name

  // Guarded by mu_ (written by the source's watcher thread).
  absl::Mutex mu_;
  std::shared_ptr<const client::X509Context> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::helper

#endif  // SIGNET_HELPER_HELPER_H_
