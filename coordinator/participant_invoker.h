// ParticipantInvoker: how the engine calls a participant's action, compensation or status
// endpoint. coordinator/grpc/ implements it with gRPC generic calls. Calls are asynchronous:
// Invoke returns at once and `done` runs later, on a thread of the invoker, with the
// participant's status (DEADLINE_EXCEEDED when `timeout` passed first). Thread-safe.
#ifndef SAGA_COORDINATOR_PARTICIPANT_INVOKER_H_
#define SAGA_COORDINATOR_PARTICIPANT_INVOKER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "coordinator/saga_machine.h"
#include "saga/v1/definition.pb.h"

namespace saga::coordinator {

// What a call carries. Participants see these as request metadata (see grpc/).
struct Invocation {
  std::string saga_id;
  std::string step;
  Operation operation = Operation::kAction;
  uint32_t attempt = 0;
  std::string idempotency_key;  // the same for every attempt of one step's operation
  int64_t lease_epoch = 0;
  std::string traceparent;      // W3C trace context
  saga::v1::Endpoint endpoint;
  std::string payload;
  absl::Duration timeout;
  // Kafka steps: the command (KafkaCommand) was committed with the transition that dispatched
  // the call, so the invoker only waits for the reply.
  bool command_committed = false;
};

class ParticipantInvoker {
 public:
  virtual ~ParticipantInvoker() = default;
  virtual void Invoke(const Invocation& invocation, std::function<void(absl::Status)> done) = 0;
};

// "action", "compensation" or "status".
const char* OperationName(Operation operation);

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_PARTICIPANT_INVOKER_H_
