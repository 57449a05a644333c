#include "services/admin_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "outbox/pg/parked_messages.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
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
constexpr char kParkedToken[] = "parked";
}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::RetrySaga(grpc::CallbackServerContext* context,
                                                      const saga::v1::RetrySagaRequest* request,
                                                      saga::v1::RetrySagaResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kAdmin, reactor)) return reactor;
  return NotBuiltYet(reactor, ValidateRequest(*request), "RetrySaga", kOperations);
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReplayCompensation(
    grpc::CallbackServerContext* context, const saga::v1::ReplayCompensationRequest* request,
    saga::v1::ReplayCompensationResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kAdmin, reactor)) return reactor;
  return NotBuiltYet(reactor, ValidateRequest(*request), "ReplayCompensation", kOperations);
}

grpc::ServerUnaryReactor* AdminServiceImpl::SkipStep(grpc::CallbackServerContext* context,
                                                     const saga::v1::SkipStepRequest* request,
                                                     saga::v1::SkipStepResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kAdmin, reactor)) return reactor;
  return NotBuiltYet(reactor, ValidateRequest(*request), "SkipStep", kOperations);
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetHistory(grpc::CallbackServerContext* context,
                                                       const saga::v1::GetHistoryRequest* request,
                                                       saga::v1::GetHistoryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kAdmin, reactor)) return reactor;
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
  if (Denied(*auth_, *context, Role::kAdmin, reactor)) return reactor;
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
                                                       saga::v1::ListParkedResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kAdmin, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  int64_t after = 0;
  if (!request->page_token().empty()) {
    auto cursor = DecodePageToken(request->page_token(), kParkedToken, 1);
    if (!cursor.ok()) return FinishNow(reactor, cursor.status());
    if (!absl::SimpleAtoi((*cursor)[0], &after)) {
      return FinishNow(reactor, absl::InvalidArgumentError("page_token: is damaged"));
    }
  }
  const int limit = EffectivePageSize(request->page_size());
  return RunBlocking(executor_, reactor, [this, request, response, after, limit]() -> absl::Status {
    auto page = outbox::pg::ListParked(*pool_, "outbox", request->topic(), after, limit);
    if (!page.ok()) return page.status();
    for (auto& m : page->messages) *response->add_messages() = std::move(m);
    if (page->more) {
      response->set_next_page_token(EncodePageToken(kParkedToken, {std::to_string(page->last_id)}));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RequeueParked(
    grpc::CallbackServerContext* context, const saga::v1::RequeueParkedRequest* request,
    saga::v1::RequeueParkedResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Caller caller;
  if (Denied(*auth_, *context, Role::kAdmin, reactor, &caller)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  return RunBlocking(executor_, reactor, [this, request, response, caller]() -> absl::Status {
    std::vector<std::string> ids(request->message_ids().begin(), request->message_ids().end());
    auto requeued = outbox::pg::RequeueParked(*pool_, "outbox", ids);
    if (!requeued.ok()) return requeued.status();
    response->set_requeued(static_cast<uint32_t>(*requeued));
    LogInfo("parked outbox messages requeued",
            {{"requested", saga::StrCat(ids.size())}, {"requeued", saga::StrCat(*requeued)},
             {"actor", caller.name}, {"reason", request->reason()}});
    return absl::OkStatus();
  });
}

}  // namespace saga::services
