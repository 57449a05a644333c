// outbox_bench: outbox rows relayed per second, against the limits of the same machine in the
// same run, and commit-to-consume latency at a fixed offered load.
//
//   outbox_bench [--quick] [--rows N] [--rate ROWS_PER_S] [--seconds S] [--warmup S]
//
// It starts a throwaway PostgreSQL and a real Kafka broker (KRaft; $SAGAD_KAFKA_JARS, see
// scripts/fetch-kafka) and measures, each on a backlog of N committed rows of 100 bytes over
// 256 keys:
//   limit 1  PostgreSQL claim-and-delete rows/s: the relay's database side alone (read a batch
//            in id order, delete it), no Kafka;
//   limit 2  raw producer messages/s: librdkafka's idempotent producer (acks=all) sending N
//            messages of the same size to the same broker, waiting for every report;
//   relay    rows/s from the backlog to Kafka acknowledgement through the relay (this build).
// Then writers commit rows at a fixed rate (10-row transactions) while the relay runs and a
// consumer reads the topic: commit-to-consume latency p50 and p99 of the rows committed after
// a warm-up of the same load (10 s, 3 with --quick), and where that time goes.
// The last line is `ratio=` relay rows/s divided by min(limit 1, limit 2).
//
// Experiment switches (environment): OUTBOX_BENCH_BATCH (the relay's batch size),
// OUTBOX_BENCH_FETCH_MIN_BYTES (the latency consumer's fetch.min.bytes), OUTBOX_BENCH_RELAY_ONLY
// (the relay phase alone, for profiling), OUTBOX_BENCH_DEBUG (debug logs); for the test broker's
// JVM, SAGAD_TEST_KAFKA_JVM_OPTS (tests/harness/kafka_broker.cc).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <pqxx/pqxx>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/relay_stage_trace.h"
#include "outbox/kafka/kafka_producer.h"
#include "outbox/pg/pg_outbox_source.h"
#include "outbox/relay.h"
#include "migrations/migrator.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/outbox/outbox_writer.h"
#include "sdk/pg/connection_pool.h"
#include "tests/harness/kafka_broker.h"
#include "tests/harness/kafka_client.h"
#include "tests/harness/postgres_server.h"

namespace {

constexpr int kPayloadBytes = 100;
constexpr int kKeys = 256;

struct Args {
  bool quick = false;
  int rows = 200000;
  int rate = 10000;
  int seconds = 15;
  int warmup = 10;  // seconds of the same load before the latency counts (the broker's JIT)
};

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::cerr << "outbox_bench: " << what << ": " << status << "\n";
  std::exit(1);
}

std::string NewDatabase(saga::testing::PostgresServer& pg, const std::string& name) {
  auto dsn = pg.CreateDatabase(name);
  if (!dsn.ok()) Die("creating a database", dsn.status());
  auto pool = saga::pg::ConnectionPool::Create(*dsn, {.max_connections = 1});
  if (!pool.ok()) Die("connecting", pool.status());
  auto migrated = saga::migrations::Migrator(pool->get()).Migrate();
  if (!migrated.ok()) Die("migrating", migrated.status());
  return *dsn;
}

void Prefill(const std::string& dsn, const std::string& topic, int rows) {
  pqxx::connection conn(dsn);
  pqxx::work tx(conn);
  tx.exec_params(
      "INSERT INTO outbox (topic, msg_key, payload, message_id) "
      "SELECT $1, convert_to('key-' || (g % $3), 'UTF8'), convert_to(repeat('x', $4), 'UTF8'), "
      "'m-' || g FROM generate_series(1, $2) g",
      topic, rows, kKeys, kPayloadBytes);
  tx.commit();
  pqxx::nontransaction(conn).exec("VACUUM ANALYZE outbox");
}

int64_t OutboxRows(pqxx::connection& conn) {
  return pqxx::nontransaction(conn).exec("SELECT count(*) FROM outbox")[0][0].as<int64_t>();
}

int BatchSize() {
  const char* v = std::getenv("OUTBOX_BENCH_BATCH");
  return v != nullptr ? std::atoi(v) : saga::outbox::RelayOptions{}.batch_size;
}

// Limit 1: the relay's PostgreSQL work without Kafka.
double ClaimAndDeleteRowsPerSecond(const std::string& dsn, int rows) {
  Prefill(dsn, "bench", rows);
  auto source = saga::outbox::pg::PgOutboxSource::Create(dsn, "outbox");
  if (!source.ok()) Die("opening the outbox", source.status());
  std::vector<int> partitions;
  for (int p = 0; p < saga::outbox::kOutboxPartitions; ++p) partitions.push_back(p);
  const absl::Time start = absl::Now();
  int64_t done = 0;
  while (true) {
    auto batch = (*source)->ReadBatch(partitions, BatchSize(), {});
    if (!batch.ok()) Die("reading", batch.status());
    if (batch->empty()) break;
    std::vector<int64_t> ids;
    for (const auto& row : *batch) ids.push_back(row.id);
    if (absl::Status s = (*source)->Settle(ids, {}); !s.ok()) Die("deleting", s);
    done += static_cast<int64_t>(ids.size());
  }
  return static_cast<double>(done) / absl::ToDoubleSeconds(absl::Now() - start);
}

// Limit 2: librdkafka alone.
double RawProducerMessagesPerSecond(const std::string& bootstrap, int rows) {
  std::vector<std::pair<std::string, std::string>> records;
  records.reserve(rows);
  for (int i = 0; i < rows; ++i) {
    records.emplace_back(saga::StrCat("key-", i % kKeys), std::string(kPayloadBytes, 'x'));
  }
  const std::string topic = "bench-raw";
  if (absl::Status s = saga::testing::CreateTopic(bootstrap, topic, 8); !s.ok()) {
    Die("creating a topic", s);
  }
  // Warm the producer's connection and metadata with a small batch first.
  (void)saga::testing::ProduceAll(bootstrap, topic, {records.front()}, absl::Seconds(30));
  const absl::Time start = absl::Now();
  if (absl::Status s = saga::testing::ProduceAll(bootstrap, topic, records, absl::Minutes(5));
      !s.ok()) {
    Die("producing", s);
  }
  return rows / absl::ToDoubleSeconds(absl::Now() - start);
}

struct RelayRig {
  std::unique_ptr<saga::outbox::pg::PgOutboxSource> source;
  std::unique_ptr<saga::outbox::kafka::KafkaProducer> producer;
  saga::RealClock clock;
  // With a stage log, the relay works through decorators that note when each row was read,
  // sent and acknowledged.
  std::unique_ptr<saga::bench::TracedSource> traced_source;
  std::unique_ptr<saga::bench::TracedProducer> traced_producer;
  std::unique_ptr<saga::outbox::OutboxRelay> relay;
};

std::unique_ptr<RelayRig> StartRelay(const std::string& dsn, const std::string& bootstrap,
                                     saga::bench::StageLog* stages = nullptr) {
  auto rig = std::make_unique<RelayRig>();
  auto source = saga::outbox::pg::PgOutboxSource::Create(dsn, "outbox");
  if (!source.ok()) Die("opening the outbox", source.status());
  rig->source = *std::move(source);
  auto producer = saga::outbox::kafka::KafkaProducer::Create({.bootstrap_servers = bootstrap});
  if (!producer.ok()) Die("creating the producer", producer.status());
  rig->producer = *std::move(producer);
  saga::outbox::OutboxSource* source_used = rig->source.get();
  saga::outbox::MessageProducer* producer_used = rig->producer.get();
  if (stages != nullptr) {
    rig->traced_source = std::make_unique<saga::bench::TracedSource>(source_used, stages);
    rig->traced_producer = std::make_unique<saga::bench::TracedProducer>(producer_used, stages);
    source_used = rig->traced_source.get();
    producer_used = rig->traced_producer.get();
  }
  rig->relay = std::make_unique<saga::outbox::OutboxRelay>(
      source_used, producer_used, &rig->clock,
      saga::outbox::RelayOptions{.relay_id = "bench", .batch_size = BatchSize()});
  rig->relay->Start();
  return rig;
}

double RelayRowsPerSecond(const std::string& dsn, const std::string& bootstrap, int rows) {
  const std::string topic = "bench-relay";
  if (absl::Status s = saga::testing::CreateTopic(bootstrap, topic, 8); !s.ok()) {
    Die("creating a topic", s);
  }
  pqxx::connection conn(dsn);
  // A running relay with a warm producer (connection, metadata, producer id), then the
  // backlog commits at once.
  auto rig = StartRelay(dsn, bootstrap);
  Prefill(dsn, topic, 1);
  while (OutboxRows(conn) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int64_t before = rig->relay->stats().delivered;
  Prefill(dsn, topic, rows);
  std::fprintf(stderr, "outbox_bench: backlog committed, relaying\n");
  const absl::Time start = absl::Now();
  // The relay's own count, not count(*) on the table, which would compete with it.
  while (rig->relay->stats().delivered - before < rows) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  rig->relay->Stop();
  return rows / elapsed;
}

struct Latency {
  double offered = 0;  // rows/s committed
  double p50_ms = 0;
  double p99_ms = 0;
  size_t samples = 0;
};

double Percentile(std::vector<double>& values, int p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, values.size() * p / 100)];
}

// Where the time goes: commit -> read by the relay -> sent -> every report of its batch back,
// and sent -> consumed; p50 and p99 of each stage over all rows, and the stages' medians over
// the slowest 1% of rows (what makes the tail).
void PrintStages(const absl::flat_hash_map<std::string, absl::Time>& committed,
                 const absl::flat_hash_map<std::string, absl::Time>& consumed,
                 const absl::flat_hash_map<std::string, saga::bench::RowStages>& stages) {
  struct Row {
    double total, to_read, to_send, to_report, to_consume;
  };
  std::vector<Row> rows;
  for (const auto& [id, at] : committed) {
    auto c = consumed.find(id);
    auto s = stages.find(id);
    if (c == consumed.end() || s == stages.end()) continue;
    auto ms = [](absl::Time from, absl::Time to) { return absl::ToDoubleMilliseconds(to - from); };
    rows.push_back({ms(at, c->second), ms(at, s->second.read), ms(s->second.read, s->second.sent),
                    ms(s->second.sent, s->second.reported), ms(s->second.sent, c->second)});
  }
  if (rows.empty()) return;
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.total < b.total; });
  const size_t tail_from = rows.size() * 99 / 100;
  auto stage = [&](const char* name, double Row::*field) {
    std::vector<double> all, tail;
    for (size_t i = 0; i < rows.size(); ++i) {
      all.push_back(rows[i].*field);
      if (i >= tail_from) tail.push_back(rows[i].*field);
    }
    const double p50 = Percentile(all, 50), p99 = Percentile(all, 99);
    std::printf("  %-34s p50 %6.1f ms  p99 %6.1f ms  slowest 1%%: median %6.1f ms\n", name, p50,
                p99, Percentile(tail, 50));
  };
  std::printf("stages of commit-to-consume (%zu rows):\n", rows.size());
  stage("commit -> read by the relay", &Row::to_read);
  stage("read -> sent (waits for the batch before)", &Row::to_send);
  stage("sent -> its batch's reports all back", &Row::to_report);
  stage("sent -> consumed", &Row::to_consume);
  stage("commit -> consumed", &Row::total);
}

// Writers commit 10-row transactions on a fixed schedule; a consumer assigned to every
// partition from the start records when each message arrives.
Latency CommitToConsume(const std::string& dsn, const std::string& bootstrap, int rate,
                        int seconds, int warmup) {
  const std::string topic = "bench-latency";
  const int partitions = 8;
  if (absl::Status s = saga::testing::CreateTopic(bootstrap, topic, partitions); !s.ok()) {
    Die("creating a topic", s);
  }
  absl::Mutex mu;
  absl::flat_hash_map<std::string, absl::Time> committed;
  absl::flat_hash_map<std::string, absl::Time> consumed;
  std::atomic<bool> stop{false};

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", "bench-latency", errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", errstr, sizeof(errstr));
  if (const char* min_bytes = std::getenv("OUTBOX_BENCH_FETCH_MIN_BYTES")) {
    rd_kafka_conf_set(conf, "fetch.min.bytes", min_bytes, errstr, sizeof(errstr));
  }
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof(errstr));
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  std::thread reader([&] {
    while (!stop) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
      if (m == nullptr) continue;
      const absl::Time now = absl::Now();
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_t* headers = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(headers, "message-id", &value, &size) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
          absl::MutexLock lock(&mu);
          consumed.try_emplace(std::string(static_cast<const char*>(value), size), now);
        }
      }
      rd_kafka_message_destroy(m);
    }
  });

  saga::bench::StageLog stages;
  auto rig = StartRelay(dsn, bootstrap, &stages);
  {
    // Warm the relay's producer first: its first send waits for a producer id and metadata.
    pqxx::connection conn(dsn);
    pqxx::work tx(conn);
    saga::v1::OutboxMessage m;
    m.set_topic(topic);
    m.set_key("warm-up");
    m.set_payload("x");
    if (!saga::sdk::WriteOutboxMessage(tx, m).ok()) Die("writing", absl::InternalError("warm-up"));
    tx.commit();
    while (OutboxRows(conn) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  constexpr int kWriters = 4;
  constexpr int kRowsPerTransaction = 10;
  const absl::Duration interval =
      absl::Seconds(1) * kWriters * kRowsPerTransaction / std::max(rate, 1);
  const absl::Time start = absl::Now();
  // The load runs `warmup` seconds before the rows whose latency counts: the broker's JVM is
  // still compiling its hot paths (a C2 compiler thread took a third of a core) at first.
  const absl::Time measure_from = start + absl::Seconds(warmup);
  const absl::Time end = measure_from + absl::Seconds(seconds);
  absl::flat_hash_map<std::string, absl::Time> measured;  // committed after the warm-up
  std::atomic<int64_t> written{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      pqxx::connection conn(dsn);
      absl::Time next = start + interval * w / kWriters;
      int64_t n = 0;
      while (next < end) {
        const absl::Time now = absl::Now();
        if (next > now) std::this_thread::sleep_for(absl::ToChronoNanoseconds(next - now));
        next += interval;
        pqxx::work tx(conn);
        std::vector<saga::v1::OutboxMessage> messages(kRowsPerTransaction);
        for (saga::v1::OutboxMessage& m : messages) {
          m.set_topic(topic);
          m.set_key(saga::StrCat("key-", (w * 7919 + n) % kKeys));
          m.set_payload(std::string(kPayloadBytes, 'x'));
          m.set_message_id(saga::StrCat("w", w, "-", n++));
        }
        auto stored = saga::sdk::WriteOutboxMessages(tx, messages);
        if (!stored.ok()) Die("writing", stored.status());
        std::vector<std::string> ids = *std::move(stored);
        tx.commit();
        const absl::Time at = absl::Now();
        absl::MutexLock lock(&mu);
        for (std::string& id : ids) {
          if (at >= measure_from) measured.emplace(id, at);
          committed.emplace(std::move(id), at);
        }
        if (at >= measure_from) written += kRowsPerTransaction;
      }
    });
  }
  for (std::thread& t : writers) t.join();
  const double offered = written / absl::ToDoubleSeconds(absl::Now() - measure_from);
  // Let the last rows arrive.
  const absl::Time drain_deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < drain_deadline) {
    {
      absl::MutexLock lock(&mu);
      if (consumed.size() >= committed.size()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  reader.join();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rig->relay->Stop();
  const saga::outbox::RelayStats relay_stats = rig->relay->stats();
  std::printf("relay during the latency run: %lld batches, %.0f rows per batch\n",
              static_cast<long long>(relay_stats.cycles),
              relay_stats.cycles > 0 ? static_cast<double>(relay_stats.delivered) /
                                           static_cast<double>(relay_stats.cycles)
                                     : 0.0);

  std::vector<double> latencies;
  absl::MutexLock lock(&mu);
  PrintStages(measured, consumed, stages.Take());
  std::printf("the relay's calls during the latency run (warm-up included):\n");
  for (auto& [call, ms] : stages.TakeCalls()) {
    const double max = *std::max_element(ms.begin(), ms.end());
    const size_t n = ms.size();
    std::printf("  %-16s %6zu calls  p50 %6.2f ms  p99 %6.2f ms  max %6.1f ms\n", call.c_str(), n,
                Percentile(ms, 50), Percentile(ms, 99), max);
  }
  for (const auto& [id, at] : measured) {
    auto it = consumed.find(id);
    if (it != consumed.end()) latencies.push_back(absl::ToDoubleMilliseconds(it->second - at));
  }
  std::sort(latencies.begin(), latencies.end());
  Latency result{.offered = offered, .samples = latencies.size()};
  if (!latencies.empty()) {
    result.p50_ms = latencies[latencies.size() / 2];
    result.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  if (latencies.size() != measured.size()) {
    std::cerr << "outbox_bench: only " << latencies.size() << " of " << measured.size()
              << " committed rows were consumed\n";
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next_int = [&](int* out) {
      if (i + 1 >= argc || !absl::SimpleAtoi(argv[++i], out)) {
        std::cerr << "outbox_bench: " << a << " needs a number\n";
        std::exit(2);
      }
    };
    if (a == "--quick") {
      args.quick = true;
      args.rows = 50000;
      args.seconds = 5;
      args.warmup = 3;
    } else if (a == "--rows") {
      next_int(&args.rows);
    } else if (a == "--rate") {
      next_int(&args.rate);
    } else if (a == "--seconds") {
      next_int(&args.seconds);
    } else if (a == "--warmup") {
      next_int(&args.warmup);
    } else {
      std::cerr << "usage: outbox_bench [--quick] [--rows N] [--rate ROWS_PER_S] [--seconds S] "
                   "[--warmup S]\n";
      return 2;
    }
  }
  saga::SetMinLogLevel(std::getenv("OUTBOX_BENCH_DEBUG") ? saga::LogLevel::kDebug : saga::LogLevel::kWarning);
  auto pg = saga::testing::PostgresServer::Start();
  if (!pg.ok()) Die("starting PostgreSQL", pg.status());
  auto kafka = saga::testing::KafkaBroker::Start();
  if (!kafka.ok()) Die("starting Kafka", kafka.status());
  const std::string bootstrap = (*kafka)->bootstrap_servers();
  std::printf("backlog %d rows of %d bytes over %d keys; PostgreSQL on 127.0.0.1:%d; Kafka %s\n",
              args.rows, kPayloadBytes, kKeys, (*pg)->port(), bootstrap.c_str());

  if (std::getenv("OUTBOX_BENCH_RELAY_ONLY") != nullptr) {  // for profiling the relay alone
    std::printf("relay rows/s %.0f\n",
                RelayRowsPerSecond(NewDatabase(**pg, "relay"), bootstrap, args.rows));
    return 0;
  }
  const double claim = ClaimAndDeleteRowsPerSecond(NewDatabase(**pg, "claim"), args.rows);
  std::printf("limit 1: PostgreSQL claim-and-delete rows/s: %.0f\n", claim);
  const double raw = RawProducerMessagesPerSecond(bootstrap, args.rows);
  std::printf("limit 2: raw idempotent producer messages/s (acks=all): %.0f\n", raw);
  const double relay = RelayRowsPerSecond(NewDatabase(**pg, "relay"), bootstrap, args.rows);
  std::printf("relay: rows/s from committed backlog to Kafka acknowledgement: %.0f\n", relay);
  const Latency latency =
      CommitToConsume(NewDatabase(**pg, "latency"), bootstrap, args.rate, args.seconds,
                      args.warmup);
  std::printf(
      "latency at %.0f rows/s offered for %d s after a %d s warm-up (4 writers, 10-row "
      "transactions of one INSERT): commit-to-consume p50 %.1f ms, p99 %.1f ms (%zu rows)\n",
      latency.offered, args.seconds, args.warmup, latency.p50_ms, latency.p99_ms,
      latency.samples);
  const double limit = std::min(claim, raw);
  std::printf("relay rows/s %.0f, min(limit 1, limit 2) %.0f\n", relay, limit);
  std::printf("report: bench=outbox_bench figure=\"relay rows/s, committed backlog to Kafka "
              "acknowledgement\" value=%.0f limit=\"min(PostgreSQL claim-and-delete rows/s, raw "
              "producer msg/s)\" limit_value=%.0f ratio=%.3f p50_ms=%.1f p99_ms=%.1f "
              "latency=\"commit-to-consume at %.0f rows/s offered\" target=\"ratio >= 0.7; p99 "
              "<= 20 ms at 10,000 rows/s\"\n",
              relay, limit, limit > 0 ? relay / limit : 0.0, latency.p50_ms, latency.p99_ms,
              latency.offered);
  std::printf("ratio=%.3f\n", limit > 0 ? relay / limit : 0.0);
  return 0;
}
