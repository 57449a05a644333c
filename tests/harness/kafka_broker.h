// KafkaBroker is a real Apache Kafka broker for integration tests: one KRaft node (broker and
// controller) on free loopback ports, with its storage in a temporary directory, run with the
// machine's Java from the jars that scripts/fetch-kafka resolves from Maven Central into
// $SAGAD_KAFKA_JARS. The destructor stops it and removes the directory.
//
// SharedKafka() gives every test of one binary the same broker (starting one takes seconds).
#ifndef SAGA_TESTS_HARNESS_KAFKA_BROKER_H_
#define SAGA_TESTS_HARNESS_KAFKA_BROKER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/harness/child_process.h"

namespace saga::testing {

class KafkaBroker {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaBroker>> Start();
  ~KafkaBroker();

  // "127.0.0.1:port" for bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_; }
  pid_t pid() const { return process_->pid(); }

  // Stops the broker process (SIGTERM, then SIGKILL after 30 s) and starts it again on the same
  // ports and storage.
  absl::Status Stop();
  absl::Status Restart();

 private:
  KafkaBroker() = default;
  absl::Status Launch();

  std::string dir_;
  std::string jars_;
  std::string bootstrap_;
  std::unique_ptr<ChildProcess> process_;
};

// The broker shared by the tests of this binary, started on first use and stopped at exit.
// Aborts the test binary with a clear message when the broker cannot be started.
KafkaBroker& SharedKafka();

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_KAFKA_BROKER_H_
