// SagaEngine runs sagas: it holds the sagas this instance drives in memory, applies the
// SagaMachine rules to every event, makes the resulting transitions durable through the
// SagaStore in batches (group commit: one transaction for the transitions of many sagas), and
// only then calls the participants, asynchronously, through the ParticipantInvoker.
//
// Threads it owns:
//   committers   each takes the sagas changed since they were last taken (none that another
//                committer is committing), commits them in one batch, then sends their calls
//                and answers their callers (one committer by default: see EngineOptions);
//   timer        fires retries, deadlines and the deadlines of callers waiting for an end;
//   maintenance  renews this instance's leases and takes over sagas whose lease expired
//                (another instance died, or this one restarted).
// Participants' answers arrive on the invoker's threads and only take the lock briefly.
//
// Nothing is acknowledged before it is durable: StartSaga answers after the commit that created
// the saga; calls are sent after the commit that decided them. A batch that fails to commit is
// dropped from memory (its callers get the error) and its sagas come back through recovery.
// Thread-safe.
#ifndef SAGA_COORDINATOR_SAGA_ENGINE_H_
#define SAGA_COORDINATOR_SAGA_ENGINE_H_

#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/definition_registry.h"
#include "coordinator/participant_invoker.h"
#include "coordinator/saga_machine.h"
#include "coordinator/saga_metrics.h"
#include "coordinator/saga_store.h"
#include "saga/v1/saga_service.pb.h"
#include "sdk/base/clock.h"

namespace saga::coordinator {

struct EngineOptions {
  std::string instance_id;                        // unique per process
  absl::Duration lease_ttl = absl::Seconds(10);   // a dead instance's sagas resume after this
  absl::Duration recovery_interval = absl::Seconds(1);
  int max_batch = 2000;                           // sagas per commit at most
  // Commits in flight at once. A saga is in at most one of them: its next transition waits
  // for the commit that carries its previous one. Two were slower than one on 2 cores
  // (docs/BENCHMARKS.md), so one is the default.
  int committers = 1;
};

struct StartResult {
  saga::v1::Saga saga;
  bool created = false;  // false: the idempotency key named an existing saga
};

class SagaEngine {
 public:
  using StartCallback = std::function<void(absl::StatusOr<StartResult>)>;
  using SagaCallback = std::function<void(absl::StatusOr<saga::v1::Saga>)>;
  using EventCallback = std::function<void(const saga::v1::SagaEvent&)>;

  // Every pointer must outlive the engine.
  SagaEngine(SagaStore* store, DefinitionRegistry* registry, ParticipantInvoker* invoker,
             Clock* clock, EngineOptions options);
  ~SagaEngine();

  SagaEngine(const SagaEngine&) = delete;
  SagaEngine& operator=(const SagaEngine&) = delete;

  void Start();
  // Stops taking work, commits what is pending, joins the threads. Idempotent.
  void Stop();

  // Whether StartSaga for this definition would run without reading the store (its definition
  // is cached), so a caller may run it on a thread that must not block.
  bool CanStartWithoutBlocking(const std::string& name, uint32_t version);

  // Starts a saga (the request is validated already). Blocks briefly to read the definition
  // unless CanStartWithoutBlocking;
  // `done` runs once the saga is durable, or with the error (NOT_FOUND for an unknown
  // definition, INVALID_ARGUMENT for a payload of no step, FAILED_PRECONDITION for steps this
  // build cannot run). `traceparent` may be empty.
  void StartSaga(const saga::v1::StartSagaRequest& request, const std::string& traceparent,
                 StartCallback done);

  // Runs `done` with the saga once it is terminal (or quarantined), or with its state at
  // `deadline`, whichever comes first.
  void AwaitEnd(const std::string& saga_id, absl::Time deadline, SagaCallback done);

  // Compensates a running saga, taking it over from another instance if needed. `done` runs
  // once the decision is durable.
  void Abort(const std::string& saga_id, const std::string& actor, const std::string& reason,
             SagaCallback done);

  // Applies an operator's action (one of SagaMachine's) to a saga, taking it over from another
  // instance if needed, and from QUARANTINED or COMPENSATED too when `ended_too`. `done` runs
  // with the saga once the action is durable, or with the action's error.
  using SagaOperation = std::function<absl::StatusOr<Transition>(SagaInstance&, absl::Time)>;
  void Operate(const std::string& saga_id, bool ended_too, SagaOperation operation,
               SagaCallback done);

  // The names of the steps a compensation replay of `saga_id` from `from_step` would run, in
  // order (SagaMachine::ReplayPlan). Changes nothing.
  absl::StatusOr<std::vector<std::string>> ReplayPlan(const std::string& saga_id,
                                                      const std::string& from_step);

  // Calls `on_event` with each event of `saga_id` committed from now on; returns a handle for
  // Unsubscribe, after which it is never called. Events of sagas driven by other instances are
  // not seen here.
  int Subscribe(const std::string& saga_id, EventCallback on_event);
  void Unsubscribe(int handle);

  // Sagas driven here now.
  size_t live_sagas();

  // Counters since start, for /metrics.
  struct Stats {
    uint64_t commits = 0;             // batches committed
    uint64_t saga_writes = 0;         // saga transitions in them
    uint64_t commit_micros = 0;       // time spent committing
    uint64_t commit_failures = 0;
    uint64_t calls_sent = 0;          // participant calls
  };
  Stats stats();
  // Counters and histograms by definition, for /metrics.
  const SagaMetrics& metrics() const { return metrics_; }

 private:
  struct Live;
  struct Waiter {
    absl::Time deadline;
    SagaCallback done;
  };
  struct PreparedCall {
    std::string saga_id;
    std::string definition;  // for metrics
    int step;
    Invocation invocation;
  };

  void RunCommitter();
  void RunTimer();
  void RunMaintenance();

  // Records `t` for `live` (sequences, pending calls) and marks it for the next commit.
  void Apply(Live& live, Transition t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `live` for a commit (after the one carrying it now, if any).
  void MarkDirty(Live& live) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnResult(const std::string& saga_id, int step, Operation operation,
                const absl::Status& status);
  void Send(const PreparedCall& call);
  absl::StatusOr<std::shared_ptr<const CompiledDefinition>> Compiled(const std::string& name,
                                                                     uint32_t version);
  void Adopt(StoredSaga stored, std::shared_ptr<const CompiledDefinition> compiled,
             SagaOperation operation, SagaCallback op_done);
  void Recover();
  void DropAll(const absl::Status& why);

  SagaStore* const store_;
  DefinitionRegistry* const registry_;
  ParticipantInvoker* const invoker_;
  Clock* const clock_;
  const EngineOptions options_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  SagaMetrics metrics_;
  absl::flat_hash_map<std::string, std::unique_ptr<Live>> live_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> dirty_ ABSL_GUARDED_BY(mu_);
  // Retries and deadlines: (when, saga id); stale entries are skipped when popped.
  std::priority_queue<std::pair<absl::Time, std::string>,
                      std::vector<std::pair<absl::Time, std::string>>, std::greater<>>
      timers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
  // Held while subscribers are called, so none is called after Unsubscribe returns.
  absl::Mutex subscribers_mu_ ABSL_ACQUIRED_AFTER(mu_);
  absl::flat_hash_map<int, std::pair<std::string, EventCallback>> subscribers_
      ABSL_GUARDED_BY(subscribers_mu_);
  int next_subscriber_ ABSL_GUARDED_BY(subscribers_mu_) = 1;
  absl::flat_hash_map<std::pair<std::string, uint32_t>, std::shared_ptr<const CompiledDefinition>>
      compiled_ ABSL_GUARDED_BY(mu_);
  absl::Time lease_valid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Participants' answers reach the engine through this gate; Stop closes it, so an answer that
  // arrives after the engine is gone (calls outlive it) is dropped instead of touching it.
  struct AnswerGate {
    absl::Mutex mu;
    SagaEngine* engine ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<AnswerGate> gate_;

  absl::Mutex stop_mu_;  // wakes the maintenance thread early on Stop
  std::vector<std::thread> committers_;
  std::thread timer_;
  std::thread maintenance_;
};

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_SAGA_ENGINE_H_
