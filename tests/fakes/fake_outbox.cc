#include "tests/fakes/fake_outbox.h"

#include "absl/container/flat_hash_set.h"

namespace saga::testing {

int64_t FakeOutboxSource::Add(const std::string& key, const std::string& payload,
                              const std::string& topic) {
  const int64_t id = next_id_++;
  rows[id] = outbox::OutboxRow{.id = id, .topic = topic, .key = key, .payload = payload,
                               .message_id = "m" + std::to_string(id)};
  return id;
}

absl::StatusOr<outbox::PartitionLeases> FakeOutboxSource::Rebalance(const std::string&,
                                                                     absl::Duration,
                                                                     bool may_release) {
  may_release_calls.push_back(may_release);
  outbox::PartitionLeases leases;
  if (share >= 0 && static_cast<int>(partitions.size()) > share) {
    if (may_release) {
      partitions.resize(share);
      rows_waiting_at_release = static_cast<int>(rows.size());
    } else {
      leases.over_share = true;
    }
  }
  leases.held = partitions;
  return leases;
}

absl::StatusOr<std::vector<outbox::OutboxRow>> FakeOutboxSource::ReadBatch(
    const std::vector<int>&, int limit, const std::vector<int64_t>& excluded) {
  const absl::flat_hash_set<int64_t> skip(excluded.begin(), excluded.end());
  ++reads;
  absl::flat_hash_set<std::string> held;
  for (const auto& [id, row] : rows) {
    if (parked[id]) held.insert(row.key);
  }
  std::vector<outbox::OutboxRow> batch;
  for (const auto& [id, row] : rows) {
    if (static_cast<int>(batch.size()) == limit) break;
    if (!held.contains(row.key) && !skip.contains(id)) batch.push_back(row);
  }
  return batch;
}

absl::Status FakeOutboxSource::Settle(const std::vector<int64_t>& delivered,
                                      const std::vector<outbox::RejectedRow>& rejected) {
  ++settles;
  for (int64_t id : delivered) rows.erase(id);
  for (const outbox::RejectedRow& r : rejected) {
    rows[r.id].attempts++;
    if (r.park) parked[r.id] = true;
    rejections.push_back(r);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> FakeOutboxSource::CountParked() {
  int64_t n = 0;
  for (const auto& [id, is_parked] : parked) n += is_parked ? 1 : 0;
  return n;
}

void FakeProducer::Begin(const std::vector<const outbox::OutboxRow*>& rows) {
  ++begun;
  results_.clear();
  for (const outbox::OutboxRow* row : rows) {
    sent.push_back(row->payload);
    auto it = outcomes.find(row->payload);
    const auto outcome =
        it == outcomes.end() ? outbox::Delivery::Outcome::kPersisted : it->second;
    results_.push_back({.outcome = outcome,
                        .error = outcome == outbox::Delivery::Outcome::kPersisted ? "" : "scripted"});
  }
}

std::vector<outbox::Delivery> FakeProducer::Wait() {
  --begun;
  return std::move(results_);
}

}  // namespace saga::testing
