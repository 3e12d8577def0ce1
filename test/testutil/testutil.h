// Helpers for tests that run real processes: temporary directories, child
// processes (optionally under another uid), waiting with deadlines.
#ifndef SIGNET_TEST_TESTUTIL_TESTUTIL_H_
#define SIGNET_TEST_TESTUTIL_TESTUTIL_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace signet::testutil {

// TempDir is a fresh directory under /tmp ("/tmp/sg-XXXXXX", short enough for
// unix socket paths) removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // File returns path()/name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// BuildDir returns $SIGNET_BUILD_DIR (the CMake binary dir).
std::string BuildDir();
// SourceDir returns $SIGNET_SOURCE_DIR.
std::string SourceDir();
// ServerBinary / AgentBinary return the built signet-server / signet-agent.
std::string ServerBinary();
std::string AgentBinary();

struct RunResult {
  int exit_code = -1;  // exit status, or 128+signal
  std::string out;     // stdout
  std::string err;     // stderr
};

struct ProcessOptions {
  std::map<std::string, std::string> env;  // added to (or replacing in) the environment
  uid_t uid = static_cast<uid_t>(-1);      // run as this uid (and gid) when set and we are root
  gid_t gid = static_cast<gid_t>(-1);
  std::string cwd;
  std::string stdin_data;
};

// Run runs argv to completion (killed after `timeout`) and returns its output.
RunResult Run(const std::vector<std::string>& argv, const ProcessOptions& opts = {},
              absl::Duration timeout = absl::Seconds(60));

// Subprocess is a child process running in the background whose stdout and
// stderr go to files. Killed (SIGKILL) on destruction if still running.
class Subprocess {
 public:
  Subprocess(const std::vector<std::string>& argv, const ProcessOptions& opts = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Signal sends `sig`; Wait waits for exit (up to `timeout`) and returns the
  // exit code (128+signal when killed), or -1 on timeout.
  void Signal(int sig);
  int Wait(absl::Duration timeout = absl::Seconds(30));
  // Stop sends SIGTERM, waits up to 10s, then SIGKILL.
  int Stop();
  // Output returns what the child wrote so far.
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  bool exited_ = false;
  std::string out_path_;
  std::string err_path_;
};

// WaitFor polls `pred` every 10 ms until it is true or `timeout` passes;
// returns the last value of `pred`.
bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(20));

// FreeTcpPort returns a port that was free on 127.0.0.1 a moment ago.
int FreeTcpPort();

// ReadFile / WriteFile for test fixtures (WriteFile creates with `mode`).
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data, int mode = 0644);

// IsRoot reports whether the test runs as root (uid tests need it).
bool IsRoot();
// NobodyUid returns a uid/gid pair of an unprivileged user for uid tests
// (65534 "nobody" and 65533 as a second one).
inline constexpr uid_t kTestUidA = 65534;
inline constexpr uid_t kTestUidB = 65533;

}  // namespace signet::testutil

#endif  // SIGNET_TEST_TESTUTIL_TESTUTIL_H_
