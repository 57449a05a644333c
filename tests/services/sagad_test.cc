// End-to-end tests of the sagad binary against a real PostgreSQL: `sagad migrate`, serving
// health and the saga.v1 API, definitions that survive a restart, bad input that gets
// INVALID_ARGUMENT naming the field and stores nothing, every service validating its input
// first, the HTTP endpoint, and graceful shutdown.
#include <httplib.h>

#include <thread>

#include <grpcpp/client_context.h>
#include <pqxx/pqxx>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "saga/v1/outbox_service.grpc.pb.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "saga/v1/tcc_service.grpc.pb.h"
#include "sdk/base/uuid.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::SagadProcess;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

saga::v1::SagaDefinition OrderDefinition(const std::string& charge_method = "/shop.Payments/Charge") {
  saga::v1::SagaDefinition d;
  d.set_name("order");
  auto* reserve = d.add_steps();
  reserve->set_name("reserve_stock");
  reserve->mutable_action()->mutable_grpc()->set_target("127.0.0.1:7001");
  reserve->mutable_action()->mutable_grpc()->set_method("/shop.Stock/Reserve");
  reserve->mutable_compensation()->mutable_grpc()->set_target("127.0.0.1:7001");
  reserve->mutable_compensation()->mutable_grpc()->set_method("/shop.Stock/Release");
  auto* charge = d.add_steps();
  charge->set_name("charge");
  charge->set_kind(saga::v1::STEP_KIND_PIVOT);
  charge->add_depends_on("reserve_stock");
  charge->mutable_action()->mutable_grpc()->set_target("127.0.0.1:7002");
  charge->mutable_action()->mutable_grpc()->set_method(charge_method);
  return d;
}

class SagadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::SharedPostgres().CreateFreshDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
  }

  void Migrate() {
    std::string output;
    auto code = SagadProcess::Run(dsn_, {"migrate"}, &output);
    ASSERT_TRUE(code.ok()) << code.status();
    ASSERT_EQ(*code, 0) << output;
  }

  void StartSagad(std::vector<std::string> env = {}) {
    auto sagad = SagadProcess::Start(dsn_, std::move(env));
    ASSERT_TRUE(sagad.ok()) << sagad.status();
    sagad_ = *std::move(sagad);
    sagas_ = saga::v1::SagaService::NewStub(sagad_->channel());
  }

  int DefinitionRows() {
    pqxx::connection conn(dsn_);
    pqxx::read_transaction tx(conn);
    return tx.exec("SELECT count(*) FROM saga_definitions")[0][0].as<int>();
  }

  std::string SchemaText(const std::string& dsn) {
    pqxx::connection conn(dsn);
    pqxx::read_transaction tx(conn);
    std::string text;
    for (const auto& row : tx.exec(
             "SELECT table_name || '.' || column_name || ':' || data_type FROM "
             "information_schema.columns WHERE table_schema = 'public' ORDER BY 1")) {
      text += row[0].as<std::string>() + "\n";
    }
    for (const auto& row : tx.exec("SELECT version || name || checksum FROM schema_migrations "
                                   "ORDER BY version")) {
      text += row[0].as<std::string>() + "\n";
    }
    return text;
  }

  grpc::Status Register(const saga::v1::SagaDefinition& definition,
                        saga::v1::RegisterDefinitionResponse* response) {
    saga::v1::RegisterDefinitionRequest request;
    *request.mutable_definition() = definition;
    return sagas_->RegisterDefinition(Context().get(), request, response);
  }

  std::string dsn_;
  std::unique_ptr<SagadProcess> sagad_;
  std::unique_ptr<saga::v1::SagaService::Stub> sagas_;
};

TEST_F(SagadTest, MigrateTwiceInARowAndTwiceAtOnceGivesTheSameSchema) {
  Migrate();
  Migrate();
  const std::string sequential = SchemaText(dsn_);
  EXPECT_THAT(sequential, HasSubstr("saga_definitions.definition:bytea"));

  auto other = saga::testing::SharedPostgres().CreateFreshDatabase();
  ASSERT_TRUE(other.ok());
  absl::StatusOr<int> a, b;
  std::string out_a, out_b;
  std::thread ta([&] { a = SagadProcess::Run(*other, {"migrate"}, &out_a); });
  std::thread tb([&] { b = SagadProcess::Run(*other, {"migrate"}, &out_b); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, 0) << out_a;
  EXPECT_EQ(*b, 0) << out_b;
  EXPECT_EQ(SchemaText(*other), sequential);
}

TEST_F(SagadTest, ServeRefusesAnUnmigratedDatabaseSayingWhatToRun) {
  std::string output;
  auto code = SagadProcess::Run(dsn_, {"serve"}, &output,
                                {"SAGAD_GRPC_ADDR=127.0.0.1:0", "SAGAD_HTTP_ADDR=off"});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(output, HasSubstr("sagad migrate"));
}

TEST_F(SagadTest, BadSettingsAreRefusedNamingTheSetting) {
  std::string output;
  auto code = SagadProcess::Run(dsn_, {"serve"}, &output, {"SAGAD_GRPC_ADDR=nowhere"});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(output, HasSubstr("SAGAD_GRPC_ADDR"));
  code = SagadProcess::Run(dsn_, {"serve"}, &output, {"SAGAD_PG_POOL_SIZE=lots"});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(output, HasSubstr("SAGAD_PG_POOL_SIZE"));
  for (const char* bad : {"SAGAD_RELAY=maybe", "SAGAD_RELAY_SOURCES=no-equals-sign",
                          "SAGAD_RELAY_BATCH=0", "SAGAD_RELAY_POLL_INTERVAL=soon",
                          "SAGAD_KAFKA_DELIVERY_TIMEOUT=100ms"}) {
    code = SagadProcess::Run(dsn_, {"serve"}, &output, {bad});
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 1) << bad;
    const std::string name(bad, std::string_view(bad).find('='));
    EXPECT_THAT(output, HasSubstr(name));
  }
  // A relay-only process needs a real Kafka.
  code = SagadProcess::Run(dsn_, {"relay"}, &output);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(output, HasSubstr("SAGAD_KAFKA_BROKERS"));
  code = SagadProcess::Run(dsn_, {"frobnicate"}, &output);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(output, HasSubstr("serve, migrate or relay"));
}

TEST_F(SagadTest, DefinitionsSurviveARestartAndAreVersionedByContent) {
  Migrate();
  // This test keeps its connection open across the restart, which holds gRPC's shutdown for
  // the whole grace period: a short one keeps the test quick.
  StartSagad({"SAGAD_SHUTDOWN_GRACE=500ms"});
  saga::v1::RegisterDefinitionResponse first;
  ASSERT_TRUE(Register(OrderDefinition(), &first).ok());
  EXPECT_TRUE(first.created());
  EXPECT_EQ(first.definition().version(), 1u);

  auto code = sagad_->Terminate();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << sagad_->log();
  EXPECT_THAT(sagad_->log(), HasSubstr("sagad stopped"));
  StartSagad();

  saga::v1::GetDefinitionRequest get;
  get.set_name("order");
  saga::v1::GetDefinitionResponse got;
  ASSERT_TRUE(sagas_->GetDefinition(Context().get(), get, &got).ok());
  EXPECT_EQ(got.definition().SerializeAsString(), first.definition().SerializeAsString());

  saga::v1::RegisterDefinitionResponse same;
  ASSERT_TRUE(Register(OrderDefinition(), &same).ok());
  EXPECT_FALSE(same.created());
  EXPECT_EQ(same.definition().version(), 1u);

  saga::v1::RegisterDefinitionResponse changed;
  ASSERT_TRUE(Register(OrderDefinition("/shop.Payments/ChargeV2"), &changed).ok());
  EXPECT_TRUE(changed.created());
  EXPECT_EQ(changed.definition().version(), 2u);

  saga::v1::ListDefinitionsRequest list;
  list.set_all_versions(true);
  list.set_page_size(1);
  saga::v1::ListDefinitionsResponse page;
  ASSERT_TRUE(sagas_->ListDefinitions(Context().get(), list, &page).ok());
  ASSERT_EQ(page.definitions_size(), 1);
  EXPECT_EQ(page.definitions(0).version(), 2u);
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(sagas_->ListDefinitions(Context().get(), list, &page).ok());
  ASSERT_EQ(page.definitions_size(), 1);
  EXPECT_EQ(page.definitions(0).version(), 1u);
  EXPECT_TRUE(page.next_page_token().empty());

  get.set_name("missing");
  grpc::Status missing = sagas_->GetDefinition(Context().get(), get, &got);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.error_message(), HasSubstr("register it first"));
}

TEST_F(SagadTest, BadDefinitionsAnswerInvalidArgumentNamingTheFieldAndStoreNothing) {
  Migrate();
  StartSagad();
  struct Case {
    std::string what;
    std::function<void(saga::v1::SagaDefinition*)> spoil;
    std::string field;
  };
  std::vector<Case> cases = {
      {"empty name", [](auto* d) { d->clear_name(); }, "definition.name"},
      {"two steps of one name", [](auto* d) { d->mutable_steps(1)->set_name("reserve_stock"); },
       "definition.steps[1].name"},
      {"dependency cycle",
       [](auto* d) { d->mutable_steps(0)->add_depends_on("charge"); }, "definition.steps"},
      {"dependency on a missing step",
       [](auto* d) { d->mutable_steps(1)->set_depends_on(0, "ghost"); },
       "definition.steps[1].depends_on[0]"},
      {"compensation on a retriable step",
       [](auto* d) {
         auto* step = d->add_steps();
         *step = d->steps(0);
         step->set_name("ship");
         step->set_kind(saga::v1::STEP_KIND_RETRIABLE);
         step->clear_depends_on();
         step->add_depends_on("charge");
       },
       "definition.steps[2].compensation"},
      {"endpoint neither gRPC nor Kafka",
       [](auto* d) { d->mutable_steps(0)->mutable_action()->Clear(); },
       "definition.steps[0].action"},
      {"gRPC method that is not a path",
       [](auto* d) { d->mutable_steps(0)->mutable_action()->mutable_grpc()->set_method("Reserve"); },
       "definition.steps[0].action.grpc.method"},
      {"negative backoff",
       [](auto* d) {
         d->mutable_steps(0)->mutable_retry_policy()->mutable_initial_backoff()->set_seconds(-1);
       },
       "definition.steps[0].retry_policy.initial_backoff"},
  };
  for (const Case& c : cases) {
    saga::v1::SagaDefinition definition = OrderDefinition();
    c.spoil(&definition);
    saga::v1::RegisterDefinitionResponse response;
    grpc::Status status = Register(definition, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(status.error_message(), StartsWith(c.field + ":")) << c.what;
  }
  saga::v1::RegisterDefinitionRequest empty;
  saga::v1::RegisterDefinitionResponse response;
  grpc::Status status = sagas_->RegisterDefinition(Context().get(), empty, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(DefinitionRows(), 0);
}

TEST_F(SagadTest, EveryRpcValidatesFirst) {
  Migrate();
  StartSagad({"SAGAD_MAX_PAYLOAD_BYTES=1024"});
  const std::string id = NewUuid();

  saga::v1::GetSagaRequest get;
  saga::v1::GetSagaResponse got;
  get.set_saga_id("42");
  grpc::Status status = sagas_->GetSaga(Context().get(), get, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("saga_id:"));
  get.set_saga_id(id);
  EXPECT_EQ(sagas_->GetSaga(Context().get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  saga::v1::StartSagaRequest start;
  start.set_definition_name("order");
  (*start.mutable_payloads())["charge"] = std::string(1025, 'x');
  saga::v1::StartSagaResponse started;
  status = sagas_->StartSaga(Context().get(), start, &started);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("limit of 1024 bytes"));

  saga::v1::WatchSagaRequest watch;
  watch.set_saga_id("nope");
  auto context = Context();
  auto reader = sagas_->WatchSaga(context.get(), watch);
  saga::v1::WatchSagaResponse event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto tcc = saga::v1::TccService::NewStub(sagad_->channel());
  saga::v1::CommitRequest commit;
  saga::v1::CommitResponse committed;
  commit.set_global_id("x");
  EXPECT_EQ(tcc->Commit(Context().get(), commit, &committed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  commit.set_global_id(id);
  EXPECT_EQ(tcc->Commit(Context().get(), commit, &committed).error_code(),
            grpc::StatusCode::NOT_FOUND);

  auto outbox = saga::v1::OutboxService::NewStub(sagad_->channel());
  saga::v1::PublishRequest publish;
  auto* message = publish.add_messages();
  message->set_topic("orders");
  message->set_payload(std::string(2048, 'x'));
  saga::v1::PublishResponse published;
  status = outbox->Publish(Context().get(), publish, &published);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("messages[0].payload:"));

  auto admin = saga::v1::AdminService::NewStub(sagad_->channel());
  saga::v1::RetrySagaRequest retry;
  saga::v1::RetrySagaResponse retried;
  retry.set_saga_id(id);
  status = admin->RetrySaga(Context().get(), retry, &retried);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("reason:"));
  retry.set_reason("participant fixed");
  EXPECT_EQ(admin->RetrySaga(Context().get(), retry, &retried).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(DefinitionRows(), 0);
}

TEST_F(SagadTest, HttpEndpointAnswersHealthReadinessAndMetrics) {
  Migrate();
  StartSagad();
  httplib::Client http("127.0.0.1", sagad_->http_port());
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("sagad_up 1"));
  EXPECT_THAT(metrics->body, HasSubstr("sagad_db_pool_connections{state=\"open\"}"));
}

TEST_F(SagadTest, EmbeddedKafkaIsTheDefaultAndItsAddressIsLogged) {
  Migrate();
  StartSagad();
  EXPECT_THAT(sagad_->log(), HasSubstr("embedded Kafka"));
  EXPECT_THAT(sagad_->log(), HasSubstr("\"bootstrap_servers\":\"127.0.0.1:"));

  // The relay publishes to it: a published message leaves the outbox, counted in /metrics.
  auto outbox = saga::v1::OutboxService::NewStub(sagad_->channel());
  saga::v1::PublishRequest publish;
  auto* message = publish.add_messages();
  message->set_topic("orders");
  message->set_key("k");
  message->set_payload("paid");
  saga::v1::PublishResponse published;
  ASSERT_TRUE(outbox->Publish(Context().get(), publish, &published).ok());
  httplib::Client http("127.0.0.1", sagad_->http_port());
  EXPECT_TRUE(saga::testing::WaitFor(
      [&] {
        auto metrics = http.Get("/metrics");
        return metrics && metrics->body.find("sagad_relay_delivered_total{outbox=\"outbox@") !=
                              std::string::npos &&
               metrics->body.find("} 1\nsagad_relay_rejected_total") != std::string::npos;
      },
      absl::Seconds(20), absl::Milliseconds(50)))
      << sagad_->log();
}

}  // namespace
}  // namespace saga
