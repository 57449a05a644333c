// Tests of request validation and page tokens: what every handler checks before it runs.
#include "services/request_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/page_token.h"

namespace saga::services {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kSagaId[] = "123e4567-e89b-42d3-a456-426614174000";

void ExpectInvalid(const absl::Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(field + ":"));
}

TEST(RequestValidationTest, SagaIdsMustBeUuids) {
  saga::v1::GetSagaRequest request;
  ExpectInvalid(ValidateRequest(request), "saga_id");
  request.set_saga_id("not-a-uuid");
  ExpectInvalid(ValidateRequest(request), "saga_id");
  request.set_saga_id(kSagaId);
  EXPECT_TRUE(ValidateRequest(request).ok());
}

TEST(RequestValidationTest, StartSagaPayloadAboveTheLimitSaysTheLimit) {
  saga::v1::StartSagaRequest request;
  request.set_definition_name("order");
  (*request.mutable_payloads())["charge"] = std::string(101, 'x');
  absl::Status status = ValidateRequest(request, RequestLimits{.max_payload_bytes = 100});
  ExpectInvalid(status, "payloads[\"charge\"]");
  EXPECT_THAT(std::string(status.message()), HasSubstr("limit of 100 bytes"));
  (*request.mutable_payloads())["charge"] = std::string(100, 'x');
  EXPECT_TRUE(ValidateRequest(request, RequestLimits{.max_payload_bytes = 100}).ok());
}

TEST(RequestValidationTest, StartSagaNeedsAValidDefinitionNameAndLabels) {
  saga::v1::StartSagaRequest request;
  ExpectInvalid(ValidateRequest(request, {}), "definition_name");
  request.set_definition_name("order");
  (*request.mutable_labels())["Bad Key"] = "v";
  ExpectInvalid(ValidateRequest(request, {}), "labels[\"Bad Key\"]");
  request.mutable_labels()->clear();
  request.set_idempotency_key(std::string(257, 'k'));
  ExpectInvalid(ValidateRequest(request, {}), "idempotency_key");
}

TEST(RequestValidationTest, PageSizesAreBounded) {
  saga::v1::ListSagasRequest request;
  request.set_page_size(-1);
  ExpectInvalid(ValidateRequest(request), "page_size");
  request.set_page_size(1001);
  ExpectInvalid(ValidateRequest(request), "page_size");
  request.set_page_size(1000);
  EXPECT_TRUE(ValidateRequest(request).ok());
  EXPECT_EQ(EffectivePageSize(0), 100);
}

TEST(RequestValidationTest, ListSagasRejectsUnknownStatesAndReversedTimes) {
  saga::v1::ListSagasRequest request;
  request.add_states(static_cast<saga::v1::SagaState>(99));
  ExpectInvalid(ValidateRequest(request), "states[0]");
  request.clear_states();
  request.mutable_created_after()->set_seconds(200);
  request.mutable_created_before()->set_seconds(100);
  ExpectInvalid(ValidateRequest(request), "created_before");
}

TEST(RequestValidationTest, AdminActionsNeedAReason) {
  saga::v1::RetrySagaRequest retry;
  retry.set_saga_id(kSagaId);
  ExpectInvalid(ValidateRequest(retry), "reason");
  retry.set_reason("participant fixed in release 1.2.3");
  EXPECT_TRUE(ValidateRequest(retry).ok());
}

TEST(RequestValidationTest, ReplayCompensationNeedsASelectorAndANonEmptyFilter) {
  saga::v1::ReplayCompensationRequest request;
  request.set_reason("replay");
  ExpectInvalid(ValidateRequest(request), "selector");
  request.mutable_filter();
  ExpectInvalid(ValidateRequest(request), "filter");
  request.mutable_filter()->set_definition_name("order");
  EXPECT_TRUE(ValidateRequest(request).ok());
}

TEST(RequestValidationTest, RegisterBranchValidatesEndpointsUnderTheirOwnNames) {
  saga::v1::RegisterBranchRequest request;
  request.set_global_id(kSagaId);
  request.set_branch_id("debit");
  request.mutable_confirm()->mutable_grpc()->set_target("127.0.0.1:1");
  request.mutable_confirm()->mutable_grpc()->set_method("Confirm");
  request.mutable_cancel()->mutable_grpc()->set_target("127.0.0.1:1");
  request.mutable_cancel()->mutable_grpc()->set_method("/bank.Accounts/Cancel");
  ExpectInvalid(ValidateRequest(request, {}), "confirm.grpc.method");
  request.mutable_confirm()->mutable_grpc()->set_method("/bank.Accounts/Confirm");
  EXPECT_TRUE(ValidateRequest(request, {}).ok());
}

TEST(RequestValidationTest, BeginNeedsATimeout) {
  saga::v1::BeginRequest request;
  ExpectInvalid(ValidateRequest(request), "timeout");
  request.mutable_timeout()->set_seconds(30);
  EXPECT_TRUE(ValidateRequest(request).ok());
}

TEST(PageTokenTest, RoundTripsAndRefusesTokensOfOtherLists) {
  std::string token = EncodePageToken("definitions", {"order", "3"});
  auto fields = DecodePageToken(token, "definitions", 2);
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_EQ(*fields, (std::vector<std::string>{"order", "3"}));
  ExpectInvalid(DecodePageToken(token, "sagas", 2).status(), "page_token");
  ExpectInvalid(DecodePageToken("%%%", "definitions", 2).status(), "page_token");
  ExpectInvalid(DecodePageToken(token, "definitions", 3).status(), "page_token");
}

TEST(PageTokenTest, SagaTokensCarryTimeAndIdAndRefuseDamagedIds) {
  saga::v1::Saga last;
  last.set_saga_id(kSagaId);
  last.mutable_create_time()->set_seconds(1800000000);
  last.mutable_create_time()->set_nanos(123456000);
  auto after = DecodeSagaPageToken(EncodeSagaPageToken("sagas", last), "sagas");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->first, absl::FromUnixMicros(1800000000123456));
  EXPECT_EQ(after->second, kSagaId);
  ExpectInvalid(DecodeSagaPageToken(EncodePageToken("sagas", {"1", "not-a-uuid"}), "sagas").status(),
                "page_token");
  ExpectInvalid(DecodeSagaPageToken(EncodeSagaPageToken("sagas", last), "quarantined").status(),
                "page_token");
}

}  // namespace
}  // namespace saga::services
