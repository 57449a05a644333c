// The command message of a Kafka step call (see KafkaEndpoint in proto/saga/v1/definition.proto):
// built by the engine so that it commits with the transition that dispatches the step.
#ifndef SAGA_COORDINATOR_KAFKA_COMMAND_H_
#define SAGA_COORDINATOR_KAFKA_COMMAND_H_

#include "coordinator/participant_invoker.h"
#include "saga/v1/outbox_service.pb.h"

namespace saga::coordinator {

// topic = command_topic, key = saga id, value = payload, message id "<idempotency key>/<attempt>",
// headers saga-id, saga-step, saga-operation, saga-attempt, idempotency-key, saga-lease-epoch,
// traceparent, reply-topic. `invocation.endpoint` must be a Kafka endpoint.
saga::v1::OutboxMessage KafkaCommand(const Invocation& invocation);

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_KAFKA_COMMAND_H_
