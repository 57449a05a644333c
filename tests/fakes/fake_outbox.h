// In-memory stand-ins for the relay's two sides, for unit tests of its decisions:
// FakeOutboxSource holds rows and records what the relay settles; FakeProducer answers each
// message as scripted and records what was sent. Not thread-safe: one test thread.
#ifndef SAGA_TESTS_FAKES_FAKE_OUTBOX_H_
#define SAGA_TESTS_FAKES_FAKE_OUTBOX_H_

#include <map>
#include <string>
#include <vector>

#include "outbox/message_producer.h"
#include "outbox/outbox_source.h"

namespace saga::testing {

class FakeOutboxSource : public outbox::OutboxSource {
 public:
  // Appends a row with the next id.
  int64_t Add(const std::string& key, const std::string& payload, const std::string& topic = "t");

  const std::string& name() const override { return name_; }
  // Holds `partitions`; above `share` it gives the highest back when allowed to.
  absl::StatusOr<outbox::PartitionLeases> Rebalance(const std::string&, absl::Duration,
                                                    bool may_release) override;
  absl::Status ReleaseAll(const std::string&) override { return absl::OkStatus(); }
  // Rows in id order, without parked rows, keys behind a parked row, or excluded ids.
  absl::StatusOr<std::vector<outbox::OutboxRow>> ReadBatch(
      const std::vector<int>&, int limit, const std::vector<int64_t>& excluded) override;
  absl::Status Settle(const std::vector<int64_t>& delivered,
                      const std::vector<outbox::RejectedRow>& rejected) override;
  absl::StatusOr<bool> WaitForRows(absl::Duration) override { return false; }
  absl::StatusOr<absl::Time> OldestWaiting(const std::vector<int>&) override {
    return rows.empty() ? absl::InfiniteFuture() : rows.begin()->second.created_at;
  }
  absl::StatusOr<int64_t> CountParked() override;

  std::vector<int> partitions = {0, 1, 2};
  int share = -1;                          // the fair share; -1: any number
  std::vector<bool> may_release_calls;     // Rebalance's may_release, per call
  int rows_waiting_at_release = -1;        // rows not yet deleted when partitions were given back
  int reads = 0;
  int settles = 0;
  std::map<int64_t, outbox::OutboxRow> rows;       // waiting, by id
  std::map<int64_t, bool> parked;                  // id -> parked
  std::vector<outbox::RejectedRow> rejections;     // every rejection settled, in order

 private:
  std::string name_ = "fake_outbox";
  int64_t next_id_ = 1;
};

class FakeProducer : public outbox::MessageProducer {
 public:
  void Begin(const std::vector<const outbox::OutboxRow*>& rows) override;
  std::vector<outbox::Delivery> Wait() override;
  absl::StatusOr<size_t> MaxMessageBytes(const std::string&) override { return max_bytes; }
  void ForgetMaxMessageBytes(const std::string&) override { ++forgotten; }

  size_t max_bytes = 1 << 20;
  int forgotten = 0;
  // Outcome per payload; payloads not listed are persisted.
  std::map<std::string, outbox::Delivery::Outcome> outcomes;
  std::vector<std::string> sent;  // payloads, in the order sent
  int begun = 0;                  // batches begun and not yet waited for

 private:
  std::vector<outbox::Delivery> results_;
};

}  // namespace saga::testing

#endif  // SAGA_TESTS_FAKES_FAKE_OUTBOX_H_
