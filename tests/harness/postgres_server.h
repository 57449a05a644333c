// PostgresServer is a real, throwaway PostgreSQL for tests: initdb into a fresh temporary
// directory, the postmaster on a free loopback port, run as the `postgres` user when the test
// runs as root (PostgreSQL refuses root). The destructor stops it and removes the directory.
//
// SharedPostgres() gives every test of one binary the same server (starting one takes about a
// second); each test then takes a database of its own with CreateDatabase.
#ifndef SAGA_TESTS_HARNESS_POSTGRES_SERVER_H_
#define SAGA_TESTS_HARNESS_POSTGRES_SERVER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tests/harness/child_process.h"

namespace saga::testing {

class PostgresServer {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

  // Creates an empty database and returns its connection string.
  absl::StatusOr<std::string> CreateDatabase(std::string_view name);

  // Creates an empty database with a name of its own; returns its connection string.
  absl::StatusOr<std::string> CreateFreshDatabase();

  // The connection string of `database` (user sagad, no password).
  std::string Dsn(std::string_view database) const;

  int port() const { return port_; }
  pid_t pid() const { return postmaster_->pid(); }

  // Kills the postmaster with SIGKILL-like immediacy (pg_ctl -m immediate) and starts it again
  // on the same port and data, for crash-recovery tests.
  absl::Status RestartImmediate();

 private:
  PostgresServer() = default;
  absl::Status StartPostmaster();

  std::string dir_;
  std::string bin_dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> postmaster_;
};

// The server shared by the tests of this binary, started on first use and stopped at exit.
// Aborts the test binary with a clear message when PostgreSQL cannot be started.
PostgresServer& SharedPostgres();

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_POSTGRES_SERVER_H_
