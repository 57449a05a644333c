// SagaMachine: the rules of a saga, as pure functions over one SagaInstance. Given an event (the
// saga starts, a participant answers, time passes, an operator aborts), it changes the instance
// and returns the Transition: the history events to make durable and the calls to make once
// they are. It does no I/O and reads no clock, so every rule is unit-tested directly.
//
// The rules (DESIGN.md, saga model):
//   - Steps start when every step they depend on succeeded; independent steps run together.
//   - A business failure, or an action that exhausted its retries, before the point of no
//     return compensates every step that ran or may have run, dependents before what they
//     depend on. A step in flight is waited for first.
//   - The point of no return is the pivot's success (or, without a pivot, the start of the
//     first retriable step). After it, steps are retried until they succeed.
//   - A compensation that exhausts its retries quarantines the saga; nothing is dropped.
//   - TCC steps: the action is the Try and the compensation the Cancel; once every action
//     succeeded, each TCC step's Confirm runs, retried until it succeeds, and only then does
//     the saga complete. A saga that compensates never confirms.
//   - When an action's outcome stays unknown and the step has a status endpoint, the endpoint
//     decides: OK means the action ran, anything else that it may have run.
// Not thread-safe: the engine serializes events of one saga.
#ifndef SAGA_COORDINATOR_SAGA_MACHINE_H_
#define SAGA_COORDINATOR_SAGA_MACHINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "saga/v1/definition.pb.h"
#include "saga/v1/saga.pb.h"

namespace saga::coordinator {

// kConfirm is also the Confirm of a saga's TCC step; kCancel is only a TCC transaction's
// (coordinator/tcc/): a TCC step's Cancel is its compensation.
enum class Operation { kAction, kCompensation, kStatus, kConfirm, kCancel };

// A definition prepared for execution: the dependency graph by step index.
struct CompiledDefinition {
  saga::v1::SagaDefinition definition;
  std::vector<std::vector<int>> dependencies;  // direct: the steps step i waits for
  std::vector<std::vector<int>> dependents;    // transitive: the steps that wait for step i

  // `definition` must be valid (ValidateDefinition).
  static std::shared_ptr<const CompiledDefinition> Compile(saga::v1::SagaDefinition definition);
};

// Runtime facts of a step that are not persisted: rebuilt as "nothing in flight" on recovery.
struct StepRuntime {
  bool in_flight = false;                          // a call is outstanding
  absl::Time retry_at = absl::InfiniteFuture();    // when a scheduled retry is due
};

// One saga in memory: its persisted snapshot and what only the running engine knows.
struct SagaInstance {
  std::shared_ptr<const CompiledDefinition> compiled;
  saga::v1::Saga saga;              // the persisted snapshot (state, steps, times, error)
  std::vector<StepRuntime> steps;   // parallel to saga.steps()
  absl::Time deadline = absl::InfiniteFuture();
};

// A call to make once the transition that decided it is durable.
struct Dispatch {
  int step = 0;
  Operation operation = Operation::kAction;
  uint32_t attempt = 0;
};

struct Transition {
  std::vector<saga::v1::SagaEvent> events;  // history to append, in order
  std::vector<Dispatch> dispatches;
  bool empty() const { return events.empty() && dispatches.empty(); }
};

// Retry policy after defaults are applied (definition default, then step).
struct EffectivePolicy {
  absl::Duration initial_backoff;
  absl::Duration max_backoff;
  double multiplier;
  double jitter;
  uint32_t max_attempts;
};

class SagaMachine {
 public:
  // A new instance of `definition` in state RUNNING with every step PENDING (no events yet).
  static SagaInstance NewInstance(std::shared_ptr<const CompiledDefinition> compiled,
                                  std::string saga_id, absl::Time now);

  // Records SAGA_STARTED and starts the steps with no dependencies.
  static Transition Start(SagaInstance& instance, absl::Time now);

  // A participant answered (`status` is its gRPC status; a timeout is DEADLINE_EXCEEDED).
  static Transition OnResult(SagaInstance& instance, int step, Operation operation,
                             const absl::Status& status, absl::Time now);

  // Time passed: due retries and the saga deadline.
  static Transition OnTimer(SagaInstance& instance, absl::Time now);

  // An operator or caller aborts. FAILED_PRECONDITION when the saga is terminal or past its
  // point of no return.
  static absl::StatusOr<Transition> Abort(SagaInstance& instance, const std::string& actor,
                                          const std::string& reason, absl::Time now);

  // Operator actions (AdminService). Each records TYPE_OPERATOR_ACTION with `actor` and
  // `reason`, and keeps the same idempotency keys, so a participant's barrier applies each
  // compensation at most once however often it is replayed.
  //
  // The compensations a replay runs, in order (reverse dependency order; steps with no order
  // between them run together): `from_step` and the steps it depends on (every step when
  // empty) whose action ran or may have run, plus any compensation still owed, of steps that
  // have a compensation. FAILED_PRECONDITION unless the saga is COMPENSATED or QUARANTINED,
  // NOT_FOUND for an unknown step. Changes nothing.
  static absl::StatusOr<std::vector<int>> ReplayPlan(SagaInstance& instance,
                                                     const std::string& from_step);
  // Runs that plan: the saga is COMPENSATING again, each planned step's compensation with a
  // fresh retry budget.
  static absl::StatusOr<Transition> ReplayCompensation(SagaInstance& instance,
                                                       const std::string& from_step,
                                                       const std::string& actor,
                                                       const std::string& reason, absl::Time now);
  // A QUARANTINED saga compensates again from where it stopped.
  static absl::StatusOr<Transition> Retry(SagaInstance& instance, const std::string& actor,
                                          const std::string& reason, absl::Time now);
  // Marks a step SKIPPED: its action (or Confirm) in a running saga, or its compensation in a
  // compensating or quarantined one, counts as done, and the saga goes on.
  static absl::StatusOr<Transition> SkipStep(SagaInstance& instance, const std::string& step,
                                             const std::string& actor, const std::string& reason,
                                             absl::Time now);

  // After recovery: re-sends every call that may have been in flight when the previous owner
  // stopped (same idempotency keys, so participants apply each once).
  static Transition Resume(SagaInstance& instance, absl::Time now);

  // The earliest time OnTimer has something to do; InfiniteFuture when nothing.
  static absl::Time NextWake(const SagaInstance& instance);

  static bool IsTerminal(saga::v1::SagaState state);
  static EffectivePolicy PolicyFor(const saga::v1::SagaDefinition& definition, int step);
  static absl::Duration TimeoutFor(const saga::v1::SagaDefinition& definition, int step);
  // The delay before retry number `attempt` (1 = the first retry), jitter derived from `seed`.
  static absl::Duration Backoff(const EffectivePolicy& policy, uint32_t attempt, uint64_t seed);
};

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_SAGA_MACHINE_H_
