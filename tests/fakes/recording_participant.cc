#include "tests/fakes/recording_participant.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/time/clock.h"
#include "sdk/base/strings.h"
#include "sdk/base/tsan.h"

namespace saga::testing {

// Reads one request, hands it to the participant, writes the answer it gets. Answer may run
// on the participant's delay thread; gRPC calls OnReadDone and OnDone on its own threads (the
// Tsan* calls tell ThreadSanitizer the ordering gRPC guarantees, sdk/base/tsan.h).
class RecordingParticipant::Reactor : public grpc::ServerGenericBidiReactor {
 public:
  Reactor(RecordingParticipant* owner, grpc::GenericCallbackServerContext* context)
      : owner_(owner), context_(context) {
    saga::TsanRelease(this);
    saga::TsanIgnoreAccesses ignore;
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    saga::TsanAcquire(this);
    saga::TsanHeedAccesses heed;
    if (!ok) {
      saga::TsanRelease(this);
      saga::TsanIgnoreAccesses ignore;
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
      return;
    }
    ParticipantCall call;
    call.method = context_->method();
    auto meta = [&](const char* key) {
      auto it = context_->client_metadata().find(key);
      return it == context_->client_metadata().end()
                 ? std::string()
                 : std::string(it->second.data(), it->second.size());
    };
    call.saga_id = meta("saga-id");
    call.step = meta("saga-step");
    call.operation = meta("saga-operation");
    call.idempotency_key = meta("idempotency-key");
    call.lease_epoch = meta("saga-lease-epoch");
    call.traceparent = meta("traceparent");
    std::vector<grpc::Slice> slices;
    (void)request_.Dump(&slices);
    for (const auto& s : slices) call.payload.append(reinterpret_cast<const char*>(s.begin()), s.size());
    owner_->Handle(this, std::move(call));
  }

  void Answer(const absl::Status& status) {
    if (status.ok()) {
      grpc::Slice slice(std::string("ok"));
      response_ = grpc::ByteBuffer(&slice, 1);
      saga::TsanRelease(this);
      saga::TsanIgnoreAccesses ignore;
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    } else {
      grpc::Status answer(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
      saga::TsanRelease(this);
      saga::TsanIgnoreAccesses ignore;
      Finish(std::move(answer));
    }
  }

  void OnDone() override {
    saga::TsanAcquire(this);
    saga::TsanHeedAccesses heed;
    delete this;
  }

 private:
  RecordingParticipant* owner_;
  grpc::GenericCallbackServerContext* context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

class RecordingParticipant::Service : public grpc::CallbackGenericService {
 public:
  explicit Service(RecordingParticipant* owner) : owner_(owner) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override {
    return new Reactor(owner_, context);
  }

 private:
  RecordingParticipant* owner_;
};

RecordingParticipant::RecordingParticipant() : service_(std::make_unique<Service>(this)) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterCallbackGenericService(service_.get());
  server_ = builder.BuildAndStart();
  delay_thread_ = std::thread([this] { RunDelays(); });
}

RecordingParticipant::~RecordingParticipant() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  delay_thread_.join();
  server_->Shutdown(std::chrono::system_clock::now());
}

std::string RecordingParticipant::target() const { return saga::StrCat("127.0.0.1:", port_); }

void RecordingParticipant::SetScript(const std::string& method, Script script) {
  absl::MutexLock lock(&mu_);
  scripts_[method] = std::move(script);
}

std::vector<ParticipantCall> RecordingParticipant::calls() {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::map<std::pair<std::string, std::string>, RecordingParticipant::Effects>
RecordingParticipant::effects() {
  absl::MutexLock lock(&mu_);
  return effects_;
}

RecordingParticipant::Effects RecordingParticipant::EffectsOf(const std::string& saga_id,
                                                              const std::string& step) {
  absl::MutexLock lock(&mu_);
  auto it = effects_.find({saga_id, step});
  return it == effects_.end() ? Effects{} : it->second;
}

size_t RecordingParticipant::delayed_answers() {
  absl::MutexLock lock(&mu_);
  return delayed_.size() + answering_;
}

void RecordingParticipant::Handle(Reactor* reactor, ParticipantCall call) {
  Reply reply;
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(call);
    int number = ++call_counts_[saga::StrCat(call.method, "|", call.saga_id, "|", call.operation)];
    auto script = scripts_.find(call.method);
    if (script != scripts_.end()) reply = script->second(call, number);
  }
  auto finish = [this, reactor, call, reply] {
    absl::Status status = reply.status;
    if (status.ok() && reply.apply) {
      absl::MutexLock lock(&mu_);
      Effects& e = effects_[{call.saga_id, call.step}];
      // The barrier: keyed by saga, step and operation.
      const std::string action_key = saga::StrCat(call.saga_id, "/", call.step, "/action");
      const std::string compensation_key =
          saga::StrCat(call.saga_id, "/", call.step, "/compensation");
      if (call.operation == "action") {
        if (!applied_keys_.contains(compensation_key) && applied_keys_.insert(action_key).second) {
          ++e.actions;
        }
      } else if (call.operation == "compensation") {
        if (applied_keys_.insert(compensation_key).second) {
          if (applied_keys_.contains(action_key)) {
            ++e.compensations;
          } else {
            e.compensation_before_action = true;  // nothing to undo; blocks the action
          }
        }
      } else if (call.operation == "status") {
        if (!applied_keys_.contains(action_key)) status = absl::NotFoundError("never ran");
      }
    }
    reactor->Answer(status);
  };
  if (reply.delay <= absl::ZeroDuration()) {
    finish();
    return;
  }
  absl::MutexLock lock(&mu_);
  delayed_.emplace(absl::Now() + reply.delay, std::move(finish));
}

void RecordingParticipant::RunDelays() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (stopping_) {
      // Answer what is left so the server can shut down.
      auto left = std::move(delayed_);
      delayed_.clear();
      mu_.Unlock();
      for (auto& [when, finish] : left) finish();
      mu_.Lock();
      return;
    }
    absl::Time now = absl::Now();
    if (!delayed_.empty() && delayed_.begin()->first <= now) {
      auto finish = std::move(delayed_.begin()->second);
      delayed_.erase(delayed_.begin());
      ++answering_;
      mu_.Unlock();
      finish();
      mu_.Lock();
      --answering_;
      continue;
    }
    absl::Time wake = delayed_.empty() ? now + absl::Milliseconds(50) : delayed_.begin()->first;
    size_t known = delayed_.size();
    auto changed = [this, known]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || delayed_.size() != known;
    };
    mu_.AwaitWithDeadline(absl::Condition(&changed), wake);
  }
}

std::vector<std::string> InvariantOneViolations(const saga::v1::Saga& saga,
                                                RecordingParticipant& participant) {
  std::vector<std::string> violations;
  for (const auto& step : saga.steps()) {
    // One lookup per step: copying the whole log per saga made the hour-long fault matrix's
    // final check quadratic (27,520 sagas did not finish in 10 minutes).
    const RecordingParticipant::Effects e = participant.EffectsOf(saga.saga_id(), step.name());
    auto violation = [&](const std::string& what) {
      violations.push_back(saga::StrCat("saga ", saga.saga_id(), " (",
                                        saga::v1::SagaState_Name(saga.state()), ") step ",
                                        step.name(), ": ", what, " (actions ", e.actions,
                                        ", compensations ", e.compensations, ")"));
    };
    if (e.actions > 1 || e.compensations > 1) violation("an effect applied twice");
    if (saga.state() == saga::v1::SAGA_STATE_COMPLETED && (e.actions != 1 || e.compensations != 0)) {
      violation("a completed saga must have each action once and no compensation");
    }
    if (saga.state() == saga::v1::SAGA_STATE_COMPENSATED && e.compensations != e.actions) {
      violation("a compensated saga must undo each action that took effect");
    }
  }
  return violations;
}

saga::v1::SagaDefinition OrderDefinition(const std::string& target) {
  saga::v1::SagaDefinition d;
  d.set_name("order");
  d.mutable_default_retry_policy()->mutable_initial_backoff()->set_nanos(20000000);
  d.mutable_default_retry_policy()->mutable_max_backoff()->set_nanos(200000000);
  d.mutable_default_step_timeout()->set_seconds(2);
  std::string previous;
  for (const char* name : {"reserve", "charge", "ship"}) {
    auto* step = d.add_steps();
    step->set_name(name);
    step->mutable_action()->mutable_grpc()->set_target(target);
    step->mutable_action()->mutable_grpc()->set_method(saga::StrCat("/shop.S/", name));
    step->mutable_compensation()->mutable_grpc()->set_target(target);
    step->mutable_compensation()->mutable_grpc()->set_method(saga::StrCat("/shop.S/undo_", name));
    if (!previous.empty()) step->add_depends_on(previous);
    previous = name;
  }
  return d;
}

}  // namespace saga::testing
