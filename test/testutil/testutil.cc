#include "test/testutil/testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace signet::testutil {
namespace {

std::string EnvOr(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : def;
}

// BuildEnv returns the child's environment: ours with `extra` applied.
std::vector<std::string> BuildEnv(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Spawn forks and execs argv with stdout/stderr to the given fds (-1 keeps
// ours) and stdin from `in_fd` (-1: /dev/null). Returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const ProcessOptions& opts, int out_fd,
            int err_fd, int in_fd) {
  std::vector<std::string> env = BuildEnv(opts.env);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: only async-signal-safe calls from here.
  if (in_fd < 0) in_fd = open("/dev/null", O_RDONLY);
  dup2(in_fd, 0);
  if (out_fd >= 0) dup2(out_fd, 1);
  if (err_fd >= 0) dup2(err_fd, 2);
  if (!opts.cwd.empty() && chdir(opts.cwd.c_str()) != 0) _exit(126);
  if (opts.uid != static_cast<uid_t>(-1) && getuid() == 0) {
    gid_t gid = opts.gid != static_cast<gid_t>(-1) ? opts.gid : opts.uid;
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(opts.uid) != 0) _exit(125);
  }
  execve(cargv[0], cargv.data(), cenv.data());
  _exit(127);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/sg-XXXXXX";
  char* p = mkdtemp(tmpl);
  if (p == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  path_ = p;
  // Let workloads running under other uids reach sockets inside.
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string BuildDir() { return EnvOr("SIGNET_BUILD_DIR", SIGNET_DEFAULT_BUILD_DIR); }
std::string SourceDir() { return EnvOr("SIGNET_SOURCE_DIR", SIGNET_DEFAULT_SOURCE_DIR); }
std::string ServerBinary() { return BuildDir() + "/server/signet-server"; }
std::string AgentBinary() { return BuildDir() + "/agent/signet-agent"; }

RunResult Run(const std::vector<std::string>& argv, const ProcessOptions& opts,
              absl::Duration timeout) {
  RunResult r;
  TempDir dir;
  std::string out_path = dir.File("out"), err_path = dir.File("err"), in_path = dir.File("in");
  WriteFile(in_path, opts.stdin_data);
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int in_fd = open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  pid_t pid = Spawn(argv, opts, out_fd, err_fd, in_fd);
  close(out_fd);
  close(err_fd);
  close(in_fd);
  if (pid < 0) {
    r.err = absl::StrCat("fork: ", std::strerror(errno));
    return r;
  }
  absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.err = "timed out; ";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.exit_code = DecodeStatus(status);
  r.out = ReadFile(out_path);
  r.err += ReadFile(err_path);
  return r;
}

Subprocess::Subprocess(const std::vector<std::string>& argv, const ProcessOptions& opts) {
  char tmpl[] = "/tmp/sg-out-XXXXXX";
  int fd = mkstemp(tmpl);
  out_path_ = tmpl;
  char tmpl2[] = "/tmp/sg-err-XXXXXX";
  int fd2 = mkstemp(tmpl2);
  err_path_ = tmpl2;
  pid_ = Spawn(argv, opts, fd, fd2, -1);
  close(fd);
  close(fd2);
}

Subprocess::~Subprocess() {
  if (Running()) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  unlink(out_path_.c_str());
  unlink(err_path_.c_str());
}

bool Subprocess::Running() {
  if (exited_ || pid_ <= 0) return false;
  int status = 0;
  pid_t w = waitpid(pid_, &status, WNOHANG);
  if (w == pid_) {
    exited_ = true;
    exit_code_ = DecodeStatus(status);
    return false;
  }
  return true;
}

void Subprocess::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

int Subprocess::Wait(absl::Duration timeout) {
  WaitFor([this] { return !Running(); }, timeout);
  return exited_ ? exit_code_ : -1;
}

int Subprocess::Stop() {
  Signal(SIGTERM);
  int rc = Wait(absl::Seconds(10));
  if (rc == -1) {
    Signal(SIGKILL);
    rc = Wait(absl::Seconds(10));
  }
  return rc;
}

std::string Subprocess::Stdout() const { return ReadFile(out_path_); }
std::string Subprocess::Stderr() const { return ReadFile(err_path_); }

bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data, int mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    ADD_FAILURE() << "open " << path << ": " << std::strerror(errno);
    return;
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  fchmod(fd, mode);
  close(fd);
}

bool IsRoot() { return geteuid() == 0; }

}  // namespace signet::testutil
