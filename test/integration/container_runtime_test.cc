// The docker workload attestor against real container runtimes: a real
// dockerd and a real Podman API service, each with its own data root and
// socket in a temp dir, started once per suite and stopped at the end; real
// containers of a locally imported busybox image whose processes call a real
// signet-agent's Workload API through a bind-mounted socket.
//
// The agent's docker attestor is configured exactly as SPIRE documents it:
// docker_socket_path is a unix:// URL.
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "attestors/cgroup/container_info.h"
#include "common/http/http_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/integration/fault_agent_fixture.h"
#include "test/integration/server_test_fixture.h"
#include "test/testutil/testutil.h"

namespace signet {
namespace {

using faulttest::AgentProcess;
using servertest::ServerProcess;
using ::testing::UnorderedElementsAreArray;
using testutil::RunResult;

constexpr char kImage[] = "signet-test/busybox:1";
constexpr char kAgentInContainer[] = "/signet/signet-agent";
constexpr char kSocketInContainer[] = "/run/agent/api.sock";

// UnmountBelow detaches every mount under `dir` (deepest first): the storage
// drivers leave their own bind mounts behind, and a TempDir must be removable.
void UnmountBelow(const std::string& dir) {
  std::vector<std::string> points;
  for (absl::string_view line :
       absl::StrSplit(testutil::ReadFile("/proc/self/mountinfo"), '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() > 4 && absl::StartsWith(f[4], dir + "/")) points.emplace_back(f[4]);
  }
  std::sort(points.begin(), points.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& p : points) umount2(p.c_str(), MNT_DETACH);
}

// ProcessesMentioning counts the processes other than this one whose command
// line contains `text`.
int ProcessesMentioning(const std::string& text) {
  int n = 0;
  DIR* d = opendir("/proc");
  if (d == nullptr) return 0;
  while (struct dirent* e = readdir(d)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid == getpid()) continue;
    std::ifstream f(absl::StrCat("/proc/", pid, "/cmdline"));
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.find(text) != std::string::npos) ++n;
  }
  closedir(d);
  return n;
}

// SpiffeIds returns the "SPIFFE ID:" lines of `api fetch x509` output.
std::vector<std::string> SpiffeIds(const std::string& out) {
  std::vector<std::string> ids;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::ConsumePrefix(&line, "SPIFFE ID:")) {
      ids.emplace_back(absl::StripAsciiWhitespace(line));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// UnifiedCgroupPath returns the cgroup v2 ("0::") path of `pid`.
std::string UnifiedCgroupPath(pid_t pid) {
  for (absl::string_view line :
       absl::StrSplit(testutil::ReadFile(absl::StrCat("/proc/", pid, "/cgroup")), '\n')) {
    if (absl::ConsumePrefix(&line, "0::")) return std::string(line);
  }
  return "";
}

// Cgroup2Mount returns where the cgroup v2 hierarchy is mounted.
std::string Cgroup2Mount() {
  for (absl::string_view line :
       absl::StrSplit(testutil::ReadFile("/proc/self/mountinfo"), '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    for (size_t i = 0; i + 1 < f.size(); ++i) {
      if (f[i] == "-" && f[i + 1] == "cgroup2") return std::string(f[4]);
    }
  }
  return "";
}

enum class Kind { kDocker, kPodman };
void PrintTo(Kind k, std::ostream* os) { *os << (k == Kind::kDocker ? "docker" : "podman"); }

// Runtime is one real container engine in its own temp dir: dockerd (with
// the containerd it starts) or a rootful Podman with its Docker-compatible
// API service.
class Runtime {
 public:
  explicit Runtime(Kind kind) : kind_(kind) {}
  ~Runtime() { Stop(); }

  const char* name() const { return kind_ == Kind::kDocker ? "docker" : "podman"; }
  std::string socket() const {
    return dir_.File(kind_ == Kind::kDocker ? "docker.sock" : "podman.sock");
  }
  // The agent's docker_socket_path, in SPIRE's form.
  std::string socket_url() const { return "unix://" + socket(); }
  // Config.Image of a container of kImage as the engine's API reports it.
  std::string image_ref() const {
    return kind_ == Kind::kDocker ? kImage : absl::StrCat("localhost/", kImage);
  }
  // The cgroup (v1 and v2) of a container under the cgroupfs driver.
  std::string cgroup_of(const std::string& id) const {
    return kind_ == Kind::kDocker ? "/docker/" + id : "/libpod_parent/libpod-" + id;
  }

  // Start starts the engine and imports kImage from a busybox rootfs.
  bool Start(std::string* why) {
    // setpriv: the engine is told to shut down (stopping its containers) if
    // this test process dies without its teardown.
    std::vector<std::string> argv{"/usr/bin/setpriv", "--pdeathsig", "TERM"};
    if (kind_ == Kind::kDocker) {
      testutil::WriteFile(dir_.File("daemon.json"), "{}\n");
      argv.insert(argv.end(),
                  {"/usr/sbin/dockerd", "--config-file", dir_.File("daemon.json"), "--data-root",
                   dir_.File("data"), "--exec-root", dir_.File("x"), "--pidfile",
                   dir_.File("dockerd.pid"), "--host", socket_url(), "--iptables=false",
                   "--bridge=none", "--exec-opt", "native.cgroupdriver=cgroupfs"});
    } else {
      std::vector<std::string> podman = PodmanArgv();
      argv.insert(argv.end(), podman.begin(), podman.end());
      argv.insert(argv.end(), {"system", "service", "--time=0", socket_url()});
    }
    daemon_ = std::make_unique<testutil::Subprocess>(argv);
    bool up = testutil::WaitFor(
        [&] {
          if (!daemon_->Running()) return true;
          http::HttpRequest req;
          req.unix_socket_path = socket();
          req.url = "http://localhost/_ping";
          absl::StatusOr<http::HttpResponse> r = http::HttpDo(req);
          return r.ok() && r->status == 200;
        },
        absl::Seconds(120));
    if (!up || !daemon_->Running()) {
      *why = absl::StrCat(name(), " did not come up: ", daemon_->Stderr());
      return false;
    }
    // The image: busybox-static as /bin, the host's /usr (and its loader via
    // the /lib and /lib64 links) bind-mounted read-only at run time.
    const std::string rootfs = dir_.File("rootfs");
    for (const char* d : {"", "/bin", "/usr", "/signet", "/run", "/run/agent", "/proc", "/sys",
                          "/dev", "/etc", "/tmp"}) {
      mkdir((rootfs + d).c_str(), 0755);
    }
    RunResult cp = testutil::Run({"/bin/cp", "/usr/bin/busybox", rootfs + "/bin/busybox"});
    if (cp.exit_code != 0) {
      *why = "cannot copy busybox (package busybox-static): " + cp.err;
      return false;
    }
    const std::vector<std::pair<std::string, std::string>> links = {{"busybox", "/bin/sh"},
                                                                    {"busybox", "/bin/sleep"},
                                                                    {"usr/lib", "/lib"},
                                                                    {"usr/lib64", "/lib64"}};
    for (const auto& [target, at] : links) {
      if (symlink(target.c_str(), (rootfs + at).c_str()) != 0) {
        *why = absl::StrCat("symlink ", rootfs, at, ": ", strerror(errno));
        return false;
      }
    }
    testutil::WriteFile(rootfs + kAgentInContainer, "");
    RunResult tar = testutil::Run({"/bin/tar", "-C", rootfs, "-cf", dir_.File("rootfs.tar"), "."});
    if (tar.exit_code != 0) {
      *why = "tar: " + tar.err;
      return false;
    }
    RunResult imp = Cli({"import", dir_.File("rootfs.tar"), kImage});
    if (imp.exit_code != 0) {
      *why = absl::StrCat(name(), " import: ", imp.err);
      return false;
    }
    return true;
  }

  // Stop removes every container, stops the engine and its leftovers.
  void Stop() {
    if (!daemon_) return;
    if (kind_ == Kind::kDocker) {
      RunResult ps = Cli({"ps", "-aq"});
      std::vector<std::string> args{"rm", "-f"};
      for (absl::string_view id : absl::StrSplit(ps.out, '\n', absl::SkipEmpty())) {
        args.emplace_back(id);
      }
      if (args.size() > 2) Cli(args);
    } else {
      Cli({"rm", "-f", "-t", "0", "--all"});
    }
    daemon_->Stop();
    daemon_.reset();
    // conmon runs "podman container cleanup" after a container exits, which
    // mounts the storage again; containerd shims outlive dockerd briefly.
    testutil::WaitFor([&] { return ProcessesMentioning(dir_.path()) == 0; }, absl::Seconds(60));
    UnmountBelow(dir_.path());
  }

  // Cli runs the engine's own CLI against this instance.
  RunResult Cli(const std::vector<std::string>& args) const {
    std::vector<std::string> argv;
    testutil::ProcessOptions o;
    if (kind_ == Kind::kDocker) {
      argv = {"/usr/bin/docker", "-H", socket_url()};
      o.env["DOCKER_CONFIG"] = dir_.File("cli");
    } else {
      argv = PodmanArgv();
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return testutil::Run(argv, o, absl::Seconds(120));
  }

  // RunContainer starts `sleep` in a new container with `flags` (labels,
  // env), the agent's socket directory and binary mounted; returns its id.
  std::string RunContainer(const std::vector<std::string>& flags, const std::string& agent_public,
                           std::string* err) const {
    std::vector<std::string> args{
        "run",       "-d",
        "--network", "none",
        "-v",        agent_public + ":/run/agent",
        "-v",        "/usr:/usr:ro",
        "-v",        testutil::AgentBinary() + ":" + kAgentInContainer + ":ro"};
    if (kind_ == Kind::kPodman) {
      // Podman's rootful defaults raise RLIMIT_NOFILE and RLIMIT_NPROC, which
      // a test host without CAP_SYS_RESOURCE refuses; lowering is allowed.
      args.insert(args.end(), {"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"});
    }
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {kImage, "/bin/sleep", "600"});
    RunResult r = Cli(args);
    *err = r.err;
    if (r.exit_code != 0) return "";
    std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
    return lines.empty() ? "" : lines.back();
  }

  // Fetch runs `signet-agent api fetch x509` inside container `id`.
  RunResult Fetch(const std::string& id) const {
    // In a sanitizer build, LeakSanitizer cannot stop the world inside a
    // container without CAP_SYS_PTRACE; leaks are checked on the host runs.
    return Cli({"exec", "-e", "ASAN_OPTIONS=detect_leaks=0", id, kAgentInContainer, "api", "fetch",
                "x509", "-socketPath", kSocketInContainer});
  }

  // InitPid returns the host pid of container `id`'s first process.
  pid_t InitPid(const std::string& id) const {
    RunResult r = Cli({"inspect", "-f", "{{.State.Pid}}", id});
    int pid = -1;
    if (r.exit_code != 0 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &pid)) return -1;
    return pid;
  }

 private:
  std::vector<std::string> PodmanArgv() const {
    // runc, not crun: crun refuses hybrid cgroup v1/v2 hosts. cgroupfs and
    // file events: there may be no systemd.
    return {"/usr/bin/podman",
            "--root",
            dir_.File("root"),
            "--runroot",
            dir_.File("run"),
            "--tmpdir",
            dir_.File("tmp"),
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--runtime",
            "runc"};
  }

  const Kind kind_;
  testutil::TempDir dir_;
  std::unique_ptr<testutil::Subprocess> daemon_;
};

// Suite is what one runtime's tests share: the engine, a server, an agent
// whose docker attestor talks to the engine, the entries, and container A.
struct Suite {
  explicit Suite(Kind kind) : runtime(kind) {}
  Runtime runtime;
  ServerProcess server;
  std::unique_ptr<AgentProcess> agent;
  std::string agent_id;
  std::string container_a;
  std::string setup_error;  // non-empty when SetUp failed
};

std::string Id(const std::string& path) { return "spiffe://example.org/" + path; }

class ContainerRuntimeTest : public ::testing::TestWithParam<Kind> {
 protected:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {
    docker_.reset();
    podman_.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(testutil::IsRoot()) << "container runtimes need root (CI runs as root)";
    std::unique_ptr<Suite>& s = GetParam() == Kind::kDocker ? docker_ : podman_;
    if (!s) {
      s = std::make_unique<Suite>(GetParam());
      s->setup_error = StartSuite(*s);
    }
    ASSERT_EQ(s->setup_error, "");
    suite_ = s.get();
  }

  // StartSuite brings up the engine, server, agent and entries, then waits
  // until container A (app=demo, tier=gold, ROLE=web) gets its identities,
  // which shows every entry reached the agent.
  static std::string StartSuite(Suite& s) {
    std::string why;
    if (!s.runtime.Start(&why)) return why;
    if (!s.server.Start()) return "server: " + s.server.Logs();
    s.agent = std::make_unique<AgentProcess>(s.server, s.server.BundlePem());
    const std::string cfg_path = s.agent->dir().File("agent.yaml");
    testutil::WriteFile(cfg_path, absl::StrCat(testutil::ReadFile(cfg_path),
                                               "    docker:\n      plugin_data:\n"
                                               "        docker_socket_path: \"",
                                               s.runtime.socket_url(), "\"\n"));
    const std::string token = s.server.GenerateToken();
    if (!s.agent->Start(token)) return "agent: " + s.agent->Logs();
    s.agent_id = "spiffe://example.org/spire/agent/join_token/" + token;
    const std::vector<std::pair<std::string, std::vector<std::string>>> entries = {
        {"other", {"docker:label:app:other"}},
        {"not-this-image", {"docker:image_id:example.org/other:1"}},
        {"demo", {"docker:label:app:demo"}},
        {"web", {"docker:env:ROLE=web"}},
        {"gold-image", {"docker:image_id:" + s.runtime.image_ref(), "docker:label:tier:gold"}},
    };
    for (const auto& [path, selectors] : entries) {
      std::vector<std::string> a{"entry", "create", "-parentID", s.agent_id, "-spiffeID", Id(path)};
      for (const std::string& sel : selectors) a.insert(a.end(), {"-selector", sel});
      RunResult r = s.server.Cli(a);
      if (r.exit_code != 0) return "entry create: " + r.err;
    }
    s.container_a =
        s.runtime.RunContainer({"--label", "app=demo", "--label", "tier=gold", "-e", "ROLE=web"},
                               s.agent->dir().File("public"), &why);
    if (s.container_a.empty()) return absl::StrCat(s.runtime.name(), " run: ", why);
    RunResult last;
    const std::vector<std::string> want{Id("demo"), Id("gold-image"), Id("web")};
    if (!testutil::WaitFor(
            [&] {
              last = s.runtime.Fetch(s.container_a);
              return last.exit_code == 0 && SpiffeIds(last.out) == want;
            },
            absl::Seconds(90))) {
      const std::string log = s.agent->Logs();
      return absl::StrCat("container A never got its identities: ", last.out, last.err,
                          "\nend of the agent log:\n",
                          log.substr(log.size() > 3000 ? log.size() - 3000 : 0));
    }
    return "";
  }

  const Runtime& runtime() const { return suite_->runtime; }
  std::string AgentPublicDir() const { return suite_->agent->dir().File("public"); }

  // ProcessInCgroupFetches runs `api fetch x509` on the host from a process
  // moved into cgroup v2 path `cgroup` before it connects.
  RunResult ProcessInCgroupFetches(const std::string& cgroup) {
    const std::string mount = Cgroup2Mount();
    EXPECT_NE(mount, "");
    std::string path = mount;
    std::vector<std::string> made;
    for (absl::string_view seg : absl::StrSplit(cgroup, '/', absl::SkipEmpty())) {
      path = absl::StrCat(path, "/", seg);
      if (mkdir(path.c_str(), 0755) == 0) made.push_back(path);
    }
    testutil::TempDir tmp;
    const std::string go = tmp.File("go");
    testutil::Subprocess p({"/bin/sh", "-c",
                            absl::StrCat("while [ ! -e ", go, " ]; do sleep 0.05; done; exec ",
                                         testutil::AgentBinary(), " api fetch x509 -socketPath ",
                                         suite_->agent->socket())});
    {
      std::ofstream procs(path + "/cgroup.procs");
      procs << p.pid() << "\n";
    }
    EXPECT_EQ(UnifiedCgroupPath(p.pid()), cgroup);
    testutil::WriteFile(go, "");
    RunResult r;
    r.exit_code = p.Wait(absl::Seconds(60));
    r.out = p.Stdout();
    r.err = p.Stderr();
    for (auto it = made.rbegin(); it != made.rend(); ++it) {
      for (int i = 0; i < 200 && rmdir(it->c_str()) != 0 && errno == EBUSY; ++i) usleep(10000);
    }
    return r;
  }

  static std::unique_ptr<Suite> docker_;
  static std::unique_ptr<Suite> podman_;
  Suite* suite_ = nullptr;
};

std::unique_ptr<Suite> ContainerRuntimeTest::docker_;
std::unique_ptr<Suite> ContainerRuntimeTest::podman_;

// Container A's process gets exactly the identities its label, env and image
// selectors match, and none of the entries for other labels or images.
TEST_P(ContainerRuntimeTest, ContainerGetsExactlyTheIdentitiesItsSelectorsMatch) {
  RunResult r = runtime().Fetch(suite_->container_a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(SpiffeIds(r.out),
              UnorderedElementsAreArray({Id("demo"), Id("gold-image"), Id("web")}));
}

// Image and label together: tier=gold is missing, so the image entry does
// not match; app=other matches its own entry only.
TEST_P(ContainerRuntimeTest, OtherLabelsGetOnlyTheirEntry) {
  std::string err;
  std::string id =
      runtime().RunContainer({"--label", "app=other", "-e", "ROLE=db"}, AgentPublicDir(), &err);
  ASSERT_NE(id, "") << err;
  RunResult r = runtime().Fetch(id);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(SpiffeIds(r.out), UnorderedElementsAreArray({Id("other")}));
}

TEST_P(ContainerRuntimeTest, ContainerWithoutMatchIsPermissionDenied) {
  std::string err;
  std::string id =
      runtime().RunContainer({"--label", "app=nobody", "-e", "ROLE=db"}, AgentPublicDir(), &err);
  ASSERT_NE(id, "") << err;
  RunResult r = runtime().Fetch(id);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "rpc error: code = PermissionDenied desc = no identity issued\n");
}

// A process in a running container's cgroup is that container's workload; once
// the container is stopped, a process found in its (re-created) cgroup gets
// nothing, though the engine still knows the container and its labels.
TEST_P(ContainerRuntimeTest, StoppedContainersIdentityIsGone) {
  std::string err;
  std::string id = runtime().RunContainer({"--label", "app=demo"}, AgentPublicDir(), &err);
  ASSERT_NE(id, "") << err;
  RunResult in = runtime().Fetch(id);
  ASSERT_EQ(in.exit_code, 0) << in.err;
  EXPECT_THAT(SpiffeIds(in.out), UnorderedElementsAreArray({Id("demo")}));
  const std::string cgroup = UnifiedCgroupPath(runtime().InitPid(id));
  ASSERT_EQ(cgroup, runtime().cgroup_of(id));

  RunResult running = ProcessInCgroupFetches(cgroup);
  ASSERT_EQ(running.exit_code, 0) << running.err;
  EXPECT_THAT(SpiffeIds(running.out), UnorderedElementsAreArray({Id("demo")}));

  RunResult stop = runtime().Cli({"stop", "-t", "0", id});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  RunResult labels = runtime().Cli({"inspect", "-f", "{{.State.Running}} {{.Config.Labels}}", id});
  EXPECT_EQ(labels.out, "false map[app:demo]\n");
  RunResult stopped = ProcessInCgroupFetches(cgroup);
  EXPECT_EQ(stopped.exit_code, 1);
  EXPECT_EQ(stopped.err, "rpc error: code = PermissionDenied desc = no identity issued\n");
}

// The cgroup paths the engine really creates on this kernel (cgroupfs
// driver) name the container, and the parser finds exactly that id; the
// workload is in its own pid namespace.
TEST_P(ContainerRuntimeTest, CgroupPathsOfRealContainersParse) {
  pid_t pid = runtime().InitPid(suite_->container_a);
  ASSERT_GT(pid, 0);
  const std::string cgroup = testutil::ReadFile(absl::StrCat("/proc/", pid, "/cgroup"));
  const std::string want = runtime().cgroup_of(suite_->container_a);
  EXPECT_EQ(UnifiedCgroupPath(pid), want) << cgroup;
  for (absl::string_view line : absl::StrSplit(cgroup, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    ASSERT_EQ(f.size(), 3u) << line;
    EXPECT_EQ(f[2], want) << line;  // every v1 hierarchy too, on a hybrid host
  }
  absl::StatusOr<attestors::ContainerInfo> info = attestors::ContainerInfoFromProcFiles(
      cgroup, testutil::ReadFile(absl::StrCat("/proc/", pid, "/mountinfo")));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->container_id, suite_->container_a);
  EXPECT_EQ(info->pod_uid, "");

  char mine[64] = {}, theirs[64] = {};
  ASSERT_GT(readlink("/proc/self/ns/pid", mine, sizeof(mine) - 1), 0);
  ASSERT_GT(readlink(absl::StrCat("/proc/", pid, "/ns/pid").c_str(), theirs, sizeof(theirs) - 1),
            0);
  EXPECT_STRNE(mine, theirs);
}

INSTANTIATE_TEST_SUITE_P(Engines, ContainerRuntimeTest,
                         ::testing::Values(Kind::kDocker, Kind::kPodman),
                         [](const ::testing::TestParamInfo<Kind>& i) {
                           return i.param == Kind::kDocker ? std::string("Docker")
                                                           : std::string("Podman");
                         });

}  // namespace
}  // namespace signet
