#include "sdk/outbox/outbox_writer.h"

#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "sdk/pg/array_literal.h"
#include "sdk/pg/pg_status.h"
#include "sdk/pg/table_name.h"

namespace saga::sdk {

absl::Status ValidateOutboxTableName(std::string_view table) {
  return pg::ValidateTableName(table, "outbox table");
}

absl::StatusOr<std::string> WriteOutboxMessage(pqxx::transaction_base& tx,
                                               const saga::v1::OutboxMessage& message,
                                               std::string_view table,
                                               const outbox::MessageLimits& limits) {
  if (absl::Status s = ValidateOutboxTableName(table); !s.ok()) return s;
  if (absl::Status s = outbox::ValidateOutboxMessage(message, limits, "message"); !s.ok()) {
    return s;
  }
  std::string message_id = message.message_id().empty() ? NewUuid() : message.message_id();
  try {
    tx.exec_params(saga::StrCat("INSERT INTO ", table,
                                " (topic, msg_key, payload, headers, message_id) "
                                "VALUES ($1, $2, $3, $4::jsonb, $5)"),
                   message.topic(), pqxx::binarystring(message.key()),
                   pqxx::binarystring(message.payload()), JsonObject(message.headers()),
                   message_id);
  } catch (const std::exception& e) {
    return pg::StatusFromException(e, saga::StrCat("writing to outbox table ", table));
  }
  return message_id;
}

absl::StatusOr<std::vector<std::string>> WriteOutboxMessages(
    pqxx::transaction_base& tx, const std::vector<saga::v1::OutboxMessage>& messages,
    std::string_view table, const outbox::MessageLimits& limits) {
  if (absl::Status s = ValidateOutboxTableName(table); !s.ok()) return s;
  std::vector<std::string> ids;
  ids.reserve(messages.size());
  pg::ArrayLiteral topics, keys, payloads, headers, message_ids;
  for (size_t i = 0; i < messages.size(); ++i) {
    const saga::v1::OutboxMessage& m = messages[i];
    if (absl::Status s = outbox::ValidateOutboxMessage(m, limits, saga::StrCat("messages[", i, "]"));
        !s.ok()) {
      return s;
    }
    ids.push_back(m.message_id().empty() ? NewUuid() : m.message_id());
    topics.AddText(m.topic());
    keys.AddBytea(m.key());
    payloads.AddBytea(m.payload());
    headers.AddText(JsonObject(m.headers()));
    message_ids.AddText(ids.back());
  }
  if (messages.empty()) return ids;
  try {
    // unnest keeps the arrays' order, and bigserial numbers the rows in that order.
    tx.exec_params(saga::StrCat("INSERT INTO ", table,
                                " (topic, msg_key, payload, headers, message_id) "
                                "SELECT t, k, p, h, m FROM unnest($1::text[], $2::bytea[], $3::bytea[], "
                                "$4::jsonb[], $5::text[]) WITH ORDINALITY AS u(t, k, p, h, m, n) "
                                "ORDER BY n"),
                   topics.str(), keys.str(), payloads.str(), headers.str(), message_ids.str());
  } catch (const std::exception& e) {
    return pg::StatusFromException(e, saga::StrCat("writing to outbox table ", table));
  }
  return ids;
}

}  // namespace saga::sdk
