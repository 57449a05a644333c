// Tests of the saga rules (SagaMachine) without I/O: each test drives one instance through
// participant answers and time, and checks the calls it asks for and the states it reaches.
#include "coordinator/saga_machine.h"

#include <google/protobuf/text_format.h>

#include "coordinator/definition_validator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace saga::coordinator {
namespace {

using saga::v1::SagaEvent;

const absl::Time kT0 = absl::FromUnixSeconds(1800000000);

std::shared_ptr<const CompiledDefinition> Compile(const std::string& text) {
  saga::v1::SagaDefinition definition;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &definition));
  EXPECT_TRUE(ValidateDefinition(definition).ok()) << ValidateDefinition(definition);
  return CompiledDefinition::Compile(definition);
}

std::string Step(const std::string& name, const std::string& extra = "",
                 bool compensation = true) {
  std::string text = "steps { name: \"" + name + "\" action { grpc { target: \"p:1\" method: \"/p.S/" +
                     name + "\" } } ";
  if (compensation) text += "compensation { grpc { target: \"p:1\" method: \"/p.S/Undo\" } } ";
  return text + extra + " }\n";
}

constexpr char kFastRetries[] =
    "default_retry_policy { initial_backoff { nanos: 1000000 } max_backoff { nanos: 1000000 } "
    "max_attempts: 3 }\n";

// Drives one instance and keeps the calls it was asked to make.
class Driver {
 public:
  explicit Driver(std::shared_ptr<const CompiledDefinition> compiled)
      : instance_(SagaMachine::NewInstance(std::move(compiled), "s-1", kT0)) {}

  void Apply(const Transition& t) {
    for (const auto& d : t.dispatches) pending_.push_back(d);
    for (const auto& e : t.events) events_.push_back(e.type());
  }
  void Start() { Apply(SagaMachine::Start(instance_, now_)); }
  void Answer(const std::string& step, Operation op, absl::Status status) {
    Apply(SagaMachine::OnResult(instance_, Index(step), op, status, now_));
  }
  void Advance(absl::Duration d) {
    now_ += d;
    Apply(SagaMachine::OnTimer(instance_, now_));
  }
  // The calls asked for since the last Take, as "step:a|c|s".
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    for (const auto& d : pending_) {
      const char* op = d.operation == Operation::kAction         ? "a"
                       : d.operation == Operation::kCompensation ? "c"
                       : d.operation == Operation::kConfirm      ? "confirm"
                                                                 : "s";
      out.push_back(instance_.saga.steps(d.step).name() + ":" + op);
    }
    pending_.clear();
    return out;
  }
  int Index(const std::string& step) const {
    for (int i = 0; i < instance_.saga.steps_size(); ++i) {
      if (instance_.saga.steps(i).name() == step) return i;
    }
    ADD_FAILURE() << "no step " << step;
    return -1;
  }
  saga::v1::SagaState state() const { return instance_.saga.state(); }
  saga::v1::StepState step_state(const std::string& s) const {
    return instance_.saga.steps(Index(s)).state();
  }
  SagaInstance& instance() { return instance_; }
  const std::vector<SagaEvent::Type>& events() const { return events_; }

 private:
  SagaInstance instance_;
  absl::Time now_ = kT0;
  std::vector<Dispatch> pending_;
  std::vector<SagaEvent::Type> events_;
};

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const absl::Status kOk = absl::OkStatus();
const absl::Status kRefused = absl::FailedPreconditionError("out of stock");
const absl::Status kDown = absl::UnavailableError("connection refused");
const absl::Status kTimeout = absl::DeadlineExceededError("deadline exceeded");

TEST(SagaMachineTest, HappyPathRunsStepsInDependencyOrder) {
  Driver d(Compile("name: \"o\"\n" + Step("a") + Step("b", "depends_on: \"a\"") +
                   Step("c", "depends_on: \"b\"")));
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("a:a"));
  d.Answer("a", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("b:a"));
  d.Answer("b", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("c:a"));
  d.Answer("c", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre());
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_TRUE(d.instance().saga.has_end_time());
  EXPECT_EQ(d.events().front(), SagaEvent::TYPE_SAGA_STARTED);
  EXPECT_EQ(d.events().back(), SagaEvent::TYPE_SAGA_COMPLETED);
}

TEST(SagaMachineTest, IndependentStepsRunTogetherAndAJoinWaitsForBoth) {
  Driver d(Compile("name: \"o\"\n" + Step("a") + Step("b") +
                   Step("join", "depends_on: \"a\" depends_on: \"b\"")));
  d.Start();
  EXPECT_THAT(d.Take(), UnorderedElementsAre("a:a", "b:a"));
  d.Answer("b", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre());
  d.Answer("a", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("join:a"));
}

TEST(SagaMachineTest, BusinessFailureCompensatesWhatRanInReverseEachOnce) {
  Driver d(Compile("name: \"o\"\n" + Step("a") + Step("b", "depends_on: \"a\"") +
                   Step("c", "depends_on: \"b\"")));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Answer("b", Operation::kAction, kOk);
  d.Take();
  d.Answer("c", Operation::kAction, kRefused);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATING);
  EXPECT_EQ(d.step_state("c"), saga::v1::STEP_STATE_FAILED);
  EXPECT_THAT(d.Take(), ElementsAre("b:c"));  // the refused step applied nothing
  d.Answer("b", Operation::kCompensation, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("a:c"));
  d.Answer("a", Operation::kCompensation, kOk);
  EXPECT_THAT(d.Take(), ElementsAre());
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(d.instance().saga.error(), ::testing::HasSubstr("step c failed: out of stock"));
  // A duplicated answer changes nothing.
  d.Answer("a", Operation::kCompensation, kOk);
  EXPECT_THAT(d.Take(), ElementsAre());
}

TEST(SagaMachineTest, TransientFailuresAreRetriedWithBackoffUntilSuccess) {
  Driver d(Compile(std::string("name: \"o\"\n") + kFastRetries + Step("a")));
  d.Start();
  d.Take();
  d.Answer("a", Operation::kAction, kDown);
  EXPECT_THAT(d.Take(), ElementsAre());  // waits for the backoff
  EXPECT_LT(SagaMachine::NextWake(d.instance()), absl::InfiniteFuture());
  d.Advance(absl::Milliseconds(5));
  EXPECT_THAT(d.Take(), ElementsAre("a:a"));
  d.Answer("a", Operation::kAction, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(d.instance().saga.steps(0).attempts(), 2u);
}

TEST(SagaMachineTest, ExhaustedRetriesCompensateTheStepThatMayHaveRun) {
  Driver d(Compile(std::string("name: \"o\"\n") + kFastRetries + Step("a") +
                   Step("b", "depends_on: \"a\"")));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Take();
  for (int i = 0; i < 3; ++i) {
    d.Answer("b", Operation::kAction, kTimeout);
    d.Advance(absl::Milliseconds(5));
  }
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATING);
  // b timed out: it may have run, so it is compensated too, before a.
  EXPECT_EQ(d.step_state("b"), saga::v1::STEP_STATE_COMPENSATING);
  EXPECT_THAT(d.Take(), ElementsAre("b:a", "b:a", "b:c"));
  d.Answer("b", Operation::kCompensation, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("a:c"));
}

TEST(SagaMachineTest, StatusEndpointDecidesAnUnknownOutcome) {
  const std::string status = "status { grpc { target: \"p:1\" method: \"/p.S/Status\" } }";
  Driver ran(Compile(std::string("name: \"o\"\n") + kFastRetries + Step("a", status)));
  ran.Start();
  ran.Take();
  for (int i = 0; i < 3; ++i) {
    ran.Answer("a", Operation::kAction, kTimeout);
    ran.Advance(absl::Milliseconds(5));
  }
  EXPECT_THAT(ran.Take(), ElementsAre("a:a", "a:a", "a:s"));
  ran.Answer("a", Operation::kStatus, kOk);
  EXPECT_EQ(ran.state(), saga::v1::SAGA_STATE_COMPLETED);

  Driver not_ran(Compile(std::string("name: \"o\"\n") + kFastRetries + Step("a", status)));
  not_ran.Start();
  for (int i = 0; i < 3; ++i) {
    not_ran.Answer("a", Operation::kAction, kTimeout);
    not_ran.Advance(absl::Milliseconds(5));
  }
  not_ran.Take();
  not_ran.Answer("a", Operation::kStatus, absl::NotFoundError("no such reservation"));
  EXPECT_EQ(not_ran.state(), saga::v1::SAGA_STATE_COMPENSATING);
  EXPECT_THAT(not_ran.Take(), ElementsAre("a:c"));  // harmless if it never ran
}

TEST(SagaMachineTest, FailureWaitsForAStepInFlightBeforeCompensatingIt) {
  Driver d(Compile("name: \"o\"\n" + Step("a") + Step("b")));
  d.Start();
  d.Take();
  d.Answer("a", Operation::kAction, kRefused);
  EXPECT_THAT(d.Take(), ElementsAre());  // b is still in flight
  d.Answer("b", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("b:c"));
  d.Answer("b", Operation::kCompensation, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);
}

TEST(SagaMachineTest, AfterThePivotRetriableStepsAreRetriedUntilTheySucceed) {
  Driver d(Compile(std::string("name: \"o\"\n") + kFastRetries + Step("a") +
                   Step("pay", "kind: STEP_KIND_PIVOT depends_on: \"a\"") +
                   Step("ship", "kind: STEP_KIND_RETRIABLE depends_on: \"pay\"", false)));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Answer("pay", Operation::kAction, kOk);
  d.Take();
  for (int i = 0; i < 10; ++i) {  // far beyond max_attempts, and business failures too
    d.Answer("ship", Operation::kAction, i % 2 ? kDown : kRefused);
    d.Advance(absl::Milliseconds(5));
  }
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_RUNNING);
  EXPECT_FALSE(SagaMachine::Abort(d.instance(), "op", "stop", kT0).ok());
  d.Answer("ship", Operation::kAction, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPLETED);
}

TEST(SagaMachineTest, AFailedPivotCompensatesTheStepsBeforeIt) {
  Driver d(Compile("name: \"o\"\n" + Step("a") +
                   Step("pay", "kind: STEP_KIND_PIVOT depends_on: \"a\"", false) +
                   Step("ship", "kind: STEP_KIND_RETRIABLE depends_on: \"pay\"", false)));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Take();
  d.Answer("pay", Operation::kAction, kRefused);
  EXPECT_THAT(d.Take(), ElementsAre("a:c"));
  EXPECT_EQ(d.step_state("ship"), saga::v1::STEP_STATE_NOT_RUN);
}

TEST(SagaMachineTest, ACompensationThatKeepsFailingQuarantinesTheSaga) {
  Driver d(Compile(std::string("name: \"o\"\n") + kFastRetries + Step("a") +
                   Step("b", "depends_on: \"a\"")));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Answer("b", Operation::kAction, kRefused);
  EXPECT_THAT(d.Take(), ElementsAre("a:a", "b:a", "a:c"));
  for (int i = 0; i < 3; ++i) {
    d.Answer("a", Operation::kCompensation, absl::InternalError("db down"));
    d.Advance(absl::Milliseconds(5));
  }
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_QUARANTINED);
  EXPECT_THAT(d.instance().saga.error(), ::testing::HasSubstr("compensation of step a failed 3"));
  EXPECT_EQ(d.events().back(), SagaEvent::TYPE_SAGA_QUARANTINED);
  d.Advance(absl::Seconds(60));
  EXPECT_THAT(d.Take(), ElementsAre("a:c", "a:c"));  // the two retries, nothing after
}

// a -> b -> c; c refused, b's compensation keeps failing: QUARANTINED with b and a owed.
Driver Quarantined() {
  Driver d(Compile(std::string("name: \"o\"\n") + kFastRetries + Step("a") +
                   Step("b", "depends_on: \"a\"") + Step("c", "depends_on: \"b\"")));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Answer("b", Operation::kAction, kOk);
  d.Answer("c", Operation::kAction, kRefused);
  for (int i = 0; i < 3; ++i) {
    d.Answer("b", Operation::kCompensation, kDown);
    d.Advance(absl::Milliseconds(5));
  }
  d.Take();
  return d;
}

TEST(SagaMachineTest, RetryResumesAQuarantinedSagaWithAFreshBudget) {
  Driver d = Quarantined();
  ASSERT_EQ(d.state(), saga::v1::SAGA_STATE_QUARANTINED);
  auto t = SagaMachine::Retry(d.instance(), "oncall", "stock service fixed", kT0);
  ASSERT_TRUE(t.ok()) << t.status();
  d.Apply(*t);
  EXPECT_EQ(d.events()[d.events().size() - 3], SagaEvent::TYPE_OPERATOR_ACTION);
  EXPECT_THAT(d.Take(), ElementsAre("b:c"));
  d.Answer("b", Operation::kCompensation, kDown);  // within the fresh budget: retried
  d.Advance(absl::Milliseconds(5));
  EXPECT_THAT(d.Take(), ElementsAre("b:c"));
  d.Answer("b", Operation::kCompensation, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("a:c"));
  d.Answer("a", Operation::kCompensation, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);
  // Only a quarantined saga is retried.
  EXPECT_EQ(SagaMachine::Retry(d.instance(), "oncall", "again", kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SagaMachineTest, ReplayRunsItsPlanInReverseDependencyOrder) {
  Driver d = Quarantined();
  auto plan = SagaMachine::ReplayPlan(d.instance(), "");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(*plan, ElementsAre(d.Index("b"), d.Index("a")));  // c never took effect
  auto t = SagaMachine::ReplayCompensation(d.instance(), "", "oncall", "fixed", kT0);
  ASSERT_TRUE(t.ok()) << t.status();
  d.Apply(*t);
  EXPECT_THAT(d.Take(), ElementsAre("b:c"));
  d.Answer("b", Operation::kCompensation, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("a:c"));
  d.Answer("a", Operation::kCompensation, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);

  // A compensated saga replays from a chosen step: it and what it depends on.
  plan = SagaMachine::ReplayPlan(d.instance(), "a");
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(*plan, ElementsAre(d.Index("a")));
  plan = SagaMachine::ReplayPlan(d.instance(), "b");
  EXPECT_THAT(*plan, ElementsAre(d.Index("b"), d.Index("a")));
  t = SagaMachine::ReplayCompensation(d.instance(), "b", "oncall", "the refund was lost", kT0);
  ASSERT_TRUE(t.ok());
  d.Apply(*t);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATING);
  EXPECT_THAT(d.Take(), ElementsAre("b:c"));
  d.Answer("b", Operation::kCompensation, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("a:c"));
  d.Answer("a", Operation::kCompensation, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_EQ(SagaMachine::ReplayPlan(d.instance(), "nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SagaMachineTest, SkipStepLetsAStuckSagaGoOn) {
  // A retriable step after the pivot that never succeeds: skipped, the saga completes.
  Driver running(Compile("name: \"o\"\n" + Step("pay", "kind: STEP_KIND_PIVOT") +
                         Step("ship", "kind: STEP_KIND_RETRIABLE depends_on: \"pay\"", false)));
  running.Start();
  running.Answer("pay", Operation::kAction, kOk);
  running.Answer("ship", Operation::kAction, kDown);
  auto t = SagaMachine::SkipStep(running.instance(), "ship", "oncall", "shipped by hand", kT0);
  ASSERT_TRUE(t.ok()) << t.status();
  running.Apply(*t);
  EXPECT_EQ(running.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(running.step_state("ship"), saga::v1::STEP_STATE_SKIPPED);
  running.Advance(absl::Minutes(1));
  EXPECT_THAT(running.Take(), ElementsAre("pay:a", "ship:a"));  // no retry after the skip

  // A quarantined saga: skipping the failing compensation lets the others run.
  Driver d = Quarantined();
  t = SagaMachine::SkipStep(d.instance(), "b", "oncall", "undone by hand", kT0);
  ASSERT_TRUE(t.ok()) << t.status();
  d.Apply(*t);
  EXPECT_THAT(d.Take(), ElementsAre("a:c"));
  d.Answer("a", Operation::kCompensation, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_EQ(SagaMachine::SkipStep(d.instance(), "a", "oncall", "x", kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SagaMachineTest, TheDeadlineAbortsARunningSaga) {
  Driver d(Compile("name: \"o\" deadline { seconds: 10 }\n" + Step("a") +
                   Step("b", "depends_on: \"a\"")));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Take();
  d.Advance(absl::Seconds(11));
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATING);
  EXPECT_THAT(d.Take(), ElementsAre());  // b is in flight: wait for it
  d.Answer("b", Operation::kAction, kTimeout);
  EXPECT_THAT(d.Take(), ElementsAre("b:c"));
}

TEST(SagaMachineTest, AbortCompensatesAndIsRefusedOnceTerminal) {
  Driver d(Compile("name: \"o\"\n" + Step("a") + Step("b", "depends_on: \"a\"")));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Take();
  auto aborted = SagaMachine::Abort(d.instance(), "alice", "customer cancelled", kT0);
  ASSERT_TRUE(aborted.ok());
  d.Apply(*aborted);
  d.Answer("b", Operation::kAction, kRefused);
  EXPECT_THAT(d.Take(), ElementsAre("a:c"));
  d.Answer("a", Operation::kCompensation, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_EQ(SagaMachine::Abort(d.instance(), "alice", "again", kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SagaMachineTest, ResumeResendsWhatMayHaveBeenInFlight) {
  Driver d(Compile("name: \"o\"\n" + Step("a") + Step("b", "depends_on: \"a\"")));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Take();  // b dispatched; now the process "crashes"
  d.Apply(SagaMachine::Resume(d.instance(), kT0));
  EXPECT_THAT(d.Take(), ElementsAre("b:a"));
  EXPECT_EQ(d.instance().saga.steps(1).attempts(), 2u);
}

TEST(SagaMachineTest, StepsWithoutCompensationNeedNoCall) {
  Driver d(Compile("name: \"o\"\n" + Step("a", "", false) + Step("b", "depends_on: \"a\"")));
  d.Start();
  d.Answer("a", Operation::kAction, kOk);
  d.Take();
  d.Answer("b", Operation::kAction, kRefused);
  EXPECT_THAT(d.Take(), ElementsAre());
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);
}

// A TCC step: "hold" reserves (Try = action, Cancel = compensation); its Confirm runs once every
// step succeeded.
std::string TccStep(const std::string& name, const std::string& extra = "") {
  return Step(name, "kind: STEP_KIND_TCC confirm { grpc { target: \"p:1\" method: "
                    "\"/p.S/Confirm\" } } " + extra);
}

TEST(SagaMachineTest, TccStepsAreConfirmedOnlyAfterEveryStepSucceeded) {
  Driver d(Compile(std::string("name: \"o\"\n") + kFastRetries + TccStep("hold") +
                   TccStep("seat") + Step("ship", "depends_on: \"hold\" depends_on: \"seat\"")));
  d.Start();
  EXPECT_THAT(d.Take(), UnorderedElementsAre("hold:a", "seat:a"));
  d.Answer("hold", Operation::kAction, kOk);
  d.Answer("seat", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("ship:a"));  // no Confirm yet: ship may still fail
  d.Answer("ship", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), UnorderedElementsAre("hold:confirm", "seat:confirm"));
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_RUNNING);
  EXPECT_EQ(d.step_state("hold"), saga::v1::STEP_STATE_CONFIRMING);
  // Confirming is past the point of no return.
  EXPECT_EQ(SagaMachine::Abort(d.instance(), "op", "late", kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  d.Answer("hold", Operation::kConfirm, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_RUNNING);
  // A Confirm that fails, even for good, is retried until it succeeds.
  for (int i = 0; i < 5; ++i) {
    d.Answer("seat", Operation::kConfirm, i % 2 == 0 ? kDown : kRefused);
    EXPECT_THAT(d.Take(), ElementsAre());
    d.Advance(absl::Seconds(1));
    EXPECT_THAT(d.Take(), ElementsAre("seat:confirm"));
  }
  d.Answer("seat", Operation::kConfirm, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(d.step_state("seat"), saga::v1::STEP_STATE_CONFIRMED);
  EXPECT_EQ(d.instance().saga.steps(d.Index("seat")).confirm_attempts(), 6u);
  EXPECT_EQ(d.events().back(), SagaEvent::TYPE_SAGA_COMPLETED);
}

TEST(SagaMachineTest, AFailedSagaCancelsItsTccStepsAndNeverConfirms) {
  Driver d(Compile("name: \"o\"\n" + TccStep("hold") + Step("ship", "depends_on: \"hold\"")));
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("hold:a"));
  d.Answer("hold", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("ship:a"));
  d.Answer("ship", Operation::kAction, kRefused);
  EXPECT_THAT(d.Take(), ElementsAre("hold:c"));  // the Cancel
  d.Answer("hold", Operation::kCompensation, kOk);
  EXPECT_THAT(d.Take(), ElementsAre());
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_EQ(d.instance().saga.steps(d.Index("hold")).confirm_attempts(), 0u);
}

TEST(SagaMachineTest, ResumeResendsAConfirmThatMayHaveBeenInFlight) {
  Driver d(Compile("name: \"o\"\n" + TccStep("hold")));
  d.Start();
  d.Answer("hold", Operation::kAction, kOk);
  EXPECT_THAT(d.Take(), ElementsAre("hold:a", "hold:confirm"));
  d.Apply(SagaMachine::Resume(d.instance(), kT0));
  EXPECT_THAT(d.Take(), ElementsAre("hold:confirm"));
  d.Answer("hold", Operation::kConfirm, kOk);
  EXPECT_EQ(d.state(), saga::v1::SAGA_STATE_COMPLETED);
}

TEST(SagaMachineTest, BackoffGrowsAndIsCapped) {
  EffectivePolicy p{absl::Milliseconds(100), absl::Seconds(1), 2.0, 0.0, 5};
  EXPECT_EQ(SagaMachine::Backoff(p, 1, 7), absl::Milliseconds(100));
  EXPECT_EQ(SagaMachine::Backoff(p, 2, 7), absl::Milliseconds(200));
  EXPECT_EQ(SagaMachine::Backoff(p, 10, 7), absl::Seconds(1));
  p.jitter = 0.5;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    absl::Duration b = SagaMachine::Backoff(p, 1, seed * 7919);
    EXPECT_GE(b, absl::Milliseconds(50));
    EXPECT_LE(b, absl::Milliseconds(150));
  }
}

}  // namespace
}  // namespace saga::coordinator
