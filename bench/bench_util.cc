#include "bench/bench_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/file.h"

extern char** environ;

namespace signet::bench {

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

Stats Summarise(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = v.size();
  auto rank = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
  };
  s.median = rank(0.5);
  s.p99 = rank(0.99);
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/sgb-XXXXXX";
  char* p = mkdtemp(tmpl);
  path_ = p != nullptr ? p : "/tmp";
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  if (std::getenv("SIGNET_BENCH_KEEP") != nullptr || path_ == "/tmp") return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::Status WriteFile(const std::string& path, const std::string& data, int mode) {
  return WriteFileAtomic(path, data, static_cast<mode_t>(mode));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  // Up to a copy of the bench binary itself (see the startup benchmark).
  return ReadFileBounded(path, size_t{1} << 30);
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv,
                                                        const std::string& log_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot spawn ", argv[0], ": ", strerror(rc)));
  }
  return std::unique_ptr<Process>(new Process(pid, log_path));
}

Process::~Process() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
}

bool Process::Running() {
  if (exited_) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

int Process::Stop() {
  if (exited_) return exit_code_;
  kill(pid_, SIGTERM);
  if (!WaitFor([&] { return !Running(); }, absl::Seconds(10), absl::Milliseconds(10))) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
    exited_ = true;
    exit_code_ = 128 + SIGKILL;
  }
  return exit_code_;
}

std::string Process::Log() const {
  absl::StatusOr<std::string> s = ReadFile(log_path_);
  return s.ok() ? *s : "";
}

absl::StatusOr<std::string> RunToCompletion(const std::vector<std::string>& argv,
                                            absl::Duration timeout) {
  char tmpl[] = "/tmp/sgb-out-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return absl::InternalError("mkstemp failed");
  close(fd);
  std::string out_path = tmpl;
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start(argv, out_path);
  if (!p.ok()) return p.status();
  bool done = WaitFor([&] { return !(*p)->Running(); }, timeout, absl::Milliseconds(5));
  int rc = done ? (*p)->Stop() : -1;
  if (!done) (*p)->Stop();
  std::string out = (*p)->Log();
  unlink(out_path.c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " exited with ", rc, ": ", out));
  }
  return out;
}

int64_t RssKb(pid_t pid) {
  absl::StatusOr<std::string> s = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!s.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(*s, '\n')) {
    if (absl::ConsumePrefix(&line, "VmRSS:")) {
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, " kB");
      int64_t v;
      if (absl::SimpleAtoi(line, &v)) return v;
    }
  }
  return -1;
}

double CpuSeconds(pid_t pid) {
  absl::StatusOr<std::string> s = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!s.ok()) return -1;
  size_t close_paren = s->rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(*s).substr(close_paren + 2), ' ', absl::SkipEmpty());
  // f[0] is field 3; utime is field 14, stime field 15.
  uint64_t ut, st;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &ut) || !absl::SimpleAtoi(f[12], &st)) return -1;
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

bool WaitQuiet(pid_t pid, absl::Duration quiet, absl::Duration timeout, absl::Time* last_busy) {
  absl::Time deadline = absl::Now() + timeout;
  double last = CpuSeconds(pid);
  absl::Time quiet_since = absl::Now();
  while (absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    double c = CpuSeconds(pid);
    if (c != last) {
      last = c;
      quiet_since = absl::Now();
    } else if (absl::Now() - quiet_since >= quiet) {
      if (last_busy != nullptr) *last_busy = quiet_since;
      return true;
    }
  }
  return false;
}

bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout, absl::Duration every) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (pred()) return true;
    if (absl::Now() >= deadline) return pred();
    absl::SleepFor(every);
  }
}

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

void ResultSink::Add(const Row& r) {
  std::ofstream f(path_, std::ios::app);
  f << absl::StrJoin({r.id, r.what, r.median, r.p99, r.floor, r.ratio, r.target, r.met,
                      absl::StrFormat("%.4f", r.plot_value), r.plot_label},
                     "\t")
    << "\n";
  fprintf(stderr, "RESULT %s | %s | median %s | p99 %s | floor %s | ratio %s | target %s | %s\n",
          r.id.c_str(), r.what.c_str(), r.median.c_str(), r.p99.c_str(), r.floor.c_str(),
          r.ratio.c_str(), r.target.c_str(), r.met.c_str());
}

void ResultSink::Note(const std::string& text) {
  std::ofstream f(path_, std::ios::app);
  f << "note\t" << text << "\n";
  fprintf(stderr, "NOTE %s\n", text.c_str());
}

std::string Fmt(double v, int digits, const std::string& unit) {
  return absl::StrCat(absl::StrFormat("%.*f", digits, v), unit.empty() ? "" : " ", unit);
}

}  // namespace signet::bench
