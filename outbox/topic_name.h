// Kafka topic name rules, shared by step endpoints and outbox messages: 1 to 249 characters of
// [a-zA-Z0-9._-], and neither "." nor "..".
#ifndef SAGA_OUTBOX_TOPIC_NAME_H_
#define SAGA_OUTBOX_TOPIC_NAME_H_

#include <string_view>

#include "absl/status/status.h"

namespace saga::outbox {

// OK, or INVALID_ARGUMENT naming `field` and saying what a topic name may hold.
absl::Status ValidateTopicName(std::string_view topic, std::string_view field);

}  // namespace saga::outbox

#endif  // SAGA_OUTBOX_TOPIC_NAME_H_
