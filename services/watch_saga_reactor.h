// WatchSagaReactor streams one saga's events: its stored history after the caller's sequence,
// then each event this instance commits for it, in sequence order without gaps or repeats, and
// ends the stream after the last event that makes the saga terminal (or quarantined): an operator
// may reopen a quarantined or compensated saga, so an end followed by more events in the
// history does not end the stream. It subscribes
// before reading the history, so nothing committed in between is missed. Events of a saga
// driven by another instance arrive only through its stored history (read once); a live feed
// across instances comes with LISTEN/NOTIFY.
// Owned by gRPC: it deletes itself in OnDone.
#ifndef SAGA_SERVICES_WATCH_SAGA_REACTOR_H_
#define SAGA_SERVICES_WATCH_SAGA_REACTOR_H_

#include <map>
#include <string>

#include <grpcpp/support/server_callback.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/saga_engine.h"
#include "coordinator/saga_store.h"
#include "saga/v1/saga_service.pb.h"
#include "sdk/base/blocking_executor.h"

namespace saga::services {

class WatchSagaReactor final : public grpc::ServerWriteReactor<saga::v1::WatchSagaResponse> {
 public:
  WatchSagaReactor(coordinator::SagaEngine* engine, coordinator::SagaStore* store,
                   BlockingExecutor* executor, std::string saga_id, uint64_t after_sequence);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void Enqueue(const saga::v1::SagaEvent& event);
  void LoadHistory();
  // Starts the next write if none is in flight. Requires mu_.
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishOnce(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  coordinator::SagaEngine* const engine_;
  coordinator::SagaStore* const store_;
  const std::string saga_id_;
  int subscription_ = 0;

  absl::Mutex mu_;
  uint64_t sent_through_ ABSL_GUARDED_BY(mu_);  // the last sequence written
  std::map<uint64_t, saga::v1::SagaEvent> pending_ ABSL_GUARDED_BY(mu_);
  bool history_loaded_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_in_store_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  saga::v1::WatchSagaResponse out_ ABSL_GUARDED_BY(mu_);
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_WATCH_SAGA_REACTOR_H_
