#include "coordinator/kafka/kafka_step_invoker.h"

#include "absl/strings/numbers.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"

namespace saga::coordinator::kafka {

KafkaStepInvoker::KafkaStepInvoker(KafkaStepOptions options) : options_(std::move(options)) {
  keeper_ = std::thread([this] { RunKeeper(); });
}

KafkaStepInvoker::~KafkaStepInvoker() { Stop(); }

void KafkaStepInvoker::Invoke(const Invocation& invocation,
                              std::function<void(absl::Status)> done) {
  if (!invocation.command_committed) {
    return done(absl::InternalError(
        "a Kafka step's command must commit with the transition that dispatches it"));
  }
  std::function<void(absl::Status)> superseded;
  bool stopped = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      stopped = true;
      superseded = std::move(done);
    } else {
      // The command is durable: wait for its reply from now on (the keeper thread makes sure
      // a consumer reads the reply topic).
      auto it = waiting_.find(invocation.idempotency_key);
      if (it != waiting_.end()) superseded = std::move(it->second.done);
      waiting_[invocation.idempotency_key] =
          Waiting{.done = std::move(done), .deadline = absl::Now() + invocation.timeout};
      reply_topics_.push_back(invocation.endpoint.kafka().reply_topic());
    }
  }
  // Callbacks run outside the lock: they take the engine's.
  if (superseded == nullptr) return;
  superseded(stopped ? absl::UnavailableError("sagad is stopping")
                     : absl::DeadlineExceededError("superseded by a newer attempt of the same call"));
}

void KafkaStepInvoker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (keeper_.joinable()) keeper_.join();
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

void KafkaStepInvoker::RunKeeper() {
  while (true) {
    std::vector<std::string> topics;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](KafkaStepInvoker* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                                 return self->stopping_ || !self->reply_topics_.empty();
                               },
                               this),
                           absl::Milliseconds(20));
      if (stopping_) break;
      topics.swap(reply_topics_);
    }
    for (const std::string& topic : topics) EnsureReplyConsumer(topic);
    ExpireWaiting();
  }
}

sdk::IdempotentConsumerStats KafkaStepInvoker::reply_stats() {
  sdk::IdempotentConsumerStats total;
  absl::MutexLock lock(&mu_);
  for (const auto& [topic, consumer] : consumers_) {
    const sdk::IdempotentConsumerStats s = consumer->consumer->stats();
    total.applied += s.applied;
    total.duplicates += s.duplicates;
    total.parked += s.parked;
    total.retries += s.retries;
  }
  return total;
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
       .kafka_settings = options_.kafka_settings,
       .start_at = started_at_ - options_.reply_lookback},
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
  const std::string key = reply.Header("idempotency-key");
  int code = 0;
  if (key.empty() || !absl::SimpleAtoi(reply.Header("saga-status"), &code) || code < 0 ||
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
                 : absl::Status(static_cast<absl::StatusCode>(code), reply.Header("saga-error")));
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
