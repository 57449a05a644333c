#include "services/watch_saga_reactor.h"

#include "services/grpc_status.h"
#include "sdk/base/tsan.h"

namespace saga::services {
namespace {

bool EndsTheSaga(saga::v1::SagaEvent::Type type) {
  return type == saga::v1::SagaEvent::TYPE_SAGA_COMPLETED ||
         type == saga::v1::SagaEvent::TYPE_SAGA_COMPENSATED ||
         type == saga::v1::SagaEvent::TYPE_SAGA_QUARANTINED;
}

}  // namespace

WatchSagaReactor::WatchSagaReactor(coordinator::SagaEngine* engine, coordinator::SagaStore* store,
                                   BlockingExecutor* executor, std::string saga_id,
                                   uint64_t after_sequence)
    : engine_(engine), store_(store), saga_id_(std::move(saga_id)), sent_through_(after_sequence) {
  subscription_ = engine_->Subscribe(saga_id_, [this](const saga::v1::SagaEvent& e) { Enqueue(e); });
  if (!executor->Schedule([this] { LoadHistory(); })) {
    absl::MutexLock lock(&mu_);
    FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "sagad is shutting down; retry"));
  }
}

void WatchSagaReactor::LoadHistory() {
  uint64_t after;
  {
    absl::MutexLock lock(&mu_);
    after = sent_through_;
  }
  for (;;) {
    auto events = store_->History(saga_id_, after, 1000);
    absl::MutexLock lock(&mu_);
    if (!events.ok()) {
      FinishOnce(ToGrpcStatus(events.status()));
      return;
    }
    for (auto& e : *events) {
      after = e.sequence();
      if (e.sequence() > sent_through_) pending_.emplace(e.sequence(), std::move(e));
    }
    if (events->size() < 1000) break;
  }
  // A saga that ended before `after_sequence` has nothing more to stream.
  auto saga = store_->Get(saga_id_);
  absl::MutexLock lock(&mu_);
  ended_in_store_ = saga.ok() && (saga->state() == saga::v1::SAGA_STATE_COMPLETED ||
                                  saga->state() == saga::v1::SAGA_STATE_COMPENSATED ||
                                  saga->state() == saga::v1::SAGA_STATE_QUARANTINED);
  history_loaded_ = true;
  Pump();
}

void WatchSagaReactor::Enqueue(const saga::v1::SagaEvent& event) {
  absl::MutexLock lock(&mu_);
  if (event.sequence() > sent_through_) pending_.emplace(event.sequence(), event);
  Pump();
}

void WatchSagaReactor::Pump() {
  if (writing_ || finished_ || !history_loaded_) return;
  if (pending_.empty()) {
    if (ended_in_store_) FinishOnce(grpc::Status::OK);
    return;
  }
  auto next = pending_.begin();
  if (next->first != sent_through_ + 1) return;  // a gap: the missing event is on its way
  *out_.mutable_event() = std::move(next->second);
  sent_through_ = next->first;
  pending_.erase(next);
  writing_ = true;
  // gRPC calls OnWriteDone and OnDone on its own threads (sdk/base/tsan.h).
  saga::TsanRelease(this);
  saga::TsanIgnoreAccesses ignore;
  StartWrite(&out_);
}

void WatchSagaReactor::OnWriteDone(bool ok) {
  saga::TsanAcquire(this);
  saga::TsanHeedAccesses heed;
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) {
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
    return;
  }
  // The stream ends at the saga's last end: an operator may have reopened a quarantined or
  // compensated saga since (its later events are pending then).
  if (EndsTheSaga(out_.event().type()) && pending_.empty()) {
    FinishOnce(grpc::Status::OK);
    return;
  }
  Pump();
}

void WatchSagaReactor::OnCancel() {
  saga::TsanAcquire(this);
  saga::TsanHeedAccesses heed;
  absl::MutexLock lock(&mu_);
  FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the caller cancelled"));
}

void WatchSagaReactor::FinishOnce(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  saga::TsanRelease(this);
  saga::TsanIgnoreAccesses ignore;
  Finish(status);
}

void WatchSagaReactor::OnDone() {
  saga::TsanAcquire(this);
  saga::TsanHeedAccesses heed;
  engine_->Unsubscribe(subscription_);
  delete this;
}

}  // namespace saga::services
