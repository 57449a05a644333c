// SagadProcess runs the real sagad binary as a child process for end-to-end tests: on free
// loopback ports, against a given database, with extra SAGAD_* settings. Start() returns once
// the gRPC health check answers SERVING (or fails with the tail of sagad's log).
#ifndef SAGA_TESTS_HARNESS_SAGAD_PROCESS_H_
#define SAGA_TESTS_HARNESS_SAGAD_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/statusor.h"
#include "tests/harness/child_process.h"

namespace saga::testing {

class SagadProcess {
 public:
  // `env` adds NAME=value settings; SAGAD_PG_DSN, SAGAD_GRPC_ADDR and SAGAD_HTTP_ADDR are set
  // here unless given. `credentials` are the channel's (default: plaintext), e.g. TLS for a
  // sagad started with SAGAD_TLS_CERT_FILE.
  static absl::StatusOr<std::unique_ptr<SagadProcess>> Start(
      const std::string& pg_dsn, std::vector<std::string> env = {},
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

  // Runs `sagad <args>` to completion with SAGAD_PG_DSN set; returns the exit code and fills
  // `output` with what it printed.
  static absl::StatusOr<int> Run(const std::string& pg_dsn, const std::vector<std::string>& args,
                                 std::string* output, std::vector<std::string> env = {});

  // Kills sagad if it still runs and removes its log.
  ~SagadProcess();

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  ChildProcess& process() { return *process_; }
  std::string log() const;

  // SIGTERM, then waits for the exit code (DEADLINE_EXCEEDED after `timeout`).
  absl::StatusOr<int> Terminate(absl::Duration timeout = absl::Seconds(20));

 private:
  SagadProcess() = default;

  std::string log_path_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ChildProcess> process_;
};

// Settings for crash tests: a 1 s lease (a killed instance's work resumes quickly), no shutdown
// grace, and, when `grpc_port` is not 0, that port (a restart where clients already connect).
std::vector<std::string> CrashTestSettings(int grpc_port = 0);

// A client context whose deadline is `timeout` from now, for calls to sagad in tests.
std::unique_ptr<grpc::ClientContext> DeadlineContext(absl::Duration timeout = absl::Seconds(10));

// A fresh database on the shared test PostgreSQL, migrated by the sagad binary (`sagad
// migrate`); returns its connection string.
absl::StatusOr<std::string> NewDatabaseMigratedBySagad();

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_SAGAD_PROCESS_H_
