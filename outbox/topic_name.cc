#include "outbox/topic_name.h"

#include "sdk/base/strings.h"

namespace saga::outbox {

absl::Status ValidateTopicName(std::string_view topic, std::string_view field) {
  constexpr size_t kMaxTopicLength = 249;
  if (topic.empty()) return absl::InvalidArgumentError(saga::StrCat(field, ": a topic is required"));
  if (topic.size() > kMaxTopicLength) {
    return absl::InvalidArgumentError(saga::StrCat(field, ": a topic name has at most ",
                                                   kMaxTopicLength, " characters, got ",
                                                   topic.size()));
  }
  if (topic == "." || topic == "..") {
    return absl::InvalidArgumentError(saga::StrCat(field, ": \"", topic,
                                                   "\" is not a valid Kafka topic name"));
  }
  for (char c : topic) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(saga::StrCat(
          field, ": \"", topic, "\" is not a Kafka topic name; use only [a-zA-Z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace saga::outbox
