// Where a row's commit-to-consume time goes inside the relay, for outbox_bench: decorators of
// the relay's source and producer that note, per message id, when the relay read the row,
// when it handed it to the producer, and when the producer's reports for its batch were all
// back. The benchmark adds the commit and consume times it sees itself.
#ifndef SAGA_BENCH_RELAY_STAGE_TRACE_H_
#define SAGA_BENCH_RELAY_STAGE_TRACE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "outbox/message_producer.h"
#include "outbox/outbox_source.h"

namespace saga::bench {

struct RowStages {
  absl::Time read = absl::InfinitePast();       // ReadBatch returned it
  absl::Time sent = absl::InfinitePast();       // given to the producer (Begin)
  absl::Time reported = absl::InfinitePast();   // every report of its batch came back (Wait)
};

class StageLog {
 public:
  void Read(const std::vector<outbox::OutboxRow>& rows) {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    for (const auto& row : rows) stages_[row.message_id].read = now;
  }
  void Sent(const std::vector<std::string>& ids, absl::Time at) {
    absl::MutexLock lock(&mu_);
    for (const auto& id : ids) stages_[id].sent = at;
  }
  void Reported(const std::vector<std::string>& ids, absl::Time at) {
    absl::MutexLock lock(&mu_);
    for (const auto& id : ids) stages_[id].reported = at;
  }
  absl::flat_hash_map<std::string, RowStages> Take() {
    absl::MutexLock lock(&mu_);
    return std::move(stages_);
  }
  // How long each call of the relay to its source or producer took, by call.
  void Took(const std::string& call, absl::Duration d) {
    absl::MutexLock lock(&mu_);
    calls_[call].push_back(absl::ToDoubleMilliseconds(d));
  }
  absl::flat_hash_map<std::string, std::vector<double>> TakeCalls() {
    absl::MutexLock lock(&mu_);
    return std::move(calls_);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, RowStages> stages_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<double>> calls_ ABSL_GUARDED_BY(mu_);
};

// Times a call into the StageLog when it goes out of scope.
class CallTimer {
 public:
  CallTimer(StageLog* log, std::string call) : log_(log), call_(std::move(call)) {}
  ~CallTimer() { log_->Took(call_, absl::Now() - start_); }

 private:
  StageLog* const log_;
  const std::string call_;
  const absl::Time start_ = absl::Now();
};

class TracedSource : public outbox::OutboxSource {
 public:
  TracedSource(outbox::OutboxSource* inner, StageLog* log) : inner_(inner), log_(log) {}
  const std::string& name() const override { return inner_->name(); }
  absl::StatusOr<outbox::PartitionLeases> Rebalance(const std::string& relay_id,
                                                    absl::Duration ttl,
                                                    bool may_release) override {
    CallTimer timer(log_, "Rebalance");
    return inner_->Rebalance(relay_id, ttl, may_release);
  }
  absl::Status ReleaseAll(const std::string& relay_id) override {
    return inner_->ReleaseAll(relay_id);
  }
  absl::StatusOr<std::vector<outbox::OutboxRow>> ReadBatch(
      const std::vector<int>& partitions, int limit,
      const std::vector<int64_t>& excluded) override {
    CallTimer timer(log_, "ReadBatch");
    auto rows = inner_->ReadBatch(partitions, limit, excluded);
    if (rows.ok()) log_->Read(*rows);
    return rows;
  }
  absl::Status Settle(const std::vector<int64_t>& delivered,
                      const std::vector<outbox::RejectedRow>& rejected) override {
    CallTimer timer(log_, "Settle");
    return inner_->Settle(delivered, rejected);
  }
  absl::StatusOr<bool> WaitForRows(absl::Duration timeout) override {
    CallTimer timer(log_, timeout == absl::ZeroDuration() ? "WaitForRows(0)" : "WaitForRows");
    return inner_->WaitForRows(timeout);
  }
  absl::StatusOr<absl::Time> OldestWaiting(const std::vector<int>& partitions) override {
    CallTimer timer(log_, "OldestWaiting");
    return inner_->OldestWaiting(partitions);
  }
  absl::StatusOr<int64_t> CountParked() override {
    CallTimer timer(log_, "CountParked");
    return inner_->CountParked();
  }

 private:
  outbox::OutboxSource* const inner_;
  StageLog* const log_;
};

class TracedProducer : public outbox::MessageProducer {
 public:
  TracedProducer(outbox::MessageProducer* inner, StageLog* log) : inner_(inner), log_(log) {}
  void Begin(const std::vector<const outbox::OutboxRow*>& rows) override {
    in_flight_.clear();
    for (const outbox::OutboxRow* row : rows) in_flight_.push_back(row->message_id);
    log_->Sent(in_flight_, absl::Now());
    CallTimer timer(log_, "producer Begin");
    inner_->Begin(rows);
  }
  std::vector<outbox::Delivery> Wait() override {
    std::vector<outbox::Delivery> deliveries;
    {
      CallTimer timer(log_, "producer Wait");
      deliveries = inner_->Wait();
    }
    log_->Reported(in_flight_, absl::Now());
    return deliveries;
  }
  absl::StatusOr<size_t> MaxMessageBytes(const std::string& topic) override {
    return inner_->MaxMessageBytes(topic);
  }
  void ForgetMaxMessageBytes(const std::string& topic) override {
    inner_->ForgetMaxMessageBytes(topic);
  }

 private:
  outbox::MessageProducer* const inner_;
  StageLog* const log_;
  std::vector<std::string> in_flight_;
};

}  // namespace saga::bench

#endif  // SAGA_BENCH_RELAY_STAGE_TRACE_H_
