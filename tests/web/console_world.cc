#include "tests/web/console_world.h"

#include <fstream>

#include <pqxx/pqxx>

#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/harness/wait.h"

namespace saga::testing {

absl::Status ConsoleWorld::Start(int completed, int compensated, int quarantined) {
  auto dsn = NewDatabaseMigratedBySagad();
  if (!dsn.ok()) return dsn.status();
  dsn_ = *dsn;
  dir_ = std::filesystem::temp_directory_path() / ("sagad-console-" + NewUuid().substr(0, 8));
  std::filesystem::create_directories(dir_);
  const std::string tokens = (dir_ / "tokens").string();
  std::ofstream(tokens) << "# name role token\noncall admin " << kAdminToken
                        << "\ndashboards viewer " << kViewerToken << "\ncheckout client "
                        << kClientToken << "\n";
  auto sagad = SagadProcess::Start(*dsn, {"SAGAD_AUTH_TOKENS_FILE=" + tokens});
  if (!sagad.ok()) return sagad.status();
  sagad_ = *std::move(sagad);
  sagas_ = saga::v1::SagaService::NewStub(sagad_->channel());
  admin_ = saga::v1::AdminService::NewStub(sagad_->channel());

  // Reserving takes 1.8 s for "slow"; shipping refuses "fail"; the refund of a "quarantine"
  // order fails until Fix().
  participant_.SetScript("/shop.S/reserve", [](const ParticipantCall& call, int) {
    return call.payload == "slow" ? Reply{absl::OkStatus(), absl::Milliseconds(1800)} : Reply{};
  });
  participant_.SetScript("/shop.S/ship", [](const ParticipantCall& call, int) {
    return call.payload == "ok" ? Reply{} : Reply{absl::FailedPreconditionError("no carrier")};
  });
  participant_.SetScript("/shop.S/undo_charge", [this](const ParticipantCall& call, int) {
    return fixed_ || call.payload != "quarantine"
               ? Reply{}
               : Reply{absl::UnavailableError("refunds database is down")};
  });
  saga::v1::RegisterDefinitionRequest reg;
  *reg.mutable_definition() = OrderDefinition(participant_.target());
  reg.mutable_definition()->set_description("reserve stock, charge the card, ship");
  saga::v1::RegisterDefinitionResponse registered;
  grpc::Status status = sagas_->RegisterDefinition(With(kClientToken).get(), reg, &registered);
  if (!status.ok()) return absl::InternalError("RegisterDefinition: " + status.error_message());

  // A definition with parallel branches and a pivot, for the definition page.
  saga::v1::RegisterDefinitionRequest checkout;
  saga::v1::SagaDefinition& d = *checkout.mutable_definition();
  d.set_name("checkout");
  struct StepSpec {
    const char* name;
    saga::v1::StepKind kind;
    std::vector<std::string> after;
  };
  for (const StepSpec& spec : std::vector<StepSpec>{
           {"reserve", saga::v1::STEP_KIND_COMPENSATABLE, {}},
           {"fraud_check", saga::v1::STEP_KIND_COMPENSATABLE, {}},
           {"charge", saga::v1::STEP_KIND_PIVOT, {"reserve", "fraud_check"}},
           {"ship", saga::v1::STEP_KIND_RETRIABLE, {"charge"}},
           {"notify", saga::v1::STEP_KIND_RETRIABLE, {"charge"}}}) {
    saga::v1::Step& step = *d.add_steps();
    step.set_name(spec.name);
    step.set_kind(spec.kind);
    step.mutable_action()->mutable_grpc()->set_target(participant_.target());
    step.mutable_action()->mutable_grpc()->set_method(saga::StrCat("/shop.S/", spec.name));
    if (spec.kind == saga::v1::STEP_KIND_COMPENSATABLE) {
      step.mutable_compensation()->mutable_grpc()->set_target(participant_.target());
      step.mutable_compensation()->mutable_grpc()->set_method(
          saga::StrCat("/shop.S/undo_", spec.name));
    }
    for (const std::string& after : spec.after) step.add_depends_on(after);
  }
  status = sagas_->RegisterDefinition(With(kClientToken).get(), checkout, &registered);
  if (!status.ok()) return absl::InternalError("RegisterDefinition: " + status.error_message());

  for (int i = 0; i < completed + compensated; ++i) {
    auto saga = StartOrder(i < completed ? "ok" : "fail");
    if (!saga.ok()) return saga.status();
    if (i == 0 && completed > 0) completed_id_ = saga->saga_id();
  }
  for (int i = 0; i < quarantined; ++i) {
    auto saga = StartOrder("quarantine");
    if (!saga.ok()) return saga.status();
    if (saga->state() != saga::v1::SAGA_STATE_QUARANTINED) {
      return absl::InternalError(saga::StrCat("the quarantine order ended in state ",
                                              saga::v1::SagaState_Name(saga->state())));
    }
    quarantined_ids_.push_back(saga->saga_id());
  }
  return absl::OkStatus();
}

absl::Status ConsoleWorld::ParkMessage(const std::string& message_id) {
  try {
    pqxx::connection conn(dsn_);
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO outbox (topic, msg_key, payload, message_id, attempts, last_error, "
        "parked_at) VALUES ('orders.events', 'order-17', 'payload', $1, 5, "
        "'Broker: Message size too large', now())",
        message_id);
    tx.commit();
  } catch (const std::exception& e) {
    return absl::InternalError(saga::StrCat("parking a message: ", e.what()));
  }
  return absl::OkStatus();
}

ConsoleWorld::~ConsoleWorld() {
  sagad_.reset();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

std::string ConsoleWorld::http_base() const {
  return saga::StrCat("http://127.0.0.1:", sagad_->http_port());
}

std::unique_ptr<grpc::ClientContext> ConsoleWorld::With(const std::string& token) {
  auto context = DeadlineContext(absl::Seconds(30));
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

absl::StatusOr<saga::v1::Saga> ConsoleWorld::StartOrder(const std::string& ship_payload) {
  saga::v1::StartSagaRequest start;
  start.set_definition_name("order");
  start.set_wait_for_completion(true);
  (*start.mutable_payloads())["reserve"] = R"({"sku":"A-17","quantity":2})";
  (*start.mutable_payloads())["charge"] = ship_payload == "quarantine" ? "quarantine" : "4200";
  (*start.mutable_payloads())["ship"] = ship_payload;
  (*start.mutable_labels())["tenant"] = ship_payload == "ok" ? "acme" : "globex";
  saga::v1::StartSagaResponse started;
  grpc::Status status = sagas_->StartSaga(With(kClientToken).get(), start, &started);
  if (!status.ok()) return absl::InternalError("StartSaga: " + status.error_message());
  return started.saga();
}

absl::StatusOr<std::map<saga::v1::SagaState, int>> ConsoleWorld::CountByListing() {
  std::map<saga::v1::SagaState, int> counts;
  std::string token;
  do {
    saga::v1::ListSagasRequest request;
    request.set_page_size(7);  // several pages
    request.set_page_token(token);
    saga::v1::ListSagasResponse page;
    grpc::Status status = sagas_->ListSagas(With(kViewerToken).get(), request, &page);
    if (!status.ok()) return absl::InternalError("ListSagas: " + status.error_message());
    for (const auto& s : page.sagas()) ++counts[s.state()];
    token = page.next_page_token();
  } while (!token.empty());
  return counts;
}

saga::v1::Saga ConsoleWorld::WaitForState(const std::string& id, saga::v1::SagaState state) {
  saga::v1::GetSagaResponse got;
  WaitFor(
      [&] {
        saga::v1::GetSagaRequest get;
        get.set_saga_id(id);
        return sagas_->GetSaga(With(kViewerToken).get(), get, &got).ok() &&
               got.saga().state() == state;
      },
      absl::Seconds(20), absl::Milliseconds(50));
  return got.saga();
}

}  // namespace saga::testing
