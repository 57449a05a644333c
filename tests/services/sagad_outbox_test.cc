// The outbox through the sagad binary, with the real PostgreSQL and the real Kafka broker:
// OutboxService.Publish reaches Kafka with its ids and headers; bad input stores nothing; saga
// lifecycle events are relayed with the saga id as key; a parked message is listed and
// requeued over AdminService; a service's own outbox table (outbox/sql/service_outbox.sql,
// written with the SDK writer) is relayed too; /metrics shows the relay.
#include <fstream>
#include <sstream>

#include <grpcpp/client_context.h>
#include <httplib.h>
#include <pqxx/pqxx>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "saga/v1/outbox_service.grpc.pb.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "sdk/outbox/outbox_writer.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/kafka_broker.h"
#include "tests/harness/kafka_client.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::ConsumeUntil;
using ::saga::testing::KafkaRecord;
using ::saga::testing::DeadlineContext;
using ::saga::testing::SagadProcess;
using ::saga::testing::SharedKafka;
using ::testing::HasSubstr;

class SagadOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::NewDatabaseMigratedBySagad();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    topic_ = "published-" + NewUuid().substr(0, 8);
  }

  std::unique_ptr<SagadProcess> StartSagad(std::vector<std::string> env = {}) {
    env.push_back("SAGAD_KAFKA_BROKERS=" + SharedKafka().bootstrap_servers());
    env.push_back("SAGAD_RELAY_POLL_INTERVAL=200ms");
    auto sagad = SagadProcess::Start(dsn_, std::move(env));
    EXPECT_TRUE(sagad.ok()) << sagad.status();
    return sagad.ok() ? *std::move(sagad) : nullptr;
  }

  int Count(const std::string& dsn, const std::string& sql) {
    pqxx::connection conn(dsn);
    pqxx::read_transaction tx(conn);
    return tx.exec(sql)[0][0].as<int>();
  }

  std::string dsn_;
  std::string topic_;
};

TEST_F(SagadOutboxTest, PublishReachesKafkaWithIdsAndHeaders) {
  auto sagad = StartSagad();
  ASSERT_NE(sagad, nullptr);
  auto outbox = saga::v1::OutboxService::NewStub(sagad->channel());
  saga::v1::PublishRequest request;
  for (int i = 0; i < 3; ++i) {
    saga::v1::OutboxMessage* m = request.add_messages();
    m->set_topic(topic_);
    m->set_key("order-7");
    m->set_payload(saga::StrCat("event ", i));
    (*m->mutable_headers())["event-type"] = "OrderPaid";
  }
  request.mutable_messages(2)->set_message_id("my-own-id");
  // The caller's trace goes into the messages without one of their own; message 1 keeps its.
  const std::string caller_trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const std::string own_trace = "00-11111111111111111111111111111111-2222222222222222-01";
  (*request.mutable_messages(1)->mutable_headers())["traceparent"] = own_trace;
  saga::v1::PublishResponse response;
  auto context = DeadlineContext();
  context->AddMetadata("traceparent", caller_trace);
  grpc::Status status = outbox->Publish(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.message_ids_size(), 3);
  EXPECT_EQ(response.message_ids(2), "my-own-id");

  auto records = ConsumeUntil(
      SharedKafka().bootstrap_servers(), topic_,
      [](const std::vector<KafkaRecord>& r) { return r.size() >= 3; }, absl::Seconds(60));
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const KafkaRecord& r = (*records)[i];
    EXPECT_EQ(r.key, "order-7");
    EXPECT_EQ(r.value, saga::StrCat("event ", i));
    EXPECT_EQ(r.message_id, response.message_ids(i));
    EXPECT_THAT(r.headers, ::testing::Contains(std::pair<std::string, std::string>(
                               "event-type", "OrderPaid")));
    EXPECT_THAT(r.headers, ::testing::Contains(std::pair<std::string, std::string>(
                               "traceparent", i == 1 ? own_trace : caller_trace)));
  }
  EXPECT_TRUE(saga::testing::WaitFor(
      [&] { return Count(dsn_, "SELECT count(*) FROM outbox") == 0; }, absl::Seconds(10)));

  // /metrics reports the relay.
  httplib::Client http("127.0.0.1", sagad->http_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("sagad_relay_delivered_total{outbox=\"outbox@"));
  EXPECT_THAT(metrics->body, HasSubstr("sagad_relay_partitions{outbox="));
}

TEST_F(SagadOutboxTest, BadPublishAnswersInvalidArgumentAndStoresNothing) {
  // No relay: whatever were stored would stay in the table to be seen.
  auto sagad = StartSagad({"SAGAD_RELAY=off", "SAGAD_MAX_PAYLOAD_BYTES=1000"});
  ASSERT_NE(sagad, nullptr);
  auto outbox = saga::v1::OutboxService::NewStub(sagad->channel());
  struct Case {
    std::string topic;
    std::string payload;
    std::string expect;
  };
  for (const Case& c : {Case{"", "x", "topic"}, Case{"bad topic!", "x", "topic"},
                        Case{topic_, std::string(1001, 'x'), "1000"}}) {
    saga::v1::PublishRequest request;
    saga::v1::OutboxMessage* good = request.add_messages();
    good->set_topic(topic_);
    good->set_key("k");
    good->set_payload("fine");
    saga::v1::OutboxMessage* bad = request.add_messages();
    bad->set_topic(c.topic);
    bad->set_key("k");
    bad->set_payload(c.payload);
    saga::v1::PublishResponse response;
    grpc::Status status = outbox->Publish(DeadlineContext().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.topic;
    EXPECT_THAT(status.error_message(), HasSubstr("messages[1]"));
    EXPECT_THAT(status.error_message(), HasSubstr(c.expect));
  }
  EXPECT_EQ(Count(dsn_, "SELECT count(*) FROM outbox"), 0);
}

TEST_F(SagadOutboxTest, SagaLifecycleEventsAreRelayedKeyedBySagaId) {
  saga::testing::RecordingParticipant participant;
  const std::string events_topic = "saga-events-" + NewUuid().substr(0, 8);
  auto sagad = StartSagad({"SAGAD_EVENTS_TOPIC=" + events_topic});
  ASSERT_NE(sagad, nullptr);
  auto sagas = saga::v1::SagaService::NewStub(sagad->channel());
  saga::v1::RegisterDefinitionRequest define;
  define.mutable_definition()->set_name("one-step");
  auto* step = define.mutable_definition()->add_steps();
  step->set_name("pay");
  step->mutable_action()->mutable_grpc()->set_target(participant.target());
  step->mutable_action()->mutable_grpc()->set_method("/shop.S/pay");
  saga::v1::RegisterDefinitionResponse defined;
  ASSERT_TRUE(sagas->RegisterDefinition(DeadlineContext().get(), define, &defined).ok());
  saga::v1::StartSagaRequest start;
  start.set_definition_name("one-step");
  start.set_wait_for_completion(true);
  saga::v1::StartSagaResponse started;
  const std::string caller_trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  auto context = DeadlineContext();
  context->AddMetadata("traceparent", caller_trace);
  ASSERT_TRUE(sagas->StartSaga(context.get(), start, &started).ok());
  ASSERT_EQ(started.saga().state(), saga::v1::SAGA_STATE_COMPLETED);
  const std::string id = started.saga().saga_id();
  const int transitions =
      Count(dsn_, saga::StrCat("SELECT count(*) FROM saga_history WHERE saga_id = '", id, "'"));
  ASSERT_GE(transitions, 2);

  auto records = ConsumeUntil(
      SharedKafka().bootstrap_servers(), events_topic,
      [&](const std::vector<KafkaRecord>& r) { return static_cast<int>(r.size()) >= transitions; },
      absl::Seconds(60));
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(static_cast<int>(records->size()), transitions);
  int64_t last_seq = 0;
  for (const KafkaRecord& r : *records) {
    EXPECT_EQ(r.key, id);
    // The saga's trace continues in its events.
    EXPECT_THAT(r.headers, ::testing::Contains(std::pair<std::string, std::string>(
                               "traceparent", caller_trace)));
    saga::v1::SagaTransition transition;
    ASSERT_TRUE(transition.ParseFromString(r.value));
    EXPECT_EQ(transition.saga_id(), id);
    ASSERT_GT(transition.events_size(), 0);
    EXPECT_GT(transition.events(0).sequence(), last_seq);  // in order
    last_seq = transition.events(transition.events_size() - 1).sequence();
  }
  EXPECT_EQ(records->back().message_id, saga::StrCat(id, "/", last_seq));
}

TEST_F(SagadOutboxTest, ParkedMessageIsListedAndRequeuedOverTheAdminApi) {
  ASSERT_TRUE(saga::testing::CreateTopic(SharedKafka().bootstrap_servers(), topic_, 1,
                                         {{"max.message.bytes", "50000"}})
                  .ok());
  auto sagad = StartSagad({"SAGAD_RELAY_MAX_ATTEMPTS=2"});
  ASSERT_NE(sagad, nullptr);
  auto outbox = saga::v1::OutboxService::NewStub(sagad->channel());
  auto admin = saga::v1::AdminService::NewStub(sagad->channel());
  saga::v1::PublishRequest request;
  saga::v1::OutboxMessage* big = request.add_messages();
  big->set_topic(topic_);
  big->set_key("k");
  big->set_payload(std::string(80000, 'b'));
  saga::v1::OutboxMessage* after = request.add_messages();
  after->set_topic(topic_);
  after->set_key("k");
  after->set_payload("after");
  saga::v1::PublishResponse published;
  ASSERT_TRUE(outbox->Publish(DeadlineContext().get(), request, &published).ok());

  saga::v1::ListParkedResponse parked;
  ASSERT_TRUE(saga::testing::WaitFor(
      [&] {
        parked.Clear();
        saga::v1::ListParkedRequest list;
        list.set_topic(topic_);
        return admin->ListParked(DeadlineContext().get(), list, &parked).ok() &&
               parked.messages_size() == 1;
      },
      absl::Seconds(30), absl::Milliseconds(100)));
  EXPECT_EQ(parked.messages(0).message_id(), published.message_ids(0));
  EXPECT_EQ(parked.messages(0).attempts(), 2u);
  EXPECT_EQ(parked.messages(0).payload_size(), 80000u);
  EXPECT_THAT(parked.messages(0).last_error(), HasSubstr("max.message.bytes"));

  saga::v1::RequeueParkedRequest requeue;
  requeue.add_message_ids(published.message_ids(0));
  saga::v1::RequeueParkedResponse requeued;
  grpc::Status no_reason = admin->RequeueParked(DeadlineContext().get(), requeue, &requeued);
  EXPECT_EQ(no_reason.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(saga::testing::SetTopicConfigs(SharedKafka().bootstrap_servers(), topic_,
                                             {{"max.message.bytes", "1000000"}})
                  .ok());
  requeue.set_reason("topic limit raised to 1 MB");
  ASSERT_TRUE(admin->RequeueParked(DeadlineContext().get(), requeue, &requeued).ok());
  EXPECT_EQ(requeued.requeued(), 1u);
  auto records = ConsumeUntil(
      SharedKafka().bootstrap_servers(), topic_,
      [](const std::vector<KafkaRecord>& r) { return r.size() >= 2; }, absl::Seconds(60));
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].message_id, published.message_ids(0));
  EXPECT_EQ((*records)[1].value, "after");
}

TEST_F(SagadOutboxTest, RelaysAServicesOwnOutboxTable) {
  auto service_dsn = saga::testing::SharedPostgres().CreateFreshDatabase();
  ASSERT_TRUE(service_dsn.ok());
  std::ifstream file(SERVICE_OUTBOX_SQL);
  std::stringstream sql;
  sql << file.rdbuf();
  ASSERT_FALSE(sql.str().empty());
  {
    pqxx::connection conn(*service_dsn);
    pqxx::work tx(conn);
    tx.exec(sql.str());
    tx.exec(sql.str());  // idempotent
    tx.exec("CREATE TABLE orders (id int PRIMARY KEY, state text)");
    tx.commit();
  }
  auto sagad = StartSagad({"SAGAD_RELAY_SOURCES=outbox=" + *service_dsn});
  ASSERT_NE(sagad, nullptr);
  for (int order = 1; order <= 5; ++order) {
    pqxx::connection conn(*service_dsn);
    pqxx::work tx(conn);
    tx.exec_params("INSERT INTO orders VALUES ($1, 'paid')", order);
    saga::v1::OutboxMessage m;
    m.set_topic(topic_);
    m.set_key(saga::StrCat("order-", order));
    m.set_payload("paid");
    auto id = sdk::WriteOutboxMessage(tx, m);
    ASSERT_TRUE(id.ok()) << id.status();
    tx.commit();
  }
  // A rolled-back transaction's message never leaves.
  {
    pqxx::connection conn(*service_dsn);
    pqxx::work tx(conn);
    saga::v1::OutboxMessage m;
    m.set_topic(topic_);
    m.set_key("order-rolled-back");
    m.set_payload("never");
    ASSERT_TRUE(sdk::WriteOutboxMessage(tx, m).ok());
    tx.abort();
  }
  auto records = ConsumeUntil(
      SharedKafka().bootstrap_servers(), topic_,
      [](const std::vector<KafkaRecord>& r) { return r.size() >= 5; }, absl::Seconds(60));
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 5u);
  for (const KafkaRecord& r : *records) EXPECT_NE(r.key, "order-rolled-back");
  EXPECT_TRUE(saga::testing::WaitFor(
      [&] { return Count(*service_dsn, "SELECT count(*) FROM outbox") == 0; },
      absl::Seconds(10)));
}

}  // namespace
}  // namespace saga
