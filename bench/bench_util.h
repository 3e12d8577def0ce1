// Small helpers of the Signet benchmarks: child processes, /proc readings,
// latency statistics and the results table the driver turns into RESULTS.md.
#ifndef SIGNET_BENCH_BENCH_UTIL_H_
#define SIGNET_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace signet::bench {

// Clock used for every measurement.
using SteadyClock = std::chrono::steady_clock;

// MsSince returns the milliseconds elapsed since `t0`.
double MsSince(SteadyClock::time_point t0);

// Stats summarises samples (milliseconds or any unit).
struct Stats {
  size_t n = 0;
  double median = 0;
  double p99 = 0;
  double max = 0;
  double mean = 0;
};
// Summarise returns the nearest-rank median/p99 of `v` (all zero when empty).
Stats Summarise(std::vector<double> v);

// TempDir is a fresh "/tmp/sgb-XXXXXX" directory (short: unix socket paths),
// removed recursively on destruction unless SIGNET_BENCH_KEEP is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// WriteFile writes `data` to `path` with `mode` (common WriteFileAtomic).
// Internal on failure.
[[nodiscard]] absl::Status WriteFile(const std::string& path, const std::string& data,
                                     int mode = 0644);
// ReadFile returns the contents of `path` (at most 1 GiB, common
// ReadFileBounded); NotFound when it cannot be read.
[[nodiscard]] absl::StatusOr<std::string> ReadFile(const std::string& path);

// Process is a background child whose stdout and stderr go to `log_path`.
// SIGKILLed on destruction if still running. Not thread-safe.
class Process {
 public:
  // Start spawns argv. Internal when the spawn fails.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Process>> Start(
      const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Running reports whether the child has not exited yet.
  bool Running();
  // Stop sends SIGTERM, waits up to 10 s, then SIGKILLs; returns the exit
  // code (128+signal when killed).
  int Stop();
  // Log returns what the child wrote so far.
  std::string Log() const;

 private:
  Process(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  bool exited_ = false;
  int exit_code_ = -1;
};

// RunToCompletion runs argv, waits (at most `timeout`) and returns its stdout;
// Internal when it fails or exits non-zero.
[[nodiscard]] absl::StatusOr<std::string> RunToCompletion(const std::vector<std::string>& argv,
                                                          absl::Duration timeout);

// RssKb returns VmRSS of `pid` in kB (-1 when unreadable).
int64_t RssKb(pid_t pid);
// CpuSeconds returns utime+stime of `pid` in seconds (-1 when unreadable).
double CpuSeconds(pid_t pid);
// WaitQuiet waits until `pid` used no CPU for `quiet` (checked every 100 ms),
// at most `timeout`; returns whether it became quiet. When it did and
// `last_busy` is set, *last_busy is when CPU use was last seen (to within
// 100 ms): the moment the process settled.
bool WaitQuiet(pid_t pid, absl::Duration quiet, absl::Duration timeout,
               absl::Time* last_busy = nullptr);

// WaitFor polls `pred` every `every` until true or `timeout`; returns the last
// value of `pred`.
bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout,
             absl::Duration every = absl::Milliseconds(2));

// FreeTcpPort returns a port that was free on 127.0.0.1 a moment ago (0 on
// failure).
int FreeTcpPort();

// Row is one line of the results table.
struct Row {
  std::string id;      // "1", "1b", ...
  std::string what;    // what was measured
  std::string median;  // formatted value with unit
  std::string p99;
  std::string floor;  // floor measured in the same run ("-" when none)
  std::string ratio;  // measured / floor ("-" when none)
  std::string target;
  std::string met;        // "yes" | "no" | "info"
  double plot_value = 0;  // ratio (or value / target) for the plot; 0: not plotted
  std::string plot_label;
};

// ResultSink appends rows to a TSV file (one row per line, tab-separated in
// Row order) as soon as they are known, so a crash keeps earlier results.
class ResultSink {
 public:
  explicit ResultSink(std::string path) : path_(std::move(path)) {}
  void Add(const Row& r);
  // Note adds a free-text note line ("note\t<text>") shown below the table.
  void Note(const std::string& text);

 private:
  std::string path_;
};

// Fmt formats `v` with `digits` decimals followed by `unit`.
std::string Fmt(double v, int digits, const std::string& unit);

}  // namespace signet::bench

#endif  // SIGNET_BENCH_BENCH_UTIL_H_
