#include "outbox/relay.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "sdk/base/failpoint.h"
#include "sdk/base/log.h"
#include "sdk/base/status_macros.h"
#include "sdk/base/strings.h"

namespace saga::outbox {
namespace {

// How often leases are renewed and partitions rebalanced: well inside the TTL, and at least
// every second so that a dead relay's partitions are taken within the TTL plus one second.
absl::Duration RenewInterval(absl::Duration ttl) { return std::min(ttl / 3, absl::Seconds(1)); }

absl::Duration NextBackoff(absl::Duration previous) {
  if (previous == absl::ZeroDuration()) return absl::Milliseconds(250);
  return std::min(previous * 2, absl::Seconds(10));
}

}  // namespace

size_t MessageProducer::RecordBytes(const OutboxRow& row) {
  // A record batch header (61 bytes), the record's varint fields (at most 30), its key and
  // value with their lengths, and each header with its two lengths.
  size_t bytes = 61 + 30 + row.key.size() + row.payload.size() + 10;
  bytes += 10 + row.message_id.size() + 10;  // the message-id header
  for (const auto& [name, value] : row.headers) bytes += name.size() + value.size() + 10;
  return bytes;
}

OutboxRelay::OutboxRelay(OutboxSource* source, MessageProducer* producer, Clock* clock,
                         RelayOptions options)
    : source_(source), producer_(producer), clock_(clock), options_(std::move(options)) {}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

RelayStats OutboxRelay::stats() const {
  absl::MutexLock lock(&mu_);
  RelayStats stats = stats_;
  // Computed now, so the lag keeps growing while the relay is stuck (Kafka down).
  stats.lag_seconds = oldest_waiting_ == absl::InfiniteFuture()
                          ? 0
                          : std::max(0.0, absl::ToDoubleSeconds(clock_->Now() - oldest_waiting_));
  return stats;
}

bool OutboxRelay::SleepUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

absl::Status OutboxRelay::KeepLeases() {
  const absl::Time now = clock_->Now();
  // Partitions are given away only when none of their rows is in flight or unsettled, so the
  // relay that takes one next never sends a row before this one is done with it.
  const bool settled = in_flight_ == nullptr && settle_.delivered.empty() &&
                       settle_.rejected.empty();
  auto leases = source_->Rebalance(options_.relay_id, options_.lease_ttl, settled);
  if (!leases.ok()) {
    // Past half the TTL the leases may be someone else's: send nothing until renewed.
    if (now - leases_renewed_ > options_.lease_ttl / 2) partitions_.clear();
    return leases.status();
  }
  release_due_ = leases->over_share;
  std::vector<int>& partitions = leases->held;
  if (partitions != partitions_) {
    LogInfo("outbox relay partitions changed",
            {{"outbox", source_->name()}, {"relay_id", options_.relay_id},
             {"held", saga::StrCat(partitions.size())},
             {"before", saga::StrCat(partitions_.size())}});
  }
  partitions_ = std::move(partitions);
  leases_renewed_ = now;
  if (auto oldest = source_->OldestWaiting(partitions_); oldest.ok()) {
    absl::MutexLock lock(&mu_);
    oldest_waiting_ = partitions_.empty() ? absl::InfiniteFuture() : *oldest;
  }
  if (now - parked_counted_ >= absl::Seconds(5)) {
    auto parked = source_->CountParked();
    if (parked.ok()) {
      parked_counted_ = now;
      absl::MutexLock lock(&mu_);
      stats_.parked_rows = *parked;
    }
  }
  absl::MutexLock lock(&mu_);
  stats_.owned_partitions = static_cast<int>(partitions_.size());
  return absl::OkStatus();
}

bool OutboxRelay::LeasesDue() const {
  return clock_->Now() - leases_renewed_ >= RenewInterval(options_.lease_ttl);
}

absl::Status OutboxRelay::SettlePending() {
  if (settle_.delivered.empty() && settle_.rejected.empty()) return absl::OkStatus();
  Settlement settlement = std::move(settle_);
  settle_ = {};
  if (!settlement.delivered.empty()) SAGA_FAILPOINT("relay.after_produce");
  // On failure the rows stay in the table and are sent again: duplicates, never losses.
  return source_->Settle(settlement.delivered, settlement.rejected);
}

absl::Status OutboxRelay::Flush() {
  if (in_flight_ != nullptr) {
    Collect(*in_flight_);
    in_flight_.reset();
  }
  return SettlePending();
}

RejectedRow OutboxRelay::Reject(const OutboxRow& row, std::string error) const {
  const int attempts = row.attempts + 1;
  RejectedRow r{.id = row.id, .error = std::move(error), .park = attempts >= options_.max_attempts};
  r.retry_after = std::min(options_.retry_base * (int64_t{1} << std::min(attempts - 1, 20)),
                           options_.retry_max);
  if (r.park) {
    LogWarning("outbox row parked",
               {{"outbox", source_->name()}, {"message_id", row.message_id},
                {"topic", row.topic}, {"attempts", saga::StrCat(attempts)}, {"error", r.error}});
  }
  return r;
}

std::unique_ptr<OutboxRelay::Batch> OutboxRelay::Prepare(
    std::vector<OutboxRow> rows, const absl::flat_hash_map<std::string, int64_t>& blocked) {
  auto batch = std::make_unique<Batch>();
  batch->rows = std::move(rows);
  // Keys whose earlier row did not go out in the batch before are held back entirely.
  batch->held = blocked;
  absl::flat_hash_map<std::string, size_t> limits;
  batch->sent.reserve(batch->rows.size());
  for (const OutboxRow& row : batch->rows) {
    if (batch->held.contains(row.key)) continue;
    // A row that failed before goes alone: should it fail again, nothing of its key has
    // overtaken it.
    if (row.attempts > 0) batch->held.try_emplace(row.key, row.id);
    auto [it, inserted] = limits.try_emplace(row.topic, SIZE_MAX);
    if (inserted) {
      // Unknown (the broker is down): the send will say so.
      if (auto limit = producer_->MaxMessageBytes(row.topic); limit.ok()) it->second = *limit;
    }
    // Rows too large for their topic are refused here, before anything is sent, so that
    // later rows of their key are held back instead of overtaking them.
    if (const size_t bytes = MessageProducer::RecordBytes(row); bytes > it->second) {
      batch->rejected.push_back(Reject(
          row, saga::StrCat("the message takes ", bytes, " bytes but topic ", row.topic,
                            " accepts at most ", it->second,
                            " (max.message.bytes): raise the topic's limit, then requeue it")));
      producer_->ForgetMaxMessageBytes(row.topic);
      batch->held.try_emplace(row.key, row.id);
      continue;
    }
    batch->sent.push_back(&row);
  }
  return batch;
}

void OutboxRelay::Collect(Batch& batch) {
  std::vector<Delivery> deliveries =
      batch.sent.empty() ? std::vector<Delivery>{} : producer_->Wait();
  std::vector<RejectedRow>& rejected = batch.rejected;
  std::vector<int64_t> delivered;
  delivered.reserve(batch.sent.size());
  int64_t unavailable = 0, reordered = 0;
  std::string unavailable_error;
  for (size_t i = 0; i < batch.sent.size(); ++i) {
    const OutboxRow& row = *batch.sent[i];
    const Delivery& d = i < deliveries.size() ? deliveries[i] : Delivery{};
    switch (d.outcome) {
      case Delivery::Outcome::kPersisted:
        delivered.push_back(row.id);
        if (auto it = batch.held.find(row.key); it != batch.held.end() && it->second < row.id) {
          ++reordered;
          LogWarning("outbox row persisted after an earlier row of its key failed",
                     {{"outbox", source_->name()}, {"message_id", row.message_id},
                      {"topic", row.topic}});
        }
        break;
      case Delivery::Outcome::kRejected:
        rejected.push_back(Reject(row, d.error));
        batch.held.try_emplace(row.key, row.id);
        break;
      case Delivery::Outcome::kUnavailable:
        ++unavailable;
        unavailable_error = d.error;
        batch.held.try_emplace(row.key, row.id);
        break;
      case Delivery::Outcome::kNotSent:
        batch.held.try_emplace(row.key, row.id);
        break;
    }
  }
  last_unavailable_ = unavailable > 0 && delivered.empty();
  if (unavailable > 0) {
    LogWarning("outbox rows not acknowledged by Kafka; they stay and are sent again",
               {{"outbox", source_->name()}, {"rows", saga::StrCat(unavailable)},
                {"error", unavailable_error}});
  }
  {
    absl::MutexLock lock(&mu_);
    stats_.delivered += static_cast<int64_t>(delivered.size());
    stats_.rejected += static_cast<int64_t>(rejected.size());
    for (const RejectedRow& r : rejected) stats_.parked += r.park ? 1 : 0;
    stats_.unavailable += unavailable;
    stats_.reordered += reordered;
    ++stats_.cycles;
  }
  settle_.delivered.insert(settle_.delivered.end(), delivered.begin(), delivered.end());
  for (RejectedRow& r : rejected) settle_.rejected.push_back(std::move(r));
}

absl::StatusOr<int> OutboxRelay::RunOnce() {
  last_unavailable_ = false;
  // Renewing leases and claiming partitions do not wait for the batch in flight (that drained
  // the pipeline once a second); giving partitions away does, so when the relay holds more
  // than its share it settles everything first.
  if (LeasesDue() || release_due_) {
    if (release_due_) SAGA_RETURN_IF_ERROR(Flush());
    SAGA_RETURN_IF_ERROR(KeepLeases());
  }
  if (partitions_.empty()) {
    SAGA_RETURN_IF_ERROR(Flush());
    return 0;
  }
  // A batch in flight that left rows behind (their key held back) is finished before the next
  // read: the next batch then reads those rows again, in id order, with what failed before
  // them. Overlapping instead would leave them out of the next batch (they are in flight) and
  // so hold their key back again, and again, for as long as rows keep coming.
  if (in_flight_ != nullptr && in_flight_->sent.size() < in_flight_->rows.size()) {
    SAGA_RETURN_IF_ERROR(Flush());
  }
  // What the previous batch settled goes first, while the batch in flight is at the broker.
  SAGA_RETURN_IF_ERROR(SettlePending());
  std::vector<int64_t> in_flight_ids;
  if (in_flight_ != nullptr) {
    in_flight_ids.reserve(in_flight_->rows.size());
    for (const OutboxRow& row : in_flight_->rows) in_flight_ids.push_back(row.id);
  }
  SAGA_ASSIGN_OR_RETURN(std::vector<OutboxRow> rows,
                        source_->ReadBatch(partitions_, options_.batch_size, in_flight_ids));
  // The next batch is sent only once every report of the one before has come back, so that
  // it knows which keys to hold back.
  absl::flat_hash_map<std::string, int64_t> blocked;
  if (in_flight_ != nullptr) {
    Collect(*in_flight_);
    blocked = std::move(in_flight_->held);
    in_flight_.reset();
  }
  if (rows.empty()) {
    SAGA_RETURN_IF_ERROR(SettlePending());
    return 0;
  }
  const int read = static_cast<int>(rows.size());
  std::unique_ptr<Batch> batch = Prepare(std::move(rows), blocked);
  if (!batch->sent.empty()) producer_->Begin(batch->sent);
  in_flight_ = std::move(batch);
  return read;
}

void OutboxRelay::Loop() {
  LogInfo("outbox relay started", {{"outbox", source_->name()}, {"relay_id", options_.relay_id}});
  absl::Duration backoff = absl::ZeroDuration();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    absl::StatusOr<int> rows = RunOnce();
    if (!rows.ok() || last_unavailable_) {
      backoff = NextBackoff(backoff);
      if (!rows.ok()) {
        LogWarning("outbox relay cycle failed; backing off",
                   {{"outbox", source_->name()}, {"error", std::string(rows.status().message())},
                    {"backoff", absl::FormatDuration(backoff)}});
      }
      if (!SleepUnlessStopped(backoff)) break;
      continue;
    }
    backoff = absl::ZeroDuration();
    if (*rows >= options_.batch_size) continue;
    // More rows committed meanwhile: read them while this batch is at the broker.
    if (*rows > 0) {
      absl::StatusOr<bool> more = source_->WaitForRows(absl::ZeroDuration());
      if (more.ok() && *more) continue;
    }
    // Caught up: finish the batch in flight before waiting for more rows.
    if (absl::Status s = Flush(); !s.ok()) {
      LogWarning("outbox relay could not settle a batch; its rows are sent again",
                 {{"outbox", source_->name()}, {"error", std::string(s.message())}});
    }
    absl::StatusOr<bool> waited = source_->WaitForRows(
        std::min(options_.poll_interval, RenewInterval(options_.lease_ttl)));
    if (!waited.ok() && !SleepUnlessStopped(absl::Milliseconds(250))) break;
  }
  if (absl::Status s = Flush(); !s.ok()) {
    LogWarning("outbox relay could not settle its last batch; its rows are sent again",
               {{"outbox", source_->name()}, {"error", std::string(s.message())}});
  }
  if (absl::Status s = source_->ReleaseAll(options_.relay_id); !s.ok()) {
    LogWarning("outbox relay could not give its partitions back; they move after the lease TTL",
               {{"outbox", source_->name()}, {"error", std::string(s.message())}});
  }
  LogInfo("outbox relay stopped", {{"outbox", source_->name()}, {"relay_id", options_.relay_id}});
}

}  // namespace saga::outbox
