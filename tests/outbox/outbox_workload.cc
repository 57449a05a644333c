#include "tests/outbox/outbox_workload.h"

#include <thread>

#include <pqxx/result>
#include <pqxx/transaction>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "sdk/base/strings.h"
#include "sdk/outbox/outbox_writer.h"
#include "tests/harness/wait.h"

namespace saga::testing {

absl::StatusOr<std::unique_ptr<OutboxWorkload>> OutboxWorkload::Create(pg::ConnectionPool* pool,
                                                                      WorkloadOptions options) {
  std::unique_ptr<OutboxWorkload> workload(new OutboxWorkload(pool, std::move(options)));
  absl::Status s = pool->Run("creating key counters", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    tx.exec("CREATE TABLE IF NOT EXISTS key_seq (k text PRIMARY KEY, n bigint NOT NULL)");
    tx.exec_params("INSERT INTO key_seq SELECT 'key-' || g, 0 FROM generate_series(1, $1) g "
                   "ON CONFLICT DO NOTHING",
                   workload->options_.keys);
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return workload;
}

absl::Status OutboxWorkload::Write(int rows) {
  std::atomic<int> next{0};
  absl::Mutex error_mu;
  absl::Status first_error;
  std::vector<std::thread> writers;
  for (int w = 0; w < options_.writers; ++w) {
    writers.emplace_back([&] {
      absl::BitGen random;
      while (true) {
        const int start = next.fetch_add(options_.rows_per_transaction);
        if (start >= rows) return;
        const int count = std::min(options_.rows_per_transaction, rows - start);
        const std::string key = saga::StrCat("key-", absl::Uniform(random, 1, options_.keys + 1));
        std::vector<std::string> ids;
        absl::Status s = pool_->Run("writing outbox rows", [&](pqxx::connection& conn) {
          ids.clear();
          pqxx::work tx(conn);
          // The row lock orders this key's transactions: numbers follow commit order.
          const int64_t last =
              tx.exec_params1("UPDATE key_seq SET n = n + $2 WHERE k = $1 RETURNING n", key, count)[0]
                  .as<int64_t>();
          std::vector<saga::v1::OutboxMessage> messages;
          for (int64_t n = last - count + 1; n <= last; ++n) {
            saga::v1::OutboxMessage& m = messages.emplace_back();
            m.set_topic(options_.topic);
            m.set_key(key);
            m.set_payload(saga::StrCat(n));
            (*m.mutable_headers())["traceparent"] =
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
          }
          // One row goes through the single-message writer, several through the batch one.
          if (messages.size() == 1) {
            auto id = sdk::WriteOutboxMessage(tx, messages[0]);
            if (!id.ok()) return id.status();
            ids.push_back(*id);
          } else {
            auto written = sdk::WriteOutboxMessages(tx, messages);
            if (!written.ok()) return written.status();
            ids = *std::move(written);
          }
          // Later ids may now commit before this one.
          Pause(absl::Microseconds(absl::Uniform<int64_t>(
              random, 0, absl::ToInt64Microseconds(options_.max_sleep_in_transaction) + 1)));
          tx.commit();
          return absl::OkStatus();
        });
        if (!s.ok()) {
          absl::MutexLock lock(&error_mu);
          if (first_error.ok()) first_error = s;
          next.store(rows);
          return;
        }
        {
          absl::MutexLock lock(&mu_);
          written_.insert(ids.begin(), ids.end());
        }
        if (options_.pause_between_transactions > absl::ZeroDuration()) {
          Pause(options_.pause_between_transactions);
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  return first_error;
}

size_t OutboxWorkload::written() const {
  absl::MutexLock lock(&mu_);
  return written_.size();
}

bool OutboxWorkload::AllConsumed(const std::vector<KafkaRecord>& records) const {
  absl::MutexLock lock(&mu_);
  // Called after every record of a growing list: only the new records are looked at.
  if (records.size() < arrivals_seen_) {
    arrivals_seen_ = 0;
    arrived_.clear();
  }
  for (; arrivals_seen_ < records.size(); ++arrivals_seen_) {
    const std::string& id = records[arrivals_seen_].message_id;
    if (written_.contains(id)) arrived_.insert(id);
  }
  return arrived_.size() == written_.size();
}

absl::StatusOr<CheckSummary> OutboxWorkload::Check(const std::vector<KafkaRecord>& records) const {
  absl::flat_hash_map<std::string, int64_t> counters;
  absl::Status s = pool_->Run("reading key counters", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec("SELECT k, n FROM key_seq")) {
      counters[row[0].as<std::string>()] = row[1].as<int64_t>();
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  CheckSummary summary;
  absl::flat_hash_set<std::string> seen;
  absl::flat_hash_map<std::string, int64_t> next;
  for (const KafkaRecord& r : records) {
    ++summary.consumed;
    if (!written_.contains(r.message_id)) {
      return absl::InternalError(saga::StrCat("consumed a message nobody wrote: id \"",
                                              r.message_id, "\" key ", r.key));
    }
    if (!seen.insert(r.message_id).second) {
      ++summary.duplicates;
      continue;
    }
    int64_t n = 0;
    if (!absl::SimpleAtoi(r.value, &n)) {
      return absl::InternalError(saga::StrCat("payload \"", r.value, "\" is not a number"));
    }
    int64_t& expected = next.try_emplace(r.key, 1).first->second;
    if (n != expected) {
      return absl::InternalError(saga::StrCat("key ", r.key, ": consumed number ", n,
                                              " where commit order gives ", expected,
                                              " (message ", r.message_id, ")"));
    }
    ++expected;
  }
  summary.distinct = seen.size();
  if (seen.size() != written_.size()) {
    return absl::InternalError(saga::StrCat(written_.size() - seen.size(), " of ",
                                            written_.size(), " written messages never arrived"));
  }
  for (const auto& [key, n] : counters) {
    const int64_t got = next.contains(key) ? next.at(key) - 1 : 0;
    if (got != n) {
      return absl::InternalError(
          saga::StrCat("key ", key, ": consumed up to ", got, " of ", n, " committed"));
    }
  }
  return summary;
}

}  // namespace saga::testing
