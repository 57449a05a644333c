// Tests of the outbox message rules applied by OutboxService.Publish.
#include "outbox/message_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace saga::outbox {
namespace {

using ::testing::HasSubstr;

saga::v1::PublishRequest OneMessage(const std::string& topic, const std::string& payload) {
  saga::v1::PublishRequest request;
  auto* message = request.add_messages();
  message->set_topic(topic);
  message->set_key("order-1");
  message->set_payload(payload);
  return request;
}

TEST(MessageValidationTest, AcceptsAValidMessage) {
  EXPECT_TRUE(ValidatePublishRequest(OneMessage("orders.events", "{}"), {}).ok());
}

TEST(MessageValidationTest, RejectsAnEmptyRequest) {
  absl::Status status = ValidatePublishRequest({}, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("messages: at least one"));
}

TEST(MessageValidationTest, RejectsBadTopicsNamingTheField) {
  for (const std::string& topic :
       std::vector<std::string>{"", ".", "..", "has space", std::string(250, 'a')}) {
    absl::Status status = ValidatePublishRequest(OneMessage(topic, "{}"), {});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << topic;
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith("messages[0].topic:"));
  }
}

TEST(MessageValidationTest, RejectsAnOversizePayloadSayingTheLimit) {
  MessageLimits limits;
  limits.max_payload_bytes = 10;
  absl::Status status = ValidatePublishRequest(OneMessage("t", std::string(11, 'x')), limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("messages[0].payload: 11 bytes"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("limit of 10 bytes"));
  EXPECT_TRUE(ValidatePublishRequest(OneMessage("t", std::string(10, 'x')), limits).ok());
}

TEST(MessageValidationTest, RejectsDuplicateMessageIds) {
  saga::v1::PublishRequest request = OneMessage("t", "a");
  request.mutable_messages(0)->set_message_id("m1");
  *request.add_messages() = request.messages(0);
  absl::Status status = ValidatePublishRequest(request, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("messages[1].message_id"));
}

TEST(MessageValidationTest, RejectsTooManyMessages) {
  MessageLimits limits;
  limits.max_messages_per_publish = 2;
  saga::v1::PublishRequest request = OneMessage("t", "a");
  *request.add_messages() = request.messages(0);
  *request.add_messages() = request.messages(0);
  EXPECT_THAT(std::string(ValidatePublishRequest(request, limits).message()),
              HasSubstr("at most 2 per call"));
}

}  // namespace
}  // namespace saga::outbox
