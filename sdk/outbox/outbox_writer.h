// The outbox writer for services: inserts a message into an outbox table inside the caller's own
// pqxx transaction, so the message commits or rolls back with the business change it announces.
// The relay (outbox/relay.h) then delivers it to Kafka at least once, in order per key.
//
//   pqxx::work tx(conn);
//   tx.exec_params("UPDATE orders SET state = 'paid' WHERE id = $1", id);
//   saga::v1::OutboxMessage m;
//   m.set_topic("orders.events"); m.set_key(id); m.set_payload(event.SerializeAsString());
//   auto message_id = saga::sdk::WriteOutboxMessage(tx, m);
//   if (!message_id.ok()) return message_id.status();   // tx is left for the caller to abort
//   tx.commit();
//
// The table needs the shape of outbox/sql/service_outbox.sql. Messages are validated first
// (topic name, key, header and id sizes): INVALID_ARGUMENT writes nothing. Thread-compatible,
// like the transaction it writes in.
#ifndef SAGA_SDK_OUTBOX_OUTBOX_WRITER_H_
#define SAGA_SDK_OUTBOX_OUTBOX_WRITER_H_

#include <string>
#include <string_view>
#include <vector>

#include <pqxx/transaction_base>

#include "absl/status/statusor.h"
#include "outbox/message_validation.h"
#include "saga/v1/outbox_service.pb.h"

namespace saga::sdk {

// OK when `table` is a plain or schema-qualified lower-case identifier ("outbox",
// "billing.outbox"); INVALID_ARGUMENT otherwise.
absl::Status ValidateOutboxTableName(std::string_view table);

// Inserts `message` into `table` within `tx`. Returns the message id: the message's own, or a
// new UUID when it has none. Database errors come back as a status (see sdk/pg/pg_status.h);
// the transaction is then unusable and the caller aborts it.
absl::StatusOr<std::string> WriteOutboxMessage(pqxx::transaction_base& tx,
                                               const saga::v1::OutboxMessage& message,
                                               std::string_view table = "outbox",
                                               const outbox::MessageLimits& limits = {});

// Inserts `messages` into `table` within `tx` with one statement (one round trip), in order.
// Validates all first: INVALID_ARGUMENT (naming "messages[i]") writes none. Returns the ids.
absl::StatusOr<std::vector<std::string>> WriteOutboxMessages(
    pqxx::transaction_base& tx, const std::vector<saga::v1::OutboxMessage>& messages,
    std::string_view table = "outbox", const outbox::MessageLimits& limits = {});

}  // namespace saga::sdk

#endif  // SAGA_SDK_OUTBOX_OUTBOX_WRITER_H_
