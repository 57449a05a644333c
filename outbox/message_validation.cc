#include "outbox/message_validation.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "outbox/topic_name.h"
#include "sdk/base/status_macros.h"
#include "sdk/base/strings.h"

namespace saga::outbox {

absl::Status ValidateOutboxMessage(const saga::v1::OutboxMessage& message,
                                   const MessageLimits& limits, std::string_view field) {
  SAGA_RETURN_IF_ERROR(ValidateTopicName(message.topic(), saga::StrCat(field, ".topic")));
  if (message.key().size() > limits.max_key_bytes) {
    return absl::InvalidArgumentError(saga::StrCat(field, ".key: at most ", limits.max_key_bytes,
                                                   " bytes, got ", message.key().size()));
  }
  if (message.payload().size() > limits.max_payload_bytes) {
    return absl::InvalidArgumentError(saga::StrCat(
        field, ".payload: ", message.payload().size(), " bytes is above the limit of ",
        limits.max_payload_bytes, " bytes (SAGAD_MAX_PAYLOAD_BYTES)"));
  }
  if (message.message_id().size() > limits.max_message_id_bytes) {
    return absl::InvalidArgumentError(saga::StrCat(field, ".message_id: at most ",
                                                   limits.max_message_id_bytes, " bytes, got ",
                                                   message.message_id().size()));
  }
  for (const auto& [name, value] : message.headers()) {
    if (name.empty() || name.size() > limits.max_header_name_bytes) {
      return absl::InvalidArgumentError(saga::StrCat(field, ".headers: header names have 1 to ",
                                                     limits.max_header_name_bytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePublishRequest(const saga::v1::PublishRequest& request,
                                    const MessageLimits& limits) {
  if (request.messages().empty()) {
    return absl::InvalidArgumentError("messages: at least one message is required");
  }
  if (static_cast<size_t>(request.messages_size()) > limits.max_messages_per_publish) {
    return absl::InvalidArgumentError(saga::StrCat("messages: at most ",
                                                   limits.max_messages_per_publish,
                                                   " per call, got ", request.messages_size()));
  }
  absl::flat_hash_map<std::string, int> ids;
  for (int i = 0; i < request.messages_size(); ++i) {
    const auto& message = request.messages(i);
    std::string field = saga::StrCat("messages[", i, "]");
    SAGA_RETURN_IF_ERROR(ValidateOutboxMessage(message, limits, field));
    if (message.message_id().empty()) continue;
    auto [it, inserted] = ids.emplace(message.message_id(), i);
    if (!inserted) {
      return absl::InvalidArgumentError(saga::StrCat(field, ".message_id: \"",
                                                     message.message_id(), "\" is used by messages[",
                                                     it->second, "] too; ids are unique"));
    }
  }
  return absl::OkStatus();
}

}  // namespace saga::outbox
