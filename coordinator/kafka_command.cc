#include "coordinator/kafka_command.h"

#include "sdk/base/strings.h"

namespace saga::coordinator {

saga::v1::OutboxMessage KafkaCommand(const Invocation& inv) {
  saga::v1::OutboxMessage m;
  m.set_topic(inv.endpoint.kafka().command_topic());
  m.set_key(inv.saga_id);
  m.set_payload(inv.payload);
  m.set_message_id(saga::StrCat(inv.idempotency_key, "/", inv.attempt));
  auto& h = *m.mutable_headers();
  h["saga-id"] = inv.saga_id;
  h["saga-step"] = inv.step;
  h["saga-operation"] = OperationName(inv.operation);
  h["saga-attempt"] = saga::StrCat(inv.attempt);
  h["idempotency-key"] = inv.idempotency_key;
  h["saga-lease-epoch"] = saga::StrCat(inv.lease_epoch);
  if (!inv.traceparent.empty()) h["traceparent"] = inv.traceparent;
  h["reply-topic"] = inv.endpoint.kafka().reply_topic();
  return m;
}

}  // namespace saga::coordinator
