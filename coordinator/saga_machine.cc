#include "coordinator/saga_machine.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_join.h"
#include "coordinator/step_outcome.h"
#include "sdk/base/strings.h"

namespace saga::coordinator {
namespace {

using saga::v1::SagaEvent;
using saga::v1::SagaState;
using saga::v1::StepState;

constexpr char kEngineActor[] = "sagad";

void SetTime(google::protobuf::Timestamp* t, absl::Time time) {
  const int64_t micros = absl::ToUnixMicros(time);
  t->set_seconds(micros / 1000000);
  t->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Applies one event of the rules; every change of state goes through here.
class Rules {
 public:
  Rules(SagaInstance& instance, absl::Time now, Transition& out)
      : in_(instance), def_(instance.compiled->definition), now_(now), out_(out) {}

  saga::v1::SagaStep& Step(int i) { return *in_.saga.mutable_steps(i); }
  const saga::v1::Step& Def(int i) const { return def_.steps(i); }
  int StepCount() const { return in_.saga.steps_size(); }
  SagaState State() const { return in_.saga.state(); }

  void Emit(SagaEvent::Type type, int step = -1, uint32_t attempt = 0,
            const std::string& error = "", const std::string& actor = kEngineActor,
            const std::string& reason = "") {
    SagaEvent& e = out_.events.emplace_back();
    e.set_saga_id(in_.saga.saga_id());
    e.set_type(type);
    SetTime(e.mutable_time(), now_);
    if (step >= 0) e.set_step(Def(step).name());
    e.set_attempt(attempt);
    e.set_error(error);
    e.set_actor(actor);
    e.set_reason(reason);
    SetTime(in_.saga.mutable_update_time(), now_);
  }

  void SetSagaState(SagaState state, SagaEvent::Type type, const std::string& error = "") {
    in_.saga.set_state(state);
    if (!error.empty()) in_.saga.set_error(error);
    if (SagaMachine::IsTerminal(state)) SetTime(in_.saga.mutable_end_time(), now_);
    Emit(type, -1, 0, error);
  }

  bool PastPointOfNoReturn() const {
    for (int i = 0; i < in_.saga.steps_size(); ++i) {
      const StepState s = in_.saga.steps(i).state();
      if (Def(i).kind() == saga::v1::STEP_KIND_PIVOT && s == saga::v1::STEP_STATE_SUCCEEDED) {
        return true;
      }
      if (Def(i).kind() == saga::v1::STEP_KIND_RETRIABLE && s != saga::v1::STEP_STATE_PENDING) {
        return true;
      }
      // Confirming TCC steps: every step succeeded, the reservations are being made final.
      if (s == saga::v1::STEP_STATE_CONFIRMING || s == saga::v1::STEP_STATE_CONFIRMED) return true;
    }
    return false;
  }

  void DispatchAction(int i) {
    saga::v1::SagaStep& step = Step(i);
    step.set_state(saga::v1::STEP_STATE_RUNNING);
    step.set_attempts(step.attempts() + 1);
    if (!step.has_start_time()) SetTime(step.mutable_start_time(), now_);
    in_.steps[i] = StepRuntime{.in_flight = true};
    out_.dispatches.push_back({i, Operation::kAction, step.attempts()});
    Emit(SagaEvent::TYPE_STEP_STARTED, i, step.attempts());
  }

  void DispatchCompensation(int i) {
    saga::v1::SagaStep& step = Step(i);
    step.set_state(saga::v1::STEP_STATE_COMPENSATING);
    step.set_compensation_attempts(step.compensation_attempts() + 1);
    in_.steps[i] = StepRuntime{.in_flight = true};
    out_.dispatches.push_back({i, Operation::kCompensation, step.compensation_attempts()});
    Emit(SagaEvent::TYPE_COMPENSATION_STARTED, i, step.compensation_attempts());
  }

  void DispatchConfirm(int i) {
    saga::v1::SagaStep& step = Step(i);
    step.set_state(saga::v1::STEP_STATE_CONFIRMING);
    step.set_confirm_attempts(step.confirm_attempts() + 1);
    in_.steps[i] = StepRuntime{.in_flight = true};
    out_.dispatches.push_back({i, Operation::kConfirm, step.confirm_attempts()});
    Emit(SagaEvent::TYPE_CONFIRM_STARTED, i, step.confirm_attempts());
  }

  void DispatchStatus(int i) {
    in_.steps[i] = StepRuntime{.in_flight = true};
    out_.dispatches.push_back({i, Operation::kStatus, Step(i).attempts()});
  }

  void ScheduleRetry(int i, uint32_t attempts_so_far, const std::string& error) {
    EffectivePolicy policy = SagaMachine::PolicyFor(def_, i);
    uint64_t seed = absl::HashOf(in_.saga.saga_id(), i, attempts_so_far);
    in_.steps[i].retry_at = now_ + SagaMachine::Backoff(policy, attempts_so_far, seed);
    Emit(SagaEvent::TYPE_STEP_RETRY_SCHEDULED, i, attempts_so_far, error);
  }

  void SucceedAction(int i) {
    Step(i).set_state(saga::v1::STEP_STATE_SUCCEEDED);
    SetTime(Step(i).mutable_end_time(), now_);
    Emit(SagaEvent::TYPE_STEP_SUCCEEDED, i, Step(i).attempts());
  }

  void MarkUnknown(int i, const std::string& error) {
    Step(i).set_state(saga::v1::STEP_STATE_UNKNOWN);
    in_.steps[i].retry_at = absl::InfiniteFuture();
    Emit(SagaEvent::TYPE_STEP_UNKNOWN, i, Step(i).attempts(), error);
  }

  // Switches to compensation: steps not started never will, steps waiting for a retry may
  // have run; steps in flight are waited for.
  void BeginCompensation(const std::string& error) {
    SetSagaState(saga::v1::SAGA_STATE_COMPENSATING, SagaEvent::TYPE_SAGA_COMPENSATING, error);
    for (int i = 0; i < StepCount(); ++i) {
      const StepState s = Step(i).state();
      if (s == saga::v1::STEP_STATE_PENDING) {
        Step(i).set_state(saga::v1::STEP_STATE_NOT_RUN);
      } else if (s == saga::v1::STEP_STATE_RUNNING && !in_.steps[i].in_flight) {
        MarkUnknown(i, "a retry was pending when the saga began compensating");
      }
    }
  }

  static bool NeedsCompensation(StepState s) {
    return s == saga::v1::STEP_STATE_SUCCEEDED || s == saga::v1::STEP_STATE_UNKNOWN;
  }
  static bool Settled(StepState s) {
    return s == saga::v1::STEP_STATE_FAILED || s == saga::v1::STEP_STATE_COMPENSATED ||
           s == saga::v1::STEP_STATE_NOT_RUN || s == saga::v1::STEP_STATE_SKIPPED ||
           s == saga::v1::STEP_STATE_PENDING;
  }

  // Starts whatever can start now and ends the saga when nothing is left. Once every action
  // succeeded, the TCC steps are confirmed before the saga completes.
  void Advance() {
    if (State() == saga::v1::SAGA_STATE_RUNNING) {
      bool all_done = true;
      bool confirming = false;
      for (int i = 0; i < StepCount(); ++i) {
        const StepState s = Step(i).state();
        if (s == saga::v1::STEP_STATE_PENDING) {
          bool ready = true;
          for (int d : in_.compiled->dependencies[i]) {
            const StepState ds = Step(d).state();
            ready = ready && (ds == saga::v1::STEP_STATE_SUCCEEDED ||
                              ds == saga::v1::STEP_STATE_SKIPPED);
          }
          if (ready) DispatchAction(i);
        }
        const StepState now = Step(i).state();
        confirming = confirming || now == saga::v1::STEP_STATE_CONFIRMING;
        all_done = all_done && (now == saga::v1::STEP_STATE_SUCCEEDED ||
                                now == saga::v1::STEP_STATE_SKIPPED ||
                                now == saga::v1::STEP_STATE_CONFIRMING ||
                                now == saga::v1::STEP_STATE_CONFIRMED);
      }
      if (!all_done) return;
      for (int i = 0; i < StepCount(); ++i) {
        if (Def(i).kind() == saga::v1::STEP_KIND_TCC &&
            Step(i).state() == saga::v1::STEP_STATE_SUCCEEDED) {
          DispatchConfirm(i);
          confirming = true;
        }
      }
      if (!confirming) SetSagaState(saga::v1::SAGA_STATE_COMPLETED, SagaEvent::TYPE_SAGA_COMPLETED);
      return;
    }
    if (State() != saga::v1::SAGA_STATE_COMPENSATING) return;
    for (bool changed = true; changed;) {
      changed = false;
      for (int i = StepCount() - 1; i >= 0; --i) {
        if (!NeedsCompensation(Step(i).state()) || in_.steps[i].in_flight) continue;
        bool dependents_settled = true;
        for (int d : in_.compiled->dependents[i]) {
          dependents_settled = dependents_settled && Settled(Step(d).state());
        }
        if (!dependents_settled) continue;
        if (Def(i).has_compensation()) {
          DispatchCompensation(i);
        } else {
          Step(i).set_state(saga::v1::STEP_STATE_COMPENSATED);  // nothing to undo
          Emit(SagaEvent::TYPE_COMPENSATION_SUCCEEDED, i);
          changed = true;
        }
      }
    }
    for (int i = 0; i < StepCount(); ++i) {
      if (!Settled(Step(i).state())) return;
    }
    SetSagaState(saga::v1::SAGA_STATE_COMPENSATED, SagaEvent::TYPE_SAGA_COMPENSATED);
  }

  void OnActionResult(int i, const absl::Status& status) {
    if (Step(i).state() != saga::v1::STEP_STATE_RUNNING) return;  // late or duplicate
    const uint32_t attempts = Step(i).attempts();
    const std::string error(status.message());
    const bool retriable = Def(i).kind() == saga::v1::STEP_KIND_RETRIABLE;
    switch (ClassifyOutcome(status)) {
      case StepOutcome::kSuccess:
        SucceedAction(i);
        break;
      case StepOutcome::kBusinessFailure:
        Step(i).set_last_error(error);
        if (State() == saga::v1::SAGA_STATE_RUNNING && retriable) {
          ScheduleRetry(i, attempts, error);  // after the point of no return: until it succeeds
          return;
        }
        Step(i).set_state(saga::v1::STEP_STATE_FAILED);
        SetTime(Step(i).mutable_end_time(), now_);
        Emit(SagaEvent::TYPE_STEP_FAILED, i, attempts, error);
        if (State() == saga::v1::SAGA_STATE_RUNNING) {
          BeginCompensation(saga::StrCat("step ", Def(i).name(), " failed: ", error));
        }
        break;
      case StepOutcome::kTransient:
      case StepOutcome::kUnknown:
        Step(i).set_last_error(error);
        if (State() != saga::v1::SAGA_STATE_RUNNING) {
          MarkUnknown(i, error);
          break;
        }
        if (retriable || attempts < SagaMachine::PolicyFor(def_, i).max_attempts) {
          ScheduleRetry(i, attempts, error);
          return;
        }
        if (Def(i).has_status()) {
          Emit(SagaEvent::TYPE_STEP_UNKNOWN, i, attempts,
               saga::StrCat(error, "; asking the status endpoint"));
          DispatchStatus(i);
          return;
        }
        MarkUnknown(i, error);
        BeginCompensation(saga::StrCat("step ", Def(i).name(), " gave no answer after ", attempts,
                                       " attempts: ", error));
        break;
    }
    Advance();
  }

  void OnStatusResult(int i, const absl::Status& status) {
    if (Step(i).state() != saga::v1::STEP_STATE_RUNNING) return;
    if (status.ok()) {
      SucceedAction(i);
    } else {
      MarkUnknown(i, saga::StrCat("status endpoint: ", status.message()));
      if (State() == saga::v1::SAGA_STATE_RUNNING) {
        BeginCompensation(saga::StrCat("step ", Def(i).name(), " may have run: ",
                                       Step(i).last_error()));
      }
    }
    Advance();
  }

  void OnCompensationResult(int i, const absl::Status& status) {
    if (Step(i).state() != saga::v1::STEP_STATE_COMPENSATING) return;
    const uint32_t attempts = Step(i).compensation_attempts();
    if (status.ok()) {
      Step(i).set_state(saga::v1::STEP_STATE_COMPENSATED);
      SetTime(Step(i).mutable_end_time(), now_);
      Emit(SagaEvent::TYPE_COMPENSATION_SUCCEEDED, i, attempts);
      Advance();
      return;
    }
    const std::string error(status.message());
    Step(i).set_last_error(error);
    Emit(SagaEvent::TYPE_COMPENSATION_FAILED, i, attempts, error);
    if (State() != saga::v1::SAGA_STATE_COMPENSATING) return;  // quarantined meanwhile
    if (attempts < SagaMachine::PolicyFor(def_, i).max_attempts) {
      ScheduleRetry(i, attempts, error);
      return;
    }
    SetSagaState(saga::v1::SAGA_STATE_QUARANTINED, SagaEvent::TYPE_SAGA_QUARANTINED,
                 saga::StrCat("compensation of step ", Def(i).name(), " failed ", attempts,
                              " times: ", error));
  }

  // A Confirm is retried until it succeeds: the saga decided to complete.
  void OnConfirmResult(int i, const absl::Status& status) {
    if (Step(i).state() != saga::v1::STEP_STATE_CONFIRMING) return;  // late or duplicate
    const uint32_t attempts = Step(i).confirm_attempts();
    if (status.ok()) {
      Step(i).set_state(saga::v1::STEP_STATE_CONFIRMED);
      SetTime(Step(i).mutable_end_time(), now_);
      Emit(SagaEvent::TYPE_CONFIRM_SUCCEEDED, i, attempts);
      Advance();
      return;
    }
    const std::string error(status.message());
    Step(i).set_last_error(error);
    Emit(SagaEvent::TYPE_CONFIRM_FAILED, i, attempts, error);
    ScheduleRetry(i, attempts, error);
  }

  void OnTimer() {
    for (int i = 0; i < StepCount(); ++i) {
      StepRuntime& rt = in_.steps[i];
      if (rt.in_flight || rt.retry_at > now_) continue;
      rt.retry_at = absl::InfiniteFuture();
      const StepState s = Step(i).state();
      if (State() == saga::v1::SAGA_STATE_RUNNING && s == saga::v1::STEP_STATE_RUNNING) {
        DispatchAction(i);
      } else if (State() == saga::v1::SAGA_STATE_RUNNING &&
                 s == saga::v1::STEP_STATE_CONFIRMING) {
        DispatchConfirm(i);
      } else if (State() == saga::v1::SAGA_STATE_COMPENSATING &&
                 s == saga::v1::STEP_STATE_COMPENSATING) {
        DispatchCompensation(i);
      }
    }
    if (now_ >= in_.deadline && State() == saga::v1::SAGA_STATE_RUNNING &&
        !PastPointOfNoReturn()) {
      Emit(SagaEvent::TYPE_SAGA_ABORTED, -1, 0, "saga deadline exceeded");
      BeginCompensation("saga deadline exceeded");
      Advance();
    }
  }

  absl::Status Abort(const std::string& actor, const std::string& reason) {
    if (SagaMachine::IsTerminal(State()) || State() == saga::v1::SAGA_STATE_QUARANTINED) {
      return absl::FailedPreconditionError(saga::StrCat(
          "saga ", in_.saga.saga_id(), " is ", saga::v1::SagaState_Name(State()),
          "; only a running saga can be aborted"));
    }
    if (State() == saga::v1::SAGA_STATE_COMPENSATING) return absl::OkStatus();
    if (PastPointOfNoReturn()) {
      return absl::FailedPreconditionError(saga::StrCat(
          "saga ", in_.saga.saga_id(), " passed its point of no return (its pivot succeeded); "
          "it can only complete"));
    }
    Emit(SagaEvent::TYPE_SAGA_ABORTED, -1, 0, "", actor, reason);
    BeginCompensation(saga::StrCat("aborted by ", actor, ": ", reason));
    Advance();
    return absl::OkStatus();
  }

  // Operator actions (AdminService): each is recorded with who did it and why.
  void RecordOperator(int step, const std::string& what, const std::string& actor,
                      const std::string& reason) {
    Emit(SagaEvent::TYPE_OPERATOR_ACTION, step, 0, what, actor, reason);
  }

  // Back to COMPENSATING from QUARANTINED or COMPENSATED.
  void Reopen() {
    in_.saga.clear_end_time();
    SetSagaState(saga::v1::SAGA_STATE_COMPENSATING, SagaEvent::TYPE_SAGA_COMPENSATING);
  }

  // A step whose compensation runs again: its action may have run, with a fresh retry budget.
  void Recompensate(int i) {
    Step(i).set_state(saga::v1::STEP_STATE_UNKNOWN);
    Step(i).set_compensation_attempts(0);
    in_.steps[i] = StepRuntime{};
  }

  static bool AwaitsCompensation(StepState s) {
    return s == saga::v1::STEP_STATE_SUCCEEDED || s == saga::v1::STEP_STATE_UNKNOWN ||
           s == saga::v1::STEP_STATE_COMPENSATING;
  }

  absl::StatusOr<std::vector<int>> ReplayPlan(const std::string& from_step) {
    if (State() != saga::v1::SAGA_STATE_COMPENSATED &&
        State() != saga::v1::SAGA_STATE_QUARANTINED) {
      return absl::FailedPreconditionError(saga::StrCat(
          "saga ", in_.saga.saga_id(), " is ", saga::v1::SagaState_Name(State()),
          "; compensations are replayed only for COMPENSATED or QUARANTINED sagas"));
    }
    std::vector<bool> chosen(StepCount(), false);
    int from = -1;
    if (!from_step.empty()) {
      for (int i = 0; i < StepCount(); ++i) {
        if (Def(i).name() == from_step) from = i;
      }
      if (from < 0) {
        return absl::NotFoundError(saga::StrCat("saga ", in_.saga.saga_id(), " has no step \"",
                                                from_step, "\""));
      }
    }
    auto ran = [&](int i) {
      const StepState s = Step(i).state();
      return AwaitsCompensation(s) || s == saga::v1::STEP_STATE_COMPENSATED;
    };
    for (int i = 0; i < StepCount(); ++i) {
      bool in_scope = from < 0 || i == from;
      if (from >= 0) {  // the steps `from` depends on, directly or not
        for (int d : in_.compiled->dependents[i]) in_scope = in_scope || d == from;
      }
      // Compensations still owed run too, whatever the scope.
      chosen[i] = Def(i).has_compensation() &&
                  ((in_scope && ran(i)) || AwaitsCompensation(Step(i).state()));
    }
    // Reverse dependency order: a step once every chosen step that depends on it is placed.
    std::vector<int> plan;
    std::vector<bool> placed(StepCount(), false);
    for (bool progress = true; progress;) {
      progress = false;
      for (int i = StepCount() - 1; i >= 0; --i) {
        if (!chosen[i] || placed[i]) continue;
        bool ready = true;
        for (int d : in_.compiled->dependents[i]) ready = ready && (!chosen[d] || placed[d]);
        if (!ready) continue;
        placed[i] = true;
        plan.push_back(i);
        progress = true;
      }
    }
    return plan;
  }

  absl::Status ReplayCompensation(const std::string& from_step, const std::string& actor,
                                  const std::string& reason) {
    auto plan = ReplayPlan(from_step);
    if (!plan.ok()) return plan.status();
    if (plan->empty()) {
      return absl::FailedPreconditionError(saga::StrCat(
          "saga ", in_.saga.saga_id(), " has no compensation to replay",
          from_step.empty() ? "" : saga::StrCat(" from step ", from_step)));
    }
    std::vector<std::string> names;
    for (int i : *plan) names.push_back(Def(i).name());
    RecordOperator(-1, saga::StrCat("replay compensations: ", absl::StrJoin(names, ", ")), actor,
                   reason);
    Reopen();
    for (int i : *plan) Recompensate(i);
    Advance();
    return absl::OkStatus();
  }

  absl::Status Retry(const std::string& actor, const std::string& reason) {
    if (State() != saga::v1::SAGA_STATE_QUARANTINED) {
      return absl::FailedPreconditionError(saga::StrCat(
          "saga ", in_.saga.saga_id(), " is ", saga::v1::SagaState_Name(State()),
          "; only a QUARANTINED saga is retried (ReplayCompensation runs compensations again)"));
    }
    RecordOperator(-1, "retry the failed compensations", actor, reason);
    Reopen();
    for (int i = 0; i < StepCount(); ++i) {
      if (Step(i).state() == saga::v1::STEP_STATE_COMPENSATING) Recompensate(i);
    }
    Advance();
    return absl::OkStatus();
  }

  absl::Status Skip(const std::string& step_name, const std::string& actor,
                    const std::string& reason) {
    int i = -1;
    for (int j = 0; j < StepCount(); ++j) {
      if (Def(j).name() == step_name) i = j;
    }
    if (i < 0) {
      return absl::NotFoundError(
          saga::StrCat("saga ", in_.saga.saga_id(), " has no step \"", step_name, "\""));
    }
    const StepState s = Step(i).state();
    const bool running = State() == saga::v1::SAGA_STATE_RUNNING &&
                         (s == saga::v1::STEP_STATE_RUNNING || s == saga::v1::STEP_STATE_CONFIRMING);
    const bool compensating = (State() == saga::v1::SAGA_STATE_COMPENSATING ||
                               State() == saga::v1::SAGA_STATE_QUARANTINED) &&
                              AwaitsCompensation(s);
    if (!running && !compensating) {
      return absl::FailedPreconditionError(saga::StrCat(
          "step ", step_name, " is ", saga::v1::StepState_Name(s), " in a ",
          saga::v1::SagaState_Name(State()), " saga; only a step being run, confirmed or "
          "compensated can be skipped"));
    }
    RecordOperator(i, saga::StrCat("skip ", running ? "the action" : "the compensation", " of ",
                                   step_name, " (", saga::v1::StepState_Name(s), ")"),
                   actor, reason);
    if (State() == saga::v1::SAGA_STATE_QUARANTINED) Reopen();
    Step(i).set_state(saga::v1::STEP_STATE_SKIPPED);
    SetTime(Step(i).mutable_end_time(), now_);
    in_.steps[i] = StepRuntime{};  // a late answer or a pending retry no longer counts
    Advance();
    return absl::OkStatus();
  }

  void Resume() {
    for (int i = 0; i < StepCount(); ++i) {
      in_.steps[i] = StepRuntime{};
      const StepState s = Step(i).state();
      if (State() == saga::v1::SAGA_STATE_RUNNING && s == saga::v1::STEP_STATE_RUNNING) {
        DispatchAction(i);
      } else if (State() == saga::v1::SAGA_STATE_RUNNING &&
                 s == saga::v1::STEP_STATE_CONFIRMING) {
        DispatchConfirm(i);
      } else if (State() == saga::v1::SAGA_STATE_COMPENSATING &&
                 s == saga::v1::STEP_STATE_RUNNING) {
        MarkUnknown(i, "its action was in flight when the previous owner stopped");
      } else if (State() == saga::v1::SAGA_STATE_COMPENSATING &&
                 s == saga::v1::STEP_STATE_COMPENSATING) {
        DispatchCompensation(i);
      }
    }
    Advance();
  }

 private:
  SagaInstance& in_;
  const saga::v1::SagaDefinition& def_;
  const absl::Time now_;
  Transition& out_;
};

}  // namespace

std::shared_ptr<const CompiledDefinition> CompiledDefinition::Compile(
    saga::v1::SagaDefinition definition) {
  auto compiled = std::make_shared<CompiledDefinition>();
  const int n = definition.steps_size();
  absl::flat_hash_map<std::string, int> index;
  for (int i = 0; i < n; ++i) index[definition.steps(i).name()] = i;
  compiled->dependencies.resize(n);
  compiled->dependents.resize(n);
  for (int i = 0; i < n; ++i) {
    for (const std::string& dep : definition.steps(i).depends_on()) {
      compiled->dependencies[i].push_back(index.at(dep));
    }
  }
  // dependents[i]: every step with a path to i. The graph is acyclic (validated).
  std::vector<std::vector<bool>> reaches(n, std::vector<bool>(n, false));
  std::function<void(int, int)> mark = [&](int from, int to) {
    for (int d : compiled->dependencies[to]) {
      if (!reaches[from][d]) {
        reaches[from][d] = true;
        mark(from, d);
      }
    }
  };
  for (int i = 0; i < n; ++i) mark(i, i);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (reaches[j][i]) compiled->dependents[i].push_back(j);
    }
  }
  compiled->definition = std::move(definition);
  return compiled;
}

SagaInstance SagaMachine::NewInstance(std::shared_ptr<const CompiledDefinition> compiled,
                                      std::string saga_id, absl::Time now) {
  SagaInstance instance;
  const saga::v1::SagaDefinition& def = compiled->definition;
  instance.saga.set_saga_id(std::move(saga_id));
  instance.saga.set_definition_name(def.name());
  instance.saga.set_definition_version(def.version());
  instance.saga.set_state(saga::v1::SAGA_STATE_RUNNING);
  SetTime(instance.saga.mutable_create_time(), now);
  SetTime(instance.saga.mutable_update_time(), now);
  for (const auto& step : def.steps()) {
    auto* s = instance.saga.add_steps();
    s->set_name(step.name());
    s->set_state(saga::v1::STEP_STATE_PENDING);
  }
  instance.steps.resize(def.steps_size());
  if (def.has_deadline()) instance.deadline = now + FromProto(def.deadline());
  instance.compiled = std::move(compiled);
  return instance;
}

Transition SagaMachine::Start(SagaInstance& instance, absl::Time now) {
  Transition out;
  Rules rules(instance, now, out);
  rules.Emit(SagaEvent::TYPE_SAGA_STARTED);
  rules.Advance();
  return out;
}

Transition SagaMachine::OnResult(SagaInstance& instance, int step, Operation operation,
                                 const absl::Status& status, absl::Time now) {
  Transition out;
  if (step < 0 || step >= instance.saga.steps_size()) return out;
  instance.steps[step].in_flight = false;
  Rules rules(instance, now, out);
  switch (operation) {
    case Operation::kAction:
      rules.OnActionResult(step, status);
      break;
    case Operation::kStatus:
      rules.OnStatusResult(step, status);
      break;
    case Operation::kCompensation:
      rules.OnCompensationResult(step, status);
      break;
    case Operation::kConfirm:
      rules.OnConfirmResult(step, status);
      break;
    case Operation::kCancel:
      break;  // TCC transactions' calls (coordinator/tcc/), not a saga's
  }
  return out;
}

Transition SagaMachine::OnTimer(SagaInstance& instance, absl::Time now) {
  Transition out;
  Rules(instance, now, out).OnTimer();
  return out;
}

absl::StatusOr<Transition> SagaMachine::Abort(SagaInstance& instance, const std::string& actor,
                                              const std::string& reason, absl::Time now) {
  Transition out;
  absl::Status status = Rules(instance, now, out).Abort(actor, reason);
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<int>> SagaMachine::ReplayPlan(SagaInstance& instance,
                                                         const std::string& from_step) {
  Transition unused;
  return Rules(instance, absl::InfinitePast(), unused).ReplayPlan(from_step);
}

absl::StatusOr<Transition> SagaMachine::ReplayCompensation(SagaInstance& instance,
                                                           const std::string& from_step,
                                                           const std::string& actor,
                                                           const std::string& reason,
                                                           absl::Time now) {
  Transition out;
  absl::Status status = Rules(instance, now, out).ReplayCompensation(from_step, actor, reason);
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<Transition> SagaMachine::Retry(SagaInstance& instance, const std::string& actor,
                                              const std::string& reason, absl::Time now) {
  Transition out;
  absl::Status status = Rules(instance, now, out).Retry(actor, reason);
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<Transition> SagaMachine::SkipStep(SagaInstance& instance, const std::string& step,
                                                 const std::string& actor,
                                                 const std::string& reason, absl::Time now) {
  Transition out;
  absl::Status status = Rules(instance, now, out).Skip(step, actor, reason);
  if (!status.ok()) return status;
  return out;
}

Transition SagaMachine::Resume(SagaInstance& instance, absl::Time now) {
  Transition out;
  instance.steps.assign(instance.saga.steps_size(), StepRuntime{});
  Rules(instance, now, out).Resume();
  return out;
}

absl::Time SagaMachine::NextWake(const SagaInstance& instance) {
  absl::Time wake = absl::InfiniteFuture();
  for (const StepRuntime& rt : instance.steps) {
    if (!rt.in_flight) wake = std::min(wake, rt.retry_at);
  }
  if (instance.saga.state() == saga::v1::SAGA_STATE_RUNNING) wake = std::min(wake, instance.deadline);
  return wake;
}

bool SagaMachine::IsTerminal(saga::v1::SagaState state) {
  return state == saga::v1::SAGA_STATE_COMPLETED || state == saga::v1::SAGA_STATE_COMPENSATED;
}

EffectivePolicy SagaMachine::PolicyFor(const saga::v1::SagaDefinition& definition, int step) {
  EffectivePolicy policy{absl::Milliseconds(100), absl::Seconds(30), 2.0, 0.2, 5};
  auto apply = [&](const saga::v1::RetryPolicy& p) {
    if (p.has_initial_backoff()) policy.initial_backoff = FromProto(p.initial_backoff());
    if (p.has_max_backoff()) policy.max_backoff = FromProto(p.max_backoff());
    if (p.backoff_multiplier() != 0) policy.multiplier = p.backoff_multiplier();
    if (p.jitter() != 0) policy.jitter = p.jitter();
    if (p.max_attempts() != 0) policy.max_attempts = p.max_attempts();
  };
  if (definition.has_default_retry_policy()) apply(definition.default_retry_policy());
  if (definition.steps(step).has_retry_policy()) apply(definition.steps(step).retry_policy());
  return policy;
}

absl::Duration SagaMachine::TimeoutFor(const saga::v1::SagaDefinition& definition, int step) {
  if (definition.steps(step).has_timeout()) return FromProto(definition.steps(step).timeout());
  if (definition.has_default_step_timeout()) return FromProto(definition.default_step_timeout());
  return absl::Seconds(10);
}

absl::Duration SagaMachine::Backoff(const EffectivePolicy& policy, uint32_t attempt,
                                    uint64_t seed) {
  double delay = absl::ToDoubleSeconds(policy.initial_backoff) *
                 std::pow(policy.multiplier, static_cast<double>(attempt > 0 ? attempt - 1 : 0));
  delay = std::min(delay, absl::ToDoubleSeconds(policy.max_backoff));
  // Deterministic jitter in [-jitter, +jitter] from the seed.
  double unit = static_cast<double>(seed % 10001) / 10000.0;  // 0..1
  delay *= 1.0 + policy.jitter * (2 * unit - 1);
  return absl::Seconds(std::max(0.0, delay));
}

}  // namespace saga::coordinator
