// Tests of ValidateDefinition: every rule of the definition language, each bad definition
// answered with INVALID_ARGUMENT naming the offending field.
#include "coordinator/definition_validator.h"

#include <google/protobuf/text_format.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace saga::coordinator {
namespace {

using ::testing::HasSubstr;

saga::v1::SagaDefinition Parse(const std::string& text) {
  saga::v1::SagaDefinition definition;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &definition)) << text;
  return definition;
}

constexpr char kGrpcA[] = R"(action { grpc { target: "127.0.0.1:7001" method: "/shop.Stock/Reserve" } })";
constexpr char kCompA[] = R"(compensation { grpc { target: "127.0.0.1:7001" method: "/shop.Stock/Release" } })";

std::string Step(const std::string& name, const std::string& extra = "") {
  return "steps { name: \"" + name + "\" " + kGrpcA + " " + extra + " }\n";
}

TEST(DefinitionValidatorTest, AcceptsALinearSagaWithPivotAndRetriableSteps) {
  auto definition = Parse(R"(
    name: "order"
    deadline { seconds: 60 }
    default_retry_policy { initial_backoff { nanos: 100000000 } max_backoff { seconds: 5 }
                           backoff_multiplier: 2 jitter: 0.2 max_attempts: 5 }
    steps { name: "reserve_stock"
            action { grpc { target: "127.0.0.1:7001" method: "/shop.Stock/Reserve" } }
            compensation { grpc { target: "127.0.0.1:7001" method: "/shop.Stock/Release" } } }
    steps { name: "charge" kind: STEP_KIND_PIVOT depends_on: "reserve_stock"
            action { grpc { target: "dns:///payments:50051" method: "/Payments/Charge" } }
            status { grpc { target: "dns:///payments:50051" method: "/Payments/ChargeStatus" } }
            timeout { seconds: 2 } }
    steps { name: "ship" kind: STEP_KIND_RETRIABLE depends_on: "charge"
            action { kafka { command_topic: "shipping.commands" reply_topic: "shipping.replies" } } }
  )");
  EXPECT_TRUE(ValidateDefinition(definition).ok()) << ValidateDefinition(definition);
}

TEST(DefinitionValidatorTest, AcceptsParallelBranches) {
  auto definition = Parse("name: \"fanout\"\n" + Step("a") + Step("b") + Step("c") +
                          Step("join", "depends_on: \"a\" depends_on: \"b\" depends_on: \"c\""));
  EXPECT_TRUE(ValidateDefinition(definition).ok()) << ValidateDefinition(definition);
}

struct BadCase {
  std::string what;
  std::string text;
  std::string field;    // the message must start with this field path
  std::string detail;   // and contain this
};

class BadDefinitionTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadDefinitionTest, IsInvalidArgumentNamingTheField) {
  const BadCase& c = GetParam();
  absl::Status status = ValidateDefinition(Parse(c.text));
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what << ": " << status;
  EXPECT_THAT(std::string(status.message()), ::testing::StartsWith(c.field + ":")) << c.what;
  EXPECT_THAT(std::string(status.message()), HasSubstr(c.detail)) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, BadDefinitionTest,
    ::testing::Values(
        BadCase{"empty name", Step("a"), "definition.name", "is required"},
        BadCase{"name with capitals", "name: \"Order\"\n" + Step("a"), "definition.name",
                "[a-z0-9_.-]"},
        BadCase{"no steps", "name: \"order\"", "definition.steps", "at least one step"},
        BadCase{"duplicate step names", "name: \"order\"\n" + Step("a") + Step("a"),
                "definition.steps[1].name", "is used by steps[0] too"},
        BadCase{"dependency cycle",
                "name: \"order\"\n" + Step("a", "depends_on: \"c\"") +
                    Step("b", "depends_on: \"a\"") + Step("c", "depends_on: \"b\""),
                "definition.steps", "cycle"},
        BadCase{"self dependency", "name: \"order\"\n" + Step("a", "depends_on: \"a\""),
                "definition.steps[0].depends_on[0]", "itself"},
        BadCase{"dependency on a missing step",
                "name: \"order\"\n" + Step("a") + Step("b", "depends_on: \"nope\""),
                "definition.steps[1].depends_on[0]", "no step is named \"nope\""},
        BadCase{"compensation on a retriable step",
                "name: \"order\"\n" + Step("a", std::string("kind: STEP_KIND_RETRIABLE ") + kCompA),
                "definition.steps[0].compensation", "retriable step is never compensated"},
        BadCase{"TCC step without its Cancel",
                "name: \"order\"\n" +
                    Step("a", R"(kind: STEP_KIND_TCC confirm { grpc { target: "h:1" method: "/a.B/C" } })"),
                "definition.steps[0].compensation", "Cancel of the reservation"},
        BadCase{"TCC step without its Confirm",
                "name: \"order\"\n" + Step("a", std::string("kind: STEP_KIND_TCC ") + kCompA),
                "definition.steps[0].confirm", "required on a TCC step"},
        BadCase{"confirm on a step that is not TCC",
                "name: \"order\"\n" +
                    Step("a", R"(confirm { grpc { target: "h:1" method: "/a.B/C" } })"),
                "definition.steps[0].confirm", "only TCC steps are confirmed"},
        BadCase{"endpoint neither gRPC nor Kafka",
                R"(name: "order" steps { name: "a" action { } })", "definition.steps[0].action",
                "set either grpc"},
        BadCase{"missing action", R"(name: "order" steps { name: "a" })",
                "definition.steps[0].action", "is required"},
        BadCase{"not a gRPC method path",
                R"(name: "order" steps { name: "a" action { grpc { target: "h:1" method: "Reserve" } } })",
                "definition.steps[0].action.grpc.method", "/package.Service/Method"},
        BadCase{"gRPC method path with a bad identifier",
                R"(name: "order" steps { name: "a" action { grpc { target: "h:1" method: "/shop.9Stock/Reserve" } } })",
                "definition.steps[0].action.grpc.method", "/package.Service/Method"},
        BadCase{"missing gRPC target",
                R"(name: "order" steps { name: "a" action { grpc { method: "/a.B/C" } } })",
                "definition.steps[0].action.grpc.target", "address is required"},
        BadCase{"bad Kafka topic",
                R"(name: "order" steps { name: "a" action { kafka { command_topic: "bad topic" reply_topic: "r" } } })",
                "definition.steps[0].action.kafka.command_topic", "[a-zA-Z0-9._-]"},
        BadCase{"Kafka endpoint without reply topic",
                R"(name: "order" steps { name: "a" action { kafka { command_topic: "c" } } })",
                "definition.steps[0].action.kafka.reply_topic", "a topic is required"},
        BadCase{"negative backoff",
                "name: \"order\"\n" +
                    Step("a", "retry_policy { initial_backoff { seconds: -1 } }"),
                "definition.steps[0].retry_policy.initial_backoff", "must not be negative"},
        BadCase{"max backoff below initial",
                "name: \"order\"\n" + Step("a", "retry_policy { initial_backoff { seconds: 5 } "
                                                "max_backoff { seconds: 1 } }"),
                "definition.steps[0].retry_policy.max_backoff", "below initial_backoff"},
        BadCase{"multiplier below one",
                "name: \"order\"\n" + Step("a", "retry_policy { backoff_multiplier: 0.5 }"),
                "definition.steps[0].retry_policy.backoff_multiplier", "from 1 to 100"},
        BadCase{"jitter above one", "name: \"order\"\n" + Step("a", "retry_policy { jitter: 1.5 }"),
                "definition.steps[0].retry_policy.jitter", "from 0 to 1"},
        BadCase{"negative default backoff",
                "name: \"order\" default_retry_policy { max_backoff { nanos: -5 } }\n" + Step("a"),
                "definition.default_retry_policy.max_backoff", "must not be negative"},
        BadCase{"zero timeout", "name: \"order\"\n" + Step("a", "timeout { }"),
                "definition.steps[0].timeout", "positive"},
        BadCase{"negative deadline", "name: \"order\" deadline { seconds: -3 }\n" + Step("a"),
                "definition.deadline", "must not be negative"},
        BadCase{"two pivots",
                "name: \"order\"\n" + Step("a", "kind: STEP_KIND_PIVOT") +
                    Step("b", "kind: STEP_KIND_PIVOT depends_on: \"a\""),
                "definition.steps[1].kind", "at most one pivot"},
        BadCase{"pivot beside a compensatable step",
                "name: \"order\"\n" + Step("a") + Step("p", "kind: STEP_KIND_PIVOT"),
                "definition.steps[1].depends_on", "does not depend on \"a\""},
        BadCase{"retriable step beside the pivot",
                "name: \"order\"\n" + Step("p", "kind: STEP_KIND_PIVOT") +
                    Step("r", "kind: STEP_KIND_RETRIABLE"),
                "definition.steps[1].depends_on", "does not depend on \"p\""},
        BadCase{"unknown step kind", "name: \"order\"\n" + Step("a", "kind: 42"),
                "definition.steps[0].kind", "unknown step kind 42"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      std::string name;
      for (char c : info.param.what) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

}  // namespace
}  // namespace saga::coordinator
