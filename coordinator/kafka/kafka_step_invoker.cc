#include "coordinator/kafka/kafka_step_invoker.h"

#include <pqxx/transaction>

#include "absl/strings/numbers.h"
#include "coordinator/kafka_command.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/outbox/outbox_writer.h"

namespace saga::coordinator::kafka {
namespace {

std::string Header(const sdk::InboxMessage& m, std::string_view name) {
  for (const auto& [n, v] : m.headers) {
    if (n == name) return v;
  }
  return "";
}

}  // namespace

KafkaStepInvoker::KafkaStepInvoker(pg::ConnectionPool* pool, KafkaStepOptions options)
    : pool_(pool), options_(std::move(options)) {
  writer_ = std::thread([this] { RunWriter(); });
}

KafkaStepInvoker::~KafkaStepInvoker() { Stop(); }

void KafkaStepInvoker::Invoke(const Invocation& invocation,
                              std::function<void(absl::Status)> done) {
  std::function<void(absl::Status)> superseded;
  bool stopped = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      stopped = true;
      superseded = std::move(done);
    } else if (!invocation.command_committed) {
      queue_.push_back({invocation, std::move(done)});
      return;
    } else {
      // The command is durable already: wait for its reply from now on (the writer thread
      // makes sure a consumer reads the reply topic).
      auto it = waiting_.find(invocation.idempotency_key);
      if (it != waiting_.end()) superseded = std::move(it->second.done);
      waiting_[invocation.idempotency_key] =
          Waiting{.done = std::move(done), .deadline = absl::Now() + invocation.timeout};
      queue_.push_back({invocation, nullptr});
      if (superseded == nullptr) return;
    }
  }
  superseded(stopped ? absl::UnavailableError("sagad is stopping")
                     : absl::DeadlineExceededError("superseded by a newer attempt of the same call"));
}

void KafkaStepInvoker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  absl::flat_hash_map<std::string, std::unique_ptr<ReplyConsumer>> consumers;
  absl::flat_hash_map<std::string, Waiting> waiting;
  {
    absl::MutexLock lock(&mu_);
    consumers.swap(consumers_);
    waiting.swap(waiting_);
  }
  for (auto& [topic, c] : consumers) c->consumer->Stop();
  for (auto& [topic, c] : consumers) c->thread.join();
  for (auto& [key, w] : waiting) w.done(absl::UnavailableError("sagad is stopping"));
}

void KafkaStepInvoker::RunWriter() {
  while (true) {
    std::vector<Command> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](KafkaStepInvoker* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                                 return self->stopping_ || !self->queue_.empty();
                               },
                               this),
                           absl::Milliseconds(20));
      batch.swap(queue_);
      if (stopping_) {
        for (Command& c : batch) queue_.push_back(std::move(c));
        break;
      }
    }
    ExpireWaiting();
    if (batch.empty()) continue;
    for (const Command& c : batch) EnsureReplyConsumer(c.invocation.endpoint.kafka().reply_topic());
    // Commands committed by the engine need nothing more; the others are written here.
    std::erase_if(batch, [](const Command& c) { return c.invocation.command_committed; });
    if (batch.empty()) continue;
    // Waiting before the commit: a reply can never come before its call is known.
    std::vector<std::function<void(absl::Status)>> superseded;
    {
      absl::MutexLock lock(&mu_);
      for (Command& c : batch) {
        auto it = waiting_.find(c.invocation.idempotency_key);
        if (it != waiting_.end()) superseded.push_back(std::move(it->second.done));
        waiting_[c.invocation.idempotency_key] =
            Waiting{.done = c.done, .deadline = absl::Now() + c.invocation.timeout};
      }
    }
    for (auto& done : superseded) {
      done(absl::DeadlineExceededError("superseded by a newer attempt of the same call"));
    }
    if (absl::Status s = WriteCommands(batch); !s.ok()) {
      std::vector<std::function<void(absl::Status)>> failed;
      {
        absl::MutexLock lock(&mu_);
        for (const Command& c : batch) {
          auto it = waiting_.find(c.invocation.idempotency_key);
          if (it == waiting_.end()) continue;
          failed.push_back(std::move(it->second.done));
          waiting_.erase(it);
        }
      }
      // Not sent: a transient failure, retried by the engine.
      for (auto& done : failed) done(absl::UnavailableError(s.message()));
    }
  }
  // Stopping: calls never written fail now.
  std::vector<Command> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(queue_);
  }
  for (Command& c : left) {
    if (c.done) c.done(absl::UnavailableError("sagad is stopping"));
  }
}

absl::Status KafkaStepInvoker::WriteCommands(const std::vector<Command>& commands) {
  std::vector<saga::v1::OutboxMessage> messages;
  messages.reserve(commands.size());
  for (const Command& c : commands) messages.push_back(KafkaCommand(c.invocation));
  return pool_->Run("writing Kafka step commands", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    outbox::MessageLimits limits;
    limits.max_payload_bytes = 64 << 20;  // payloads were checked at StartSaga
    auto written = sdk::WriteOutboxMessages(tx, messages, "outbox", limits);
    if (!written.ok()) return written.status();
    tx.commit();
    return absl::OkStatus();
  });
}

void KafkaStepInvoker::EnsureReplyConsumer(const std::string& reply_topic) {
  {
    absl::MutexLock lock(&mu_);
    if (consumers_.contains(reply_topic)) return;
  }
  auto consumer = sdk::IdempotentConsumer::Create(
      {.bootstrap_servers = options_.bootstrap_servers,
       .group_id = saga::StrCat("sagad-replies-", options_.instance_id),
       .topics = {reply_topic},
       .pg_dsn = options_.pg_dsn,
       .kafka_settings = options_.kafka_settings},
      [this](pqxx::work&, const sdk::InboxMessage& reply) { return OnReply(reply); });
  if (!consumer.ok()) {
    LogError("cannot consume Kafka step replies; the steps will time out",
             {{"topic", reply_topic}, {"error", std::string(consumer.status().message())}});
    return;
  }
  auto reply_consumer = std::make_unique<ReplyConsumer>();
  reply_consumer->consumer = *std::move(consumer);
  sdk::IdempotentConsumer* raw = reply_consumer->consumer.get();
  reply_consumer->thread = std::thread([raw, reply_topic] {
    if (absl::Status s = raw->Run(); !s.ok()) {
      LogError("Kafka step reply consumer stopped",
               {{"topic", reply_topic}, {"error", std::string(s.message())}});
    }
  });
  absl::MutexLock lock(&mu_);
  consumers_[reply_topic] = std::move(reply_consumer);
}

absl::Status KafkaStepInvoker::OnReply(const sdk::InboxMessage& reply) {
  const std::string key = Header(reply, "idempotency-key");
  int code = 0;
  if (key.empty() || !absl::SimpleAtoi(Header(reply, "saga-status"), &code) || code < 0 ||
      code > 16) {
    LogWarning("Kafka step reply without idempotency-key or saga-status; dropped",
               {{"topic", reply.topic}, {"message_id", reply.message_id}});
    return absl::OkStatus();
  }
  std::function<void(absl::Status)> done;
  {
    absl::MutexLock lock(&mu_);
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return absl::OkStatus();  // duplicated, late, or another instance's
    done = std::move(it->second.done);
    waiting_.erase(it);
  }
  done(code == 0 ? absl::OkStatus()
                 : absl::Status(static_cast<absl::StatusCode>(code), Header(reply, "saga-error")));
  return absl::OkStatus();
}

void KafkaStepInvoker::ExpireWaiting() {
  const absl::Time now = absl::Now();
  std::vector<std::function<void(absl::Status)>> expired;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(std::move(it->second.done));
        waiting_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& done : expired) {
    done(absl::DeadlineExceededError("no reply from the Kafka participant within the step timeout"));
  }
}

}  // namespace saga::coordinator::kafka
