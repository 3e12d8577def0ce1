// SourceCore: what the Workload API sources (X509Source, JwtSource,
// BundleSource) share. Internal (not installed): the public headers only
// forward-declare it and hold it through a std::unique_ptr.
#ifndef SIGNET_CLIENT_INTERNAL_SOURCE_CORE_H_
#define SIGNET_CLIENT_INTERNAL_SOURCE_CORE_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/internal/workload_conn.h"
#include "client/workload_api.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace signet::client::internal {

// SourceCore<T> keeps one or more values of type T ("slots") current, each
// from a server-streaming Workload API call run by its own StreamWatcher
// (go-spiffe's rules): a message that does not parse is skipped and becomes
// the last error; stream errors become the last error while the watcher
// reconnects, and the values stay; a Canceled/InvalidArgument end stops that
// watcher for good (the stop status), the values staying readable.
//
// Each accepted value is published with cb_mu_ held across the swap and the
// update callbacks, so a callback registered concurrently sees either that
// update or none of it. Callbacks run on the watcher threads.
//
// Thread-safe, except that every Watch call must come before Start.
template <typename T>
class SourceCore {
 public:
  using UpdateCallback = std::function<void(const T&)>;

  // Create connects to the Workload API (WorkloadConn::Create's errors) for
  // a source with one slot per name in `slot_names`; a name says what the
  // slot holds in Start's timeout error ("X.509 context").
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SourceCore>> Create(
      const WorkloadApiOptions& options, std::vector<std::string> slot_names) {
    ASSIGN_OR_RETURN(std::shared_ptr<WorkloadConn> conn, WorkloadConn::Create(options));
    return std::unique_ptr<SourceCore>(new SourceCore(std::move(conn), std::move(slot_names)));
  }

  // Stops the watchers before anything they use goes away.
  ~SourceCore() { Close(); }
  SourceCore(const SourceCore&) = delete;
  SourceCore& operator=(const SourceCore&) = delete;

  // Watch adds a watcher of the stream that the stub method `open` starts
  // (`rpc` names it in the log); `parse` turns each message into the value
  // of `slot`. `parse` returns absl::StatusOr<T>; it runs on the watcher
  // thread with no lock held. Before Start only.
  template <typename Request, typename Response, typename Parse>
  void Watch(size_t slot, std::string rpc,
             std::unique_ptr<grpc::ClientReader<Response>> (SpiffeWorkloadAPI::Stub::*open)(
                 grpc::ClientContext*, const Request&),
             Parse parse) {
    // watchers_ does not change once Start runs the threads that read it.
    const size_t index = watchers_.size();
    watchers_.push_back(std::make_unique<StreamWatcher>(
        std::move(rpc), conn_->options().backoff_unit,
        [this, index, slot, open, parse = std::move(parse)](grpc::ClientContext* ctx) {
          std::unique_ptr<grpc::ClientReader<Response>> reader =
              (conn_->stub()->*open)(ctx, Request());
          Response resp;
          while (reader->Read(&resp)) {
            watchers_[index]->ResetBackoff();
            Accept(slot, Response::descriptor()->name(), parse(resp));
          }
          return reader->Finish();
        },
        [this](const absl::Status& s) { OnError(s); },
        [this](const absl::Status& s) { OnStop(s); }));
  }

  // Start starts the watchers and blocks until every slot has a value (OK,
  // even if a watcher stopped since), a watcher stopped (its status), or
  // options.initial_timeout passed: DeadlineExceeded "timed out waiting for
  // the first <name of the first empty slot>" with the last error. Once.
  [[nodiscard]] absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_) {
    for (const std::unique_ptr<StreamWatcher>& w : watchers_) w->Start();
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &SourceCore::FirstValuesOrStop),
                         conn_->options().initial_timeout);
    const std::string* missing = FirstEmptySlot();
    if (missing == nullptr) return absl::OkStatus();
    if (stopped_) return stop_status_;
    return absl::DeadlineExceededError(
        absl::StrCat("timed out waiting for the first ", *missing,
                     last_error_.ok() ? "" : absl::StrCat(": ", last_error_.ToString())));
  }

  // Close stops every watcher (joining its thread); the values stay
  // readable. Idempotent.
  void Close() {
    for (const std::unique_ptr<StreamWatcher>& w : watchers_) w->Stop();
  }

  // Get returns the latest value of `slot` (null before the first).
  std::shared_ptr<const T> Get(size_t slot) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    return values_[slot];
  }

  // last_error returns the most recent watch error of any stream (OK when
  // none).
  absl::Status last_error() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    return last_error_;
  }

  // stop_status returns the status of the first watcher that stopped (OK
  // while none has).
  absl::Status stop_status() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    return stop_status_;
  }

  // AddUpdateCallback registers `cb`, called after every accepted value
  // (not for the values present at registration). Returns an id for
  // RemoveUpdateCallback, which waits for a running call.
  int AddUpdateCallback(UpdateCallback cb) ABSL_LOCKS_EXCLUDED(cb_mu_) {
    absl::MutexLock l(&cb_mu_);
    int id = next_cb_id_++;
    callbacks_[id] = std::move(cb);
    return id;
  }

  void RemoveUpdateCallback(int id) ABSL_LOCKS_EXCLUDED(cb_mu_) {
    absl::MutexLock l(&cb_mu_);
    callbacks_.erase(id);
  }

  // conn is the connection, for the sources' unary calls.
  WorkloadConn& conn() const { return *conn_; }

 private:
  SourceCore(std::shared_ptr<WorkloadConn> conn, std::vector<std::string> slot_names)
      : conn_(std::move(conn)), slot_names_(std::move(slot_names)), values_(slot_names_.size()) {}

  // Accept publishes a parsed message of the stream of `slot`, or records
  // why the `message_type` did not parse and skips it.
  void Accept(size_t slot, const std::string& message_type, absl::StatusOr<T> parsed)
      ABSL_LOCKS_EXCLUDED(mu_, cb_mu_) {
    if (!parsed.ok()) {
      LogWarn(absl::StrCat("skipping invalid ", message_type),
              {{"error", parsed.status().ToString()}});
      absl::MutexLock l(&mu_);
      last_error_ = parsed.status();
      return;
    }
    auto value = std::make_shared<const T>(*std::move(parsed));
    // cb_mu_ is held across the swap so a callback registered concurrently
    // sees either this update or none of it.
    absl::MutexLock cl(&cb_mu_);
    {
      absl::MutexLock l(&mu_);
      values_[slot] = value;
    }
    for (auto& [id, cb] : callbacks_) cb(*value);
  }

  void OnError(const absl::Status& s) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    last_error_ = s;
  }

  void OnStop(const absl::Status& s) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    last_error_ = s;
    if (!stopped_) stop_status_ = s;
    stopped_ = true;
  }

  // FirstEmptySlot returns the name of the first slot without a value, or
  // null when every slot has one.
  const std::string* FirstEmptySlot() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    for (size_t i = 0; i < values_.size(); ++i) {
      if (values_[i] == nullptr) return &slot_names_[i];
    }
    return nullptr;
  }

  // Start's wait condition (evaluated by absl::Condition with mu_ held).
  bool FirstValuesOrStop() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return stopped_ || FirstEmptySlot() == nullptr;
  }

  const std::shared_ptr<WorkloadConn> conn_;
  const std::vector<std::string> slot_names_;
  // Filled by Watch before Start, read-only afterwards.
  std::vector<std::unique_ptr<StreamWatcher>> watchers_;

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const T>> values_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status stop_status_ ABSL_GUARDED_BY(mu_);

  // Held while callbacks run.
  absl::Mutex cb_mu_;
  std::map<int, UpdateCallback> callbacks_ ABSL_GUARDED_BY(cb_mu_);
  int next_cb_id_ ABSL_GUARDED_BY(cb_mu_) = 0;
};

}  // namespace signet::client::internal

#endif  // SIGNET_CLIENT_INTERNAL_SOURCE_CORE_H_
