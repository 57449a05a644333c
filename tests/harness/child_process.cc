#include "tests/harness/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "sdk/base/strings.h"
#include "tests/harness/wait.h"

extern char** environ;

namespace saga::testing {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("argv is empty");
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry;
  }
  for (const std::string& entry : options.env) env[entry.substr(0, entry.find('='))] = entry;
  std::vector<std::string> env_entries;
  for (auto& [name, entry] : env) env_entries.push_back(entry);
  std::vector<char*> envp;
  for (std::string& e : env_entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  uid_t uid = 0;
  gid_t gid = 0;
  bool switch_user = options.run_as.has_value() && geteuid() == 0;
  if (switch_user) {
    struct passwd* pw = getpwnam(options.run_as->c_str());
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          saga::StrCat("no user named ", *options.run_as, " to run ", args[0], " as"));
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  int out_fd = options.output_path.empty()
                   ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                   : open(options.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                          0644);
  if (out_fd < 0) {
    return absl::InternalError(saga::StrCat("cannot open ", options.output_path, ": ",
                                            std::strerror(errno)));
  }
  if (switch_user && !options.output_path.empty() && fchown(out_fd, uid, gid) != 0) {
    close(out_fd);
    return absl::InternalError(saga::StrCat("cannot chown ", options.output_path));
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(out_fd);
    return absl::InternalError(saga::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    int null_in = open("/dev/null", O_RDONLY);
    if (null_in >= 0) dup2(null_in, STDIN_FILENO);
    if (switch_user && (setgid(gid) != 0 || setuid(uid) != 0)) _exit(126);
    // Set after the user switch, which clears it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(125);  // the parent died before prctl
    if (std::strchr(argv[0], '/') != nullptr) {
      execve(argv[0], argv.data(), envp.data());
    } else {
      environ = envp.data();
      execvp(argv[0], argv.data());
    }
    _exit(127);
  }
  close(out_fd);
  setpgid(pid, pid);  // also from here, so the group exists before we might signal it
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  if (Running()) {
    Signal(SIGKILL);
    (void)Wait(absl::Seconds(30));
  } else {
    kill(-pid_, SIGKILL);  // stragglers of the group, if any
  }
}

void ChildProcess::Signal(int signal) {
  if (kill(-pid_, signal) != 0) kill(pid_, signal);
}

bool ChildProcess::Running() {
  if (exit_code_.has_value()) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    exit_code_ = -1;  // not our child any more (reaped elsewhere)
  }
  return false;
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  bool exited = WaitFor([this] { return !Running(); }, timeout);
  if (!exited) {
    return absl::DeadlineExceededError(saga::StrCat("process ", pid_, " still runs after ",
                                                    absl::FormatDuration(timeout)));
  }
  return *exit_code_;
}

absl::StatusOr<int> RunToCompletion(const SpawnOptions& options, absl::Duration timeout) {
  auto child = ChildProcess::Spawn(options);
  if (!child.ok()) return child.status();
  auto code = (*child)->Wait(timeout);
  if (!code.ok()) {
    return absl::DeadlineExceededError(saga::StrCat(options.argv[0], " did not finish within ",
                                                    absl::FormatDuration(timeout)));
  }
  return code;
}

int PickFreePort() {
  // Below the kernel's ephemeral range (32768-60999 here), so that an outgoing connection of
  // some client cannot take the port between this check and the server's bind.
  static std::atomic<uint32_t> counter{static_cast<uint32_t>(getpid()) * 7919u};
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int candidate = 20000 + static_cast<int>(counter.fetch_add(7919) % 12768);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(candidate));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (free) return candidate;
  }
  // Fall back to any port the kernel picks.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

bool PortAcceptsConnections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string TailOfFile(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace saga::testing
