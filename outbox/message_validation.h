// Validation of outbox messages submitted through OutboxService.Publish: what a caller may put
// in a message before sagad commits it. Pure functions; thread-safe.
#ifndef SAGA_OUTBOX_MESSAGE_VALIDATION_H_
#define SAGA_OUTBOX_MESSAGE_VALIDATION_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "saga/v1/outbox_service.pb.h"

namespace saga::outbox {

struct MessageLimits {
  size_t max_payload_bytes = 1 << 20;
  size_t max_key_bytes = 1024;
  size_t max_message_id_bytes = 256;
  size_t max_header_name_bytes = 256;
  size_t max_messages_per_publish = 1000;
};

// OK, or INVALID_ARGUMENT naming the field (`field` is the message's path, e.g. "messages[3]").
absl::Status ValidateOutboxMessage(const saga::v1::OutboxMessage& message,
                                   const MessageLimits& limits, std::string_view field);

// Validates the whole request: 1 to max_messages_per_publish messages, each valid, message ids
// unique within the request.
absl::Status ValidatePublishRequest(const saga::v1::PublishRequest& request,
                                    const MessageLimits& limits);

}  // namespace saga::outbox

#endif  // SAGA_OUTBOX_MESSAGE_VALIDATION_H_
