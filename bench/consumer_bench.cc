// consumer_bench: messages per second applied by the idempotent consumer (deduplication in the
// effect's transaction), against a plain consumer doing the same effect without it, in the
// same run on the same machine.
//
//   consumer_bench [--quick] [--messages N] [--batch B]
//
// It starts a throwaway PostgreSQL and a real Kafka broker (KRaft; $SAGAD_KAFKA_JARS), produces
// N messages (100-byte payloads, message-id headers) to an 8-partition topic, then consumes
// them from the start twice, each in a new consumer group and into a fresh table:
//   limit  a plain consumer: batches of B messages, one transaction per batch, one INSERT of
//          the message per message (the handler's effect), offsets stored after the commit;
//   inbox  sdk::IdempotentConsumer in batch mode (B): the same transactions and INSERTs, plus
//          the inbox insert of the batch's ids (duplicates skipped);
// and reports each one's messages/s and per-batch commit latency p50/p99. The last line is
// `ratio=` inbox messages/s divided by plain messages/s (target >= 0.8).
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>

#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "migrations/migrator.h"
#include "outbox/kafka/kafka_producer.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/inbox/idempotent_consumer.h"
#include "sdk/pg/connection_pool.h"
#include "tests/harness/kafka_broker.h"
#include "tests/harness/kafka_client.h"
#include "tests/harness/postgres_server.h"

namespace {

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::cerr << "consumer_bench: " << what << ": " << status << "\n";
  std::exit(1);
}

std::string NewDatabase(saga::testing::PostgresServer& pg, const std::string& name) {
  auto dsn = pg.CreateDatabase(name);
  if (!dsn.ok()) Die("creating a database", dsn.status());
  auto pool = saga::pg::ConnectionPool::Create(*dsn, {.max_connections = 1});
  if (!pool.ok()) Die("connecting", pool.status());
  if (auto m = saga::migrations::Migrator(pool->get()).Migrate(); !m.ok()) Die("migrating", m.status());
  pqxx::connection conn(*dsn);
  pqxx::nontransaction(conn).exec("CREATE TABLE effects (message_id text NOT NULL, payload bytea)");
  return *dsn;
}

void Produce(const std::string& bootstrap, const std::string& topic, int messages) {
  auto producer = saga::outbox::kafka::KafkaProducer::Create({.bootstrap_servers = bootstrap});
  if (!producer.ok()) Die("producer", producer.status());
  std::vector<saga::outbox::OutboxRow> rows(messages);
  for (int i = 0; i < messages; ++i) {
    rows[i] = {.topic = topic, .key = saga::StrCat("key-", i % 256),
               .payload = std::string(100, 'x'), .message_id = saga::StrCat("m-", i)};
  }
  for (int start = 0; start < messages; start += 10000) {
    std::vector<const saga::outbox::OutboxRow*> batch;
    for (int i = start; i < std::min(messages, start + 10000); ++i) batch.push_back(&rows[i]);
    for (const auto& d : (*producer)->Send(batch)) {
      if (d.outcome != saga::outbox::Delivery::Outcome::kPersisted) {
        Die("producing", absl::UnavailableError(d.error));
      }
    }
  }
}

struct Result {
  double per_second = 0;
  std::vector<double> commit_ms;  // each transaction's duration

  double Percentile(double q) {
    if (commit_ms.empty()) return 0;
    std::sort(commit_ms.begin(), commit_ms.end());
    return commit_ms[std::min(commit_ms.size() - 1, static_cast<size_t>(commit_ms.size() * q))];
  }
};

// The plain consumer: what a service does without deduplication.
Result Plain(const std::string& bootstrap, const std::string& topic, const std::string& dsn,
             int messages, int batch) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", bootstrap}, {"group.id", "plain"},
           {"auto.offset.reset", "earliest"}, {"enable.auto.offset.store", "false"},
           {"socket.nagle.disable", "true"}}) {
    rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof(errstr));
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  pqxx::connection conn(dsn);
  int done = 0;
  absl::Time start = absl::InfinitePast();
  std::vector<double> commit_ms;
  while (done < messages) {
    std::vector<rd_kafka_message_t*> got;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    while (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        got.push_back(m);
      } else {
        rd_kafka_message_destroy(m);
      }
      if (static_cast<int>(got.size()) >= batch) break;
      m = rd_kafka_consumer_poll(rk, 0);
    }
    if (got.empty()) continue;
    if (start == absl::InfinitePast()) start = absl::Now();  // from the first message, as inbox
    const absl::Time began = absl::Now();
    pqxx::work tx(conn);
    for (rd_kafka_message_t* msg : got) {
      rd_kafka_headers_t* headers = nullptr;
      const void* id = nullptr;
      size_t size = 0;
      rd_kafka_message_headers(msg, &headers);
      rd_kafka_header_get_last(headers, "message-id", &id, &size);
      tx.exec_params("INSERT INTO effects (message_id, payload) VALUES ($1, $2)",
                     std::string(static_cast<const char*>(id), size),
                     pqxx::binarystring(std::string(static_cast<const char*>(msg->payload), msg->len)));
    }
    tx.commit();
    commit_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - began));
    for (rd_kafka_message_t* msg : got) {
      rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
      rd_kafka_topic_partition_list_add(offsets, rd_kafka_topic_name(msg->rkt), msg->partition)
          ->offset = msg->offset + 1;
      rd_kafka_offsets_store(rk, offsets);
      rd_kafka_topic_partition_list_destroy(offsets);
      rd_kafka_message_destroy(msg);
    }
    done += static_cast<int>(got.size());
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return {.per_second = messages / seconds, .commit_ms = std::move(commit_ms)};
}

Result Inbox(const std::string& bootstrap, const std::string& topic, const std::string& dsn,
             int messages, int batch) {
  std::atomic<int64_t> first_at{0};
  std::vector<double> commit_ms;  // written by the consumer's thread, read after it joined
  auto consumer = saga::sdk::IdempotentConsumer::Create(
      {.bootstrap_servers = bootstrap, .group_id = "inbox", .topics = {topic}, .pg_dsn = dsn,
       .batch_size = batch,
       .on_commit = [&](absl::Duration d, int) { commit_ms.push_back(absl::ToDoubleMilliseconds(d)); }},
      [&](pqxx::work& tx, const saga::sdk::InboxMessage& m) -> absl::Status {
        int64_t zero = 0;
        first_at.compare_exchange_strong(zero, absl::ToUnixMicros(absl::Now()));
        tx.exec_params("INSERT INTO effects (message_id, payload) VALUES ($1, $2)", m.message_id,
                       pqxx::binarystring(m.payload));
        return absl::OkStatus();
      });
  if (!consumer.ok()) Die("consumer", consumer.status());
  std::thread runner([&] { (void)(*consumer)->Run(); });
  while ((*consumer)->stats().applied < messages) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const absl::Time end = absl::Now();
  (*consumer)->Stop();
  runner.join();
  return {.per_second = messages / absl::ToDoubleSeconds(end - absl::FromUnixMicros(first_at)),
          .commit_ms = std::move(commit_ms)};
}

}  // namespace

int main(int argc, char** argv) {
  int messages = 200000;
  int batch = 500;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      messages = 50000;
    } else if (a == "--messages" && i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &messages)) {
      ++i;
    } else if (a == "--batch" && i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &batch)) {
      ++i;
    } else {
      std::cerr << "usage: consumer_bench [--quick] [--messages N] [--batch B]\n";
      return 2;
    }
  }
  saga::SetMinLogLevel(saga::LogLevel::kWarning);
  auto pg = saga::testing::PostgresServer::Start();
  if (!pg.ok()) Die("starting PostgreSQL", pg.status());
  auto kafka = saga::testing::KafkaBroker::Start();
  if (!kafka.ok()) Die("starting Kafka", kafka.status());
  const std::string bootstrap = (*kafka)->bootstrap_servers();
  const std::string topic = "bench-consume";
  if (auto s = saga::testing::CreateTopic(bootstrap, topic, 8); !s.ok()) Die("topic", s);
  Produce(bootstrap, topic, messages);
  std::printf("%d messages of 100 bytes, 8 partitions; batches of %d messages per transaction\n",
              messages, batch);
  // The plain consumer first: it also warms the broker's fetch path for the second.
  Result plain1 = Plain(bootstrap, topic, NewDatabase(**pg, "plain1"), messages, batch);
  Result inbox1 = Inbox(bootstrap, topic, NewDatabase(**pg, "inbox1"), messages, batch);
  std::printf("limit: plain consumer, same INSERT per message, no deduplication: %.0f msg/s "
              "(transaction p50 %.1f ms, p99 %.1f ms)\n",
              plain1.per_second, plain1.Percentile(0.5), plain1.Percentile(0.99));
  std::printf("inbox: IdempotentConsumer (deduplicated in the same transaction): %.0f msg/s "
              "(transaction p50 %.1f ms, p99 %.1f ms)\n",
              inbox1.per_second, inbox1.Percentile(0.5), inbox1.Percentile(0.99));
  std::printf("report: bench=consumer_bench figure=\"messages/s applied once (IdempotentConsumer)\" "
              "value=%.0f limit=\"plain consumer msg/s, same INSERT, no deduplication\" "
              "limit_value=%.0f ratio=%.3f p50_ms=%.1f p99_ms=%.1f latency=\"per transaction of "
              "%d messages\" target=\"ratio >= 0.8\"\n",
              inbox1.per_second, plain1.per_second, inbox1.per_second / plain1.per_second,
              inbox1.Percentile(0.5), inbox1.Percentile(0.99), batch);
  std::printf("ratio=%.3f\n", inbox1.per_second / plain1.per_second);
  return 0;
}
