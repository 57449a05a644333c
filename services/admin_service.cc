#include "services/admin_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "services/not_built_yet.h"
#include "services/page_token.h"
#include "services/saga_list.h"
#include "services/request_validation.h"
#include "services/unary_call.h"

namespace saga::services {
namespace {
constexpr char kOperations[] = "operator actions (issue #7)";
constexpr char kHistoryToken[] = "history";
constexpr char kQuarantinedToken[] = "quarantined";
constexpr char kRelay[] = "the outbox relay (issue #4)";
}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::RetrySaga(grpc::CallbackServerContext* context,
                                                      const saga::v1::RetrySagaRequest* request,
                                                      saga::v1::RetrySagaResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "RetrySaga", kOperations);
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReplayCompensation(
    grpc::CallbackServerContext* context, const saga::v1::ReplayCompensationRequest* request,
    saga::v1::ReplayCompensationResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "ReplayCompensation", kOperations);
}

grpc::ServerUnaryReactor* AdminServiceImpl::SkipStep(grpc::CallbackServerContext* context,
                                                     const saga::v1::SkipStepRequest* request,
                                                     saga::v1::SkipStepResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "SkipStep", kOperations);
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetHistory(grpc::CallbackServerContext* context,
                                                       const saga::v1::GetHistoryRequest* request,
                                                       saga::v1::GetHistoryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  uint64_t after = 0;
  if (!request->page_token().empty()) {
    auto cursor = DecodePageToken(request->page_token(), kHistoryToken, 1);
    if (!cursor.ok()) return FinishNow(reactor, cursor.status());
    if (!absl::SimpleAtoi((*cursor)[0], &after)) {
      return FinishNow(reactor, absl::InvalidArgumentError("page_token: is damaged"));
    }
  }
  const int limit = EffectivePageSize(request->page_size());
  return RunBlocking(executor_, reactor, [this, request, response, after, limit]() -> absl::Status {
    // One more than asked tells whether another page follows.
    auto events = store_->History(absl::AsciiStrToLower(request->saga_id()), after, limit + 1);
    if (!events.ok()) return events.status();
    const bool more = static_cast<int>(events->size()) > limit;
    if (more) events->pop_back();
    for (auto& e : *events) *response->add_events() = std::move(e);
    if (more) {
      response->set_next_page_token(EncodePageToken(
          kHistoryToken, {std::to_string(response->events(response->events_size() - 1).sequence())}));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListQuarantined(
    grpc::CallbackServerContext* context, const saga::v1::ListQuarantinedRequest* request,
    saga::v1::ListQuarantinedResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  coordinator::SagaQuery query;
  query.states = {saga::v1::SAGA_STATE_QUARANTINED};
  query.definition_name = request->definition_name();
  query.limit = EffectivePageSize(request->page_size());
  return AnswerSagaPage(reactor, executor_, store_, std::move(query), kQuarantinedToken,
                        request->page_token(), response->mutable_sagas(),
                        response->mutable_next_page_token());
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListParked(grpc::CallbackServerContext* context,
                                                       const saga::v1::ListParkedRequest* request,
                                                       saga::v1::ListParkedResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "ListParked", kRelay);
}

grpc::ServerUnaryReactor* AdminServiceImpl::RequeueParked(
    grpc::CallbackServerContext* context, const saga::v1::RequeueParkedRequest* request,
    saga::v1::RequeueParkedResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "RequeueParked", kRelay);
}

}  // namespace saga::services
