// ChildProcess starts a program for a test (PostgreSQL, the Kafka broker, sagad itself) and
// makes sure it does not outlive the test: the child runs in its own process group, gets
// SIGKILL when the test process dies (PR_SET_PDEATHSIG), and the destructor kills and reaps
// the whole group by id. Not thread-safe: one owner.
#ifndef SAGA_TESTS_HARNESS_CHILD_PROCESS_H_
#define SAGA_TESTS_HARNESS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace saga::testing {

struct SpawnOptions {
  std::vector<std::string> argv;      // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;       // NAME=value entries added to (or replacing) ours
  std::string output_path;            // stdout and stderr go here (appended); empty: /dev/null
  std::optional<std::string> run_as;  // a user name to switch to (only when we are root)
};

class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const SpawnOptions& options);
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signal` to the child's process group.
  void Signal(int signal);

  // Waits up to `timeout` for the child to exit. Returns its exit code, or 128 + the signal
  // that ended it; DEADLINE_EXCEEDED when it is still running.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // True while the child has not exited.
  bool Running();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  std::optional<int> exit_code_;
};

// Runs a program to completion within `timeout`; returns its exit code.
absl::StatusOr<int> RunToCompletion(const SpawnOptions& options, absl::Duration timeout);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
int PickFreePort();

// True when something accepts TCP connections on 127.0.0.1:`port`.
bool PortAcceptsConnections(int port);

// The last `bytes` bytes of a file, for error messages.
std::string TailOfFile(const std::string& path, size_t bytes = 2000);

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_CHILD_PROCESS_H_
