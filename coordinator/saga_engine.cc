#include "coordinator/saga_engine.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "coordinator/definition_validator.h"
#include "coordinator/kafka_command.h"
#include "sdk/base/failpoint.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/base/traceparent.h"
#include "sdk/base/uuid.h"

namespace saga::coordinator {

// A saga driven here, and what its next commit carries.
struct SagaEngine::Live {
  SagaInstance instance;
  int64_t epoch = 1;
  uint64_t history_seq = 0;
  std::shared_ptr<const saga::v1::StartSagaRequest> request;
  std::string traceparent;
  bool create = false;      // not in the store yet
  bool dirty = false;       // has something for a commit
  bool committing = false;  // in a commit in flight
  absl::Time armed = absl::InfiniteFuture();  // the earliest timer entry queued for it
  std::vector<saga::v1::SagaEvent> events;
  std::vector<Dispatch> dispatches;
  StartCallback start_done;
  std::vector<SagaCallback> op_done;
};

namespace {

bool Ended(saga::v1::SagaState state) {
  return SagaMachine::IsTerminal(state) || state == saga::v1::SAGA_STATE_QUARANTINED;
}

}  // namespace

const char* OperationName(Operation operation) {
  switch (operation) {
    case Operation::kAction:
      return "action";
    case Operation::kCompensation:
      return "compensation";
    case Operation::kStatus:
      return "status";
    case Operation::kConfirm:
      return "confirm";
    case Operation::kCancel:
      return "cancel";
  }
  return "action";
}

SagaEngine::SagaEngine(SagaStore* store, DefinitionRegistry* registry,
                       ParticipantInvoker* invoker, Clock* clock, EngineOptions options)
    : store_(store), registry_(registry), invoker_(invoker), clock_(clock),
      options_(std::move(options)), gate_(std::make_shared<AnswerGate>()) {
  absl::MutexLock lock(&gate_->mu);
  gate_->engine = this;
}

SagaEngine::~SagaEngine() { Stop(); }

void SagaEngine::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return;
    started_ = true;
  }
  for (int i = 0; i < std::max(1, options_.committers); ++i) {
    committers_.emplace_back([this] { RunCommitter(); });
  }
  timer_ = std::thread([this] { RunTimer(); });
  maintenance_ = std::thread([this] { RunMaintenance(); });
}

void SagaEngine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  {
    absl::MutexLock lock(&stop_mu_);  // wakes the maintenance thread
  }
  {
    absl::MutexLock lock(&gate_->mu);  // waits for answers being applied now
    gate_->engine = nullptr;
  }
  for (std::thread& t : committers_) t.join();
  timer_.join();
  maintenance_.join();
  // Sagas still in memory keep their leases until they expire; another instance (or this
  // one, restarted) resumes them.
  DropAll(absl::UnavailableError("sagad is shutting down"));
}

SagaEngine::Stats SagaEngine::stats() {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool SagaEngine::CanStartWithoutBlocking(const std::string& name, uint32_t version) {
  if (version == 0) return registry_->LatestIsCached(name);
  absl::MutexLock lock(&mu_);
  return compiled_.contains(std::make_pair(name, version));
}

size_t SagaEngine::live_sagas() {
  absl::MutexLock lock(&mu_);
  return live_.size();
}

absl::StatusOr<std::shared_ptr<const CompiledDefinition>> SagaEngine::Compiled(
    const std::string& name, uint32_t version) {
  {
    absl::MutexLock lock(&mu_);
    if (version != 0) {
      auto it = compiled_.find(std::make_pair(name, version));
      if (it != compiled_.end()) return it->second;
    }
  }
  auto definition = registry_->Get(name, version);
  if (!definition.ok()) return definition.status();
  const auto key = std::make_pair(name, (*definition)->version());
  {
    absl::MutexLock lock(&mu_);
    auto it = compiled_.find(key);
    if (it != compiled_.end()) return it->second;
  }
  auto compiled = CompiledDefinition::Compile(**definition);
  absl::MutexLock lock(&mu_);
  return compiled_.try_emplace(key, std::move(compiled)).first->second;
}

void SagaEngine::StartSaga(const saga::v1::StartSagaRequest& request,
                           const std::string& traceparent, StartCallback done) {
  // A second start with the same idempotency key is found at commit (the key is unique in the
  // store), so the common case costs no extra round trip.
  auto compiled = Compiled(request.definition_name(), request.definition_version());
  if (!compiled.ok()) return done(compiled.status());
  const saga::v1::SagaDefinition& definition = (*compiled)->definition;
  for (const auto& [step, payload] : request.payloads()) {
    bool known = false;
    for (const auto& s : definition.steps()) known = known || s.name() == step;
    if (!known) {
      return done(absl::InvalidArgumentError(saga::StrCat(
          "payloads[\"", step, "\"]: definition ", definition.name(), " has no step named \"",
          step, "\"")));
    }
  }
  auto live = std::make_unique<Live>();
  const absl::Time now = clock_->Now();
  live->instance = SagaMachine::NewInstance(*compiled, NewUuid(), now);
  live->instance.saga.set_idempotency_key(request.idempotency_key());
  *live->instance.saga.mutable_labels() = request.labels();
  live->request = std::make_shared<const saga::v1::StartSagaRequest>(request);
  live->traceparent = traceparent.empty() ? NewTraceparent() : traceparent;
  live->instance.saga.set_traceparent(live->traceparent);
  live->create = true;
  live->start_done = std::move(done);
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    StartCallback cb = std::move(live->start_done);
    mu_.Unlock();
    cb(absl::UnavailableError("sagad is shutting down; retry on another instance"));
    mu_.Lock();
    return;
  }
  Live& ref = *live;
  const std::string id = ref.instance.saga.saga_id();
  live_.emplace(id, std::move(live));
  Apply(ref, SagaMachine::Start(ref.instance, now));
}

void SagaEngine::Apply(Live& live, Transition t) {
  for (saga::v1::SagaEvent& e : t.events) {
    e.set_sequence(++live.history_seq);
    live.events.push_back(std::move(e));
  }
  for (const Dispatch& d : t.dispatches) live.dispatches.push_back(d);
  if (live.create || !live.events.empty() || !live.dispatches.empty()) MarkDirty(live);
  // One timer entry per saga at a time: a new one only when it is due earlier.
  absl::Time wake = SagaMachine::NextWake(live.instance);
  if (wake < live.armed) {
    live.armed = wake;
    timers_.emplace(wake, live.instance.saga.saga_id());
  }
}

void SagaEngine::MarkDirty(Live& live) {
  if (live.dirty) return;
  live.dirty = true;
  // A saga in a commit in flight is queued when that commit ends (see RunCommitter).
  if (!live.committing) dirty_.push_back(live.instance.saga.saga_id());
}

void SagaEngine::OnResult(const std::string& saga_id, int step, Operation operation,
                          const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(saga_id);
  if (it == live_.end()) return;  // dropped or ended meanwhile: a late answer
  Live& live = *it->second;
  Apply(live, SagaMachine::OnResult(live.instance, step, operation, status, clock_->Now()));
}

void SagaEngine::Send(const PreparedCall& call) {
  Operation op = call.invocation.operation;
  std::string saga_id = call.saga_id;
  int step = call.step;
  invoker_->Invoke(call.invocation, [gate = gate_, saga_id, step, op, definition = call.definition,
                                     sent = absl::Now()](absl::Status status) {
    absl::MutexLock lock(&gate->mu);
    if (gate->engine == nullptr) return;
    gate->engine->metrics_.OnCall(definition, OperationName(op), absl::Now() - sent, status);
    gate->engine->OnResult(saga_id, step, op, status);
  });
}

void SagaEngine::RunCommitter() {
  for (;;) {
    std::vector<SagaWrite> writes;
    std::vector<PreparedCall> calls;
    absl::flat_hash_map<std::string, StartCallback> start_done;
    absl::flat_hash_map<std::string, std::vector<SagaCallback>> op_done;
    std::vector<saga::v1::SagaEvent> committed_events;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SagaEngine* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->dirty_.empty();
          },
          this));
      if (dirty_.empty()) return;  // stopping, and everything is committed
      const size_t take = std::min<size_t>(dirty_.size(), options_.max_batch);
      std::vector<std::string> ids(dirty_.begin(), dirty_.begin() + take);
      dirty_.erase(dirty_.begin(), dirty_.begin() + take);
      for (const std::string& id : ids) {
        auto it = live_.find(id);
        if (it == live_.end()) continue;
        Live& live = *it->second;
        live.dirty = false;
        live.committing = true;
        SagaWrite& w = writes.emplace_back();
        w.snapshot = live.instance.saga;
        w.events = std::move(live.events);
        live.events.clear();
        w.lease_epoch = live.epoch;
        w.create = live.create;
        if (live.create) {
          w.request = live.request->SerializeAsString();
          w.deadline = live.instance.deadline;
          live.create = false;
        }
        for (const saga::v1::SagaEvent& e : w.events) committed_events.push_back(e);
        const saga::v1::SagaDefinition& def = live.instance.compiled->definition;
        for (const Dispatch& d : live.dispatches) {
          const saga::v1::Step& step = def.steps(d.step);
          PreparedCall& call = calls.emplace_back();
          call.saga_id = id;
          call.definition = def.name();
          call.step = d.step;
          Invocation& inv = call.invocation;
          inv.saga_id = id;
          inv.step = step.name();
          inv.operation = d.operation;
          inv.attempt = d.attempt;
          inv.idempotency_key = saga::StrCat(id, "/", step.name(), "/", OperationName(d.operation));
          inv.lease_epoch = live.epoch;
          inv.traceparent = live.traceparent;
          inv.endpoint = d.operation == Operation::kAction         ? step.action()
                         : d.operation == Operation::kCompensation ? step.compensation()
                         : d.operation == Operation::kConfirm      ? step.confirm()
                                                                    : step.status();
          auto payload = live.request->payloads().find(step.name());
          if (payload != live.request->payloads().end()) inv.payload = payload->second;
          inv.timeout = SagaMachine::TimeoutFor(def, d.step);
          if (inv.endpoint.has_kafka()) {
            // The command commits with this transition: dispatched exactly when it is durable.
            w.messages.push_back(KafkaCommand(inv));
            inv.command_committed = true;
          }
        }
        live.dispatches.clear();
        if (live.start_done) start_done[id] = std::move(live.start_done);
        live.start_done = nullptr;
        if (!live.op_done.empty()) op_done[id] = std::move(live.op_done);
        live.op_done.clear();
      }
    }
    if (writes.empty()) continue;

    const absl::Time commit_start = absl::Now();
    auto result = store_->Commit(writes, options_.instance_id, options_.lease_ttl);
    // ABORTED (a deadlock or serialization failure) rolled everything back: try again.
    for (int retry = 0; retry < 3 && result.status().code() == absl::StatusCode::kAborted;
         ++retry) {
      result = store_->Commit(writes, options_.instance_id, options_.lease_ttl);
    }
    {
      absl::MutexLock lock(&mu_);
      stats_.commit_micros += absl::ToInt64Microseconds(absl::Now() - commit_start);
      if (result.ok()) {
        ++stats_.commits;
        stats_.saga_writes += writes.size();
        stats_.calls_sent += calls.size();
      } else {
        ++stats_.commit_failures;
      }
    }
    if (!result.ok()) {
      LogError("commit failed; the sagas of the batch are dropped from memory and recovered "
               "when their leases expire",
               {{"sagas", saga::StrCat(writes.size())}, {"error", result.status().ToString()}});
      {
        absl::MutexLock lock(&mu_);
        for (const SagaWrite& w : writes) live_.erase(w.snapshot.saga_id());
        std::erase_if(dirty_, [this](const std::string& id) { return !live_.contains(id); });
      }
      absl::Status why = absl::UnavailableError(saga::StrCat(
          "the saga could not be made durable (", result.status().message(),
          "); retry with the same idempotency key"));
      for (auto& [id, cb] : start_done) cb(why);
      for (auto& [id, cbs] : op_done) {
        for (auto& cb : cbs) cb(why);
      }
      continue;
    }

    // Durable: forget what ended, answer callers, send calls, tell subscribers.
    SAGA_FAILPOINT("saga.after_commit");
    std::vector<std::pair<SagaCallback, saga::v1::Saga>> replies;
    bool lease_valid;
    {
      absl::MutexLock lock(&mu_);
      lease_valid = clock_->Now() < lease_valid_until_ || lease_valid_until_ == absl::InfinitePast();
      for (const SagaWrite& w : writes) {
        const std::string& id = w.snapshot.saga_id();
        const bool rejected = result->fenced.contains(id) || result->duplicates.contains(id);
        if (auto live = live_.find(id); live != live_.end()) {
          live->second->committing = false;
          // What happened during this commit goes to the next one.
          if (live->second->dirty && !rejected) dirty_.push_back(id);
        }
        if (rejected || Ended(w.snapshot.state())) {
          auto live = live_.find(id);
          // Drop it unless more happened since (a saga quarantined can still get answers).
          if (rejected || (live != live_.end() && !live->second->dirty)) live_.erase(id);
        }
        if (rejected) continue;
        metrics_.OnCommitted(w.snapshot.definition_name(), w.events);
        if (Ended(w.snapshot.state())) {
          auto waiting = waiters_.find(id);
          if (waiting != waiters_.end()) {
            for (Waiter& waiter : waiting->second) {
              replies.emplace_back(std::move(waiter.done), w.snapshot);
            }
            waiters_.erase(waiting);
          }
        }
      }
    }
    for (const std::string& id : result->fenced) {
      LogWarning("lease lost: another instance drives this saga now", {{"saga_id", id}});
    }
    for (const SagaWrite& w : writes) {
      const std::string& id = w.snapshot.saga_id();
      if (auto it = start_done.find(id); it != start_done.end()) {
        if (auto dup = result->duplicates.find(id); dup != result->duplicates.end()) {
          auto existing = store_->Get(dup->second);
          if (existing.ok()) {
            it->second(StartResult{*std::move(existing), false});
          } else {
            it->second(existing.status());
          }
        } else if (result->fenced.contains(id)) {
          it->second(absl::AbortedError("the saga was taken over by another instance"));
        } else {
          it->second(StartResult{w.snapshot, true});
        }
      }
      if (auto it = op_done.find(id); it != op_done.end()) {
        for (auto& cb : it->second) {
          if (result->fenced.contains(id)) {
            cb(absl::AbortedError("the saga was taken over by another instance; retry"));
          } else {
            cb(w.snapshot);
          }
        }
      }
    }
    for (const PreparedCall& call : calls) {
      if (result->fenced.contains(call.saga_id) || result->duplicates.contains(call.saga_id)) {
        continue;
      }
      if (!lease_valid) continue;  // the sagas come back through recovery
      Send(call);
    }
    for (auto& [cb, saga] : replies) cb(saga);
    absl::MutexLock lock(&subscribers_mu_);
    if (subscribers_.empty()) continue;
    for (const saga::v1::SagaEvent& e : committed_events) {
      if (result->fenced.contains(e.saga_id()) || result->duplicates.contains(e.saga_id())) {
        continue;
      }
      for (const auto& [handle, sub] : subscribers_) {
        if (sub.first == e.saga_id()) sub.second(e);
      }
    }
  }
}

void SagaEngine::RunTimer() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (stopping_) return;
    const absl::Time now = clock_->Now();
    // Due retries and deadlines.
    while (!timers_.empty() && timers_.top().first <= now) {
      auto [when, id] = timers_.top();
      timers_.pop();
      auto it = live_.find(id);
      if (it == live_.end()) continue;
      Live& live = *it->second;
      if (when != live.armed) continue;  // superseded by an earlier entry
      live.armed = absl::InfiniteFuture();
      Apply(live, SagaMachine::OnTimer(live.instance, now));  // re-arms for what is left
    }
    // Callers waiting for an end whose deadline came: answer with the durable state.
    std::vector<std::pair<std::string, SagaCallback>> expired;
    absl::Time next = timers_.empty() ? now + absl::Seconds(1) : timers_.top().first;
    for (auto& [id, list] : waiters_) {
      for (auto w = list.begin(); w != list.end();) {
        if (w->deadline <= now) {
          expired.emplace_back(id, std::move(w->done));
          w = list.erase(w);
        } else {
          next = std::min(next, w->deadline);
          ++w;
        }
      }
    }
    absl::erase_if(waiters_, [](const auto& entry) { return entry.second.empty(); });
    if (!expired.empty()) {
      mu_.Unlock();
      for (auto& [id, done] : expired) done(store_->Get(id));
      mu_.Lock();
      continue;
    }
    // Sleep until the next due time, or until something new is scheduled.
    const size_t known = timers_.size() + waiters_.size();
    const absl::Time earliest = timers_.empty() ? absl::InfiniteFuture() : timers_.top().first;
    auto changed = [this, known, earliest]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || timers_.size() + waiters_.size() != known ||
             (!timers_.empty() && timers_.top().first < earliest);
    };
    mu_.AwaitWithDeadline(absl::Condition(&changed),
                          std::min(next, now + absl::Milliseconds(250)));
  }
}

void SagaEngine::AwaitEnd(const std::string& saga_id, absl::Time deadline, SagaCallback done) {
  {
    absl::MutexLock lock(&mu_);
    if (live_.contains(saga_id)) {
      waiters_[saga_id].push_back({deadline, std::move(done)});
      return;
    }
  }
  done(store_->Get(saga_id));  // not driven here: its stored state is the answer
}

void SagaEngine::Abort(const std::string& saga_id, const std::string& actor,
                       const std::string& reason, SagaCallback done) {
  Operate(saga_id, /*ended_too=*/false,
          [actor, reason](SagaInstance& instance, absl::Time now) {
            return SagaMachine::Abort(instance, actor, reason, now);
          },
          std::move(done));
}

void SagaEngine::Operate(const std::string& saga_id, bool ended_too, SagaOperation operation,
                         SagaCallback done) {
  {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(saga_id);
    if (it != live_.end()) {
      Live& live = *it->second;
      auto t = operation(live.instance, clock_->Now());
      if (!t.ok()) {
        mu_.Unlock();
        done(t.status());
        mu_.Lock();
        return;
      }
      live.op_done.push_back(std::move(done));
      Apply(live, *std::move(t));
      MarkDirty(live);  // even with nothing new (already compensating), to answer the caller
      return;
    }
  }
  // Driven elsewhere (or by nobody, or ended): take it over, fencing out its owner, then act.
  auto stored = store_->ClaimOne(saga_id, options_.instance_id, options_.lease_ttl, ended_too);
  if (!stored.ok()) return done(stored.status());
  auto compiled = Compiled(stored->saga.definition_name(), stored->saga.definition_version());
  if (!compiled.ok()) return done(compiled.status());
  Adopt(*std::move(stored), *std::move(compiled), std::move(operation), std::move(done));
}

absl::StatusOr<std::vector<std::string>> SagaEngine::ReplayPlan(const std::string& saga_id,
                                                               const std::string& from_step) {
  SagaInstance instance;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = live_.find(saga_id); it != live_.end()) instance = it->second->instance;
  }
  if (instance.compiled == nullptr) {
    auto saga = store_->Get(saga_id);
    if (!saga.ok()) return saga.status();
    auto compiled = Compiled(saga->definition_name(), saga->definition_version());
    if (!compiled.ok()) return compiled.status();
    instance.compiled = *std::move(compiled);
    instance.saga = *std::move(saga);
    instance.steps.resize(instance.saga.steps_size());
  }
  auto plan = SagaMachine::ReplayPlan(instance, from_step);
  if (!plan.ok()) return plan.status();
  std::vector<std::string> names;
  for (int i : *plan) names.push_back(instance.saga.steps(i).name());
  return names;
}

void SagaEngine::Adopt(StoredSaga stored, std::shared_ptr<const CompiledDefinition> compiled,
                       SagaOperation operation, SagaCallback op_done) {
  auto live = std::make_unique<Live>();
  live->instance.compiled = std::move(compiled);
  live->instance.saga = std::move(stored.saga);
  live->instance.deadline = stored.deadline;
  live->epoch = stored.lease_epoch;
  live->history_seq = stored.history_seq;
  auto request = std::make_shared<saga::v1::StartSagaRequest>();
  request->ParseFromString(stored.request);
  live->request = std::move(request);
  live->traceparent = live->instance.saga.traceparent().empty()
                          ? NewTraceparent()
                          : live->instance.saga.traceparent();
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  const std::string id = live->instance.saga.saga_id();
  Live& ref = *live;
  live_[id] = std::move(live);
  Apply(ref, SagaMachine::Resume(ref.instance, now));
  if (operation) {
    auto t = operation(ref.instance, now);
    if (!t.ok()) {
      // An ended saga taken over for nothing: let go of it (its lease lapses unused).
      if (Ended(ref.instance.saga.state()) && !ref.dirty) live_.erase(id);
      mu_.Unlock();
      op_done(t.status());
      mu_.Lock();
      return;
    }
    ref.op_done.push_back(std::move(op_done));
    Apply(ref, *std::move(t));
    MarkDirty(ref);
  }
}

void SagaEngine::Recover() {
  auto claimed = store_->ClaimExpired(options_.instance_id, options_.lease_ttl, 500);
  if (!claimed.ok()) {
    LogWarning("recovery could not claim sagas", {{"error", claimed.status().ToString()}});
    return;
  }
  for (StoredSaga& stored : *claimed) {
    auto compiled = Compiled(stored.saga.definition_name(), stored.saga.definition_version());
    if (!compiled.ok()) {
      LogError("cannot resume a saga: its definition is unreadable",
               {{"saga_id", stored.saga.saga_id()}, {"error", compiled.status().ToString()}});
      continue;
    }
    LogInfo("resuming a saga whose lease expired", {{"saga_id", stored.saga.saga_id()}});
    Adopt(std::move(stored), *std::move(compiled), nullptr, nullptr);
  }
}

void SagaEngine::RunMaintenance() {
  const absl::Duration renew_every = options_.lease_ttl / 3;
  absl::Time next_renew = absl::InfinitePast();
  absl::Time next_recovery = absl::InfinitePast();
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const absl::Time now = clock_->Now();
    if (now >= next_renew) {
      // Only the sagas driven here: one dropped after a failed commit must expire to be resumed.
      std::vector<std::string> driven;
      {
        absl::MutexLock lock(&mu_);
        driven.reserve(live_.size());
        for (const auto& [id, live] : live_) driven.push_back(id);
      }
      absl::Status renewed = store_->RenewLeases(options_.instance_id, driven, options_.lease_ttl);
      absl::MutexLock lock(&mu_);
      if (renewed.ok()) {
        lease_valid_until_ = now + options_.lease_ttl;
      } else {
        LogWarning("could not renew leases", {{"error", renewed.ToString()}});
      }
      next_renew = now + renew_every;
    }
    bool expired;
    {
      absl::MutexLock lock(&mu_);
      expired = lease_valid_until_ != absl::InfinitePast() && clock_->Now() >= lease_valid_until_;
    }
    if (expired) {
      DropAll(absl::UnavailableError("this instance's leases expired; the sagas are resumed by "
                                     "whichever instance claims them"));
    }
    if (now >= next_recovery) {
      Recover();
      next_recovery = now + options_.recovery_interval;
    }
    absl::MutexLock lock(&stop_mu_);
    stop_mu_.AwaitWithTimeout(absl::Condition(
                                  +[](SagaEngine* self) {
                                    absl::MutexLock inner(&self->mu_);
                                    return self->stopping_;
                                  },
                                  this),
                              std::min(next_renew, next_recovery) - clock_->Now());
  }
}

void SagaEngine::DropAll(const absl::Status& why) {
  std::vector<std::function<void()>> answers;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, live] : live_) {
      if (live->start_done) answers.push_back([cb = std::move(live->start_done), why] { cb(why); });
      for (auto& cb : live->op_done) answers.push_back([cb = std::move(cb), why] { cb(why); });
    }
    live_.clear();
    dirty_.clear();
    for (auto& [id, list] : waiters_) {
      for (Waiter& w : list) {
        answers.push_back([this, cb = std::move(w.done), id = id] { cb(store_->Get(id)); });
      }
    }
    waiters_.clear();
  }
  for (auto& answer : answers) answer();
}

int SagaEngine::Subscribe(const std::string& saga_id, EventCallback on_event) {
  absl::MutexLock lock(&subscribers_mu_);
  int handle = next_subscriber_++;
  subscribers_[handle] = {saga_id, std::move(on_event)};
  return handle;
}

void SagaEngine::Unsubscribe(int handle) {
  absl::MutexLock lock(&subscribers_mu_);
  subscribers_.erase(handle);
}

}  // namespace saga::coordinator
