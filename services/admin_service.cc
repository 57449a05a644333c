#include "services/admin_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/notification.h"
#include "outbox/pg/parked_messages.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "services/page_token.h"
#include "services/saga_list.h"
#include "services/request_validation.h"
#include "services/unary_call.h"

namespace saga::services {
namespace {
constexpr char kHistoryToken[] = "history";
constexpr char kQuarantinedToken[] = "quarantined";
constexpr char kParkedToken[] = "parked";

// Applies an operator action to a saga through the engine (which takes it over if needed) and
// waits, on a blocking-executor thread, until it is durable.
absl::StatusOr<saga::v1::Saga> OperateAndWait(coordinator::SagaEngine& engine,
                                              const std::string& saga_id,
                                              coordinator::SagaEngine::SagaOperation operation) {
  absl::Notification done;
  absl::StatusOr<saga::v1::Saga> result = absl::UnknownError("no answer");
  engine.Operate(saga_id, /*ended_too=*/true, std::move(operation),
                 [&](absl::StatusOr<saga::v1::Saga> saga) {
                   result = std::move(saga);
                   done.Notify();
                 });
  done.WaitForNotification();
  return result;
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  google::protobuf::Timestamp ts;
  ts.set_seconds(micros / 1000000);
  ts.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return ts;
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::Act(grpc::CallbackServerContext* context,
                                                const absl::Status& validation,
                                                const std::string& saga_id, Action action,
                                                saga::v1::Saga* result) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Caller caller;
  if (Denied(*auth_, *context, Role::kAdmin, reactor, &caller)) return reactor;
  if (!validation.ok()) return FinishNow(reactor, validation);
  return RunBlocking(executor_, reactor, [this, id = absl::AsciiStrToLower(saga_id),
                                          action = std::move(action), caller,
                                          result]() -> absl::Status {
    auto saga = OperateAndWait(*engine_, id,
                               [&](coordinator::SagaInstance& instance, absl::Time now) {
                                 return action(instance, now, caller);
                               });
    if (!saga.ok()) return saga.status();
    *result = *std::move(saga);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RetrySaga(grpc::CallbackServerContext* context,
                                                      const saga::v1::RetrySagaRequest* request,
                                                      saga::v1::RetrySagaResponse* response) {
  return Act(context, ValidateRequest(*request), request->saga_id(),
             [request](coordinator::SagaInstance& instance, absl::Time now, const Caller& caller) {
               return coordinator::SagaMachine::Retry(instance, caller.name, request->reason(),
                                                     now);
             },
             response->mutable_saga());
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReplayCompensation(
    grpc::CallbackServerContext* context, const saga::v1::ReplayCompensationRequest* request,
    saga::v1::ReplayCompensationResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Caller caller;
  if (Denied(*auth_, *context, Role::kAdmin, reactor, &caller)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  return RunBlocking(executor_, reactor, [this, request, response, caller]() -> absl::Status {
    // The sagas: one by id, or those of the filter that are COMPENSATED or QUARANTINED.
    std::vector<std::string> ids;
    if (request->has_filter()) {
      const saga::v1::SagaFilter& filter = request->filter();
      coordinator::SagaQuery query;
      query.definition_name = filter.definition_name();
      for (int state : filter.states()) {
        if (state == saga::v1::SAGA_STATE_COMPENSATED ||
            state == saga::v1::SAGA_STATE_QUARANTINED) {
          query.states.push_back(state);
        }
      }
      if (filter.states_size() > 0 && query.states.empty()) {
        return absl::InvalidArgumentError(
            "filter.states: compensations are replayed only for SAGA_STATE_COMPENSATED or "
            "SAGA_STATE_QUARANTINED sagas");
      }
      if (query.states.empty()) {
        query.states = {saga::v1::SAGA_STATE_COMPENSATED, saga::v1::SAGA_STATE_QUARANTINED};
      }
      if (filter.has_created_after()) query.created_after = ToTime(filter.created_after());
      if (filter.has_created_before()) query.created_before = ToTime(filter.created_before());
      const size_t limit = request->limit() == 0 ? 1000 : static_cast<size_t>(request->limit());
      query.limit = 500;
      while (ids.size() < limit) {
        auto page = store_->List(query);
        if (!page.ok()) return page.status();
        for (const saga::v1::Saga& saga : page->sagas) {
          if (ids.size() < limit &&
              absl::StrContains(saga.error(), filter.error_contains())) {
            ids.push_back(saga.saga_id());
          }
        }
        if (!page->more || page->sagas.empty()) break;
        const saga::v1::Saga& last = page->sagas.back();
        query.after = std::make_pair(ToTime(last.create_time()), last.saga_id());
      }
    } else {
      ids.push_back(absl::AsciiStrToLower(request->saga_id()));
    }

    response->set_dry_run(request->dry_run());
    uint32_t sagas = 0;
    for (const std::string& id : ids) {
      auto plan = engine_->ReplayPlan(id, request->from_step());
      if (!plan.ok()) {
        if (request->has_filter()) continue;  // changed meanwhile, or nothing to do
        return plan.status();
      }
      if (plan->empty()) {
        if (request->has_filter()) continue;
        return absl::FailedPreconditionError(saga::StrCat("saga ", id,
                                                          " has no compensation to replay"));
      }
      if (!request->dry_run()) {
        auto replayed = OperateAndWait(
            *engine_, id, [&](coordinator::SagaInstance& instance, absl::Time now) {
              return coordinator::SagaMachine::ReplayCompensation(
                  instance, request->from_step(), caller.name, request->reason(), now);
            });
        if (!replayed.ok()) {
          if (request->has_filter()) continue;
          return replayed.status();
        }
      }
      ++sagas;
      uint32_t order = 0;
      for (const std::string& step : *plan) {
        saga::v1::PlannedCompensation* planned = response->add_plan();
        planned->set_saga_id(id);
        planned->set_step(step);
        planned->set_order(++order);
      }
    }
    response->set_saga_count(sagas);
    LogInfo(request->dry_run() ? "compensation replay planned (dry run)" : "compensations replayed",
            {{"sagas", saga::StrCat(sagas)}, {"compensations", saga::StrCat(response->plan_size())},
             {"actor", caller.name}, {"reason", request->reason()}});
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::SkipStep(grpc::CallbackServerContext* context,
                                                     const saga::v1::SkipStepRequest* request,
                                                     saga::v1::SkipStepResponse* response) {
  return Act(context, ValidateRequest(*request), request->saga_id(),
             [request](coordinator::SagaInstance& instance, absl::Time now, const Caller& caller) {
               return coordinator::SagaMachine::SkipStep(instance, request->step(), caller.name,
                                                         request->reason(), now);
             },
             response->mutable_saga());
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetHistory(grpc::CallbackServerContext* context,
                                                       const saga::v1::GetHistoryRequest* request,
                                                       saga::v1::GetHistoryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
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
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
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
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
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

grpc::ServerUnaryReactor* AdminServiceImpl::GetOverview(
    grpc::CallbackServerContext* context, const saga::v1::GetOverviewRequest* request,
    saga::v1::GetOverviewResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  const absl::Duration window =
      request->has_window() ? absl::Seconds(request->window().seconds()) : absl::Hours(1);
  const int buckets = request->buckets() == 0 ? 60 : request->buckets();
  return RunBlocking(executor_, reactor, [this, response, window, buckets]() -> absl::Status {
    auto overview = store_->Overview(window, buckets);
    if (!overview.ok()) return overview.status();
    auto backlog = outbox::pg::ReadBacklog(*pool_, "outbox");
    if (!backlog.ok()) return backlog.status();
    for (const auto& c : overview->counts) {
      saga::v1::SagaCount& count = *response->add_counts();
      count.set_definition_name(c.definition_name);
      count.set_state(static_cast<saga::v1::SagaState>(c.state));
      count.set_count(c.count);
      if (c.state == saga::v1::SAGA_STATE_QUARANTINED) {
        response->set_quarantined(response->quarantined() + c.count);
      }
    }
    const absl::Time start = overview->read_time - window;
    for (size_t i = 0; i < overview->buckets.size(); ++i) {
      const auto& b = overview->buckets[i];
      saga::v1::ThroughputBucket& bucket = *response->add_throughput();
      *bucket.mutable_start_time() = ToTimestamp(start + window * static_cast<double>(i) / buckets);
      bucket.set_started(b.started);
      bucket.set_completed(b.completed);
      bucket.set_compensated(b.compensated);
      bucket.set_quarantined(b.quarantined);
    }
    response->set_parked_messages(backlog->parked);
    response->set_pending_messages(backlog->pending);
    const int64_t lag_micros = static_cast<int64_t>(backlog->oldest_pending_seconds * 1e6);
    response->mutable_relay_lag()->set_seconds(lag_micros / 1000000);
    response->mutable_relay_lag()->set_nanos(static_cast<int32_t>(lag_micros % 1000000) * 1000);
    *response->mutable_read_time() = ToTimestamp(overview->read_time);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::WhoAmI(grpc::CallbackServerContext* context,
                                                   const saga::v1::WhoAmIRequest* /*request*/,
                                                   saga::v1::WhoAmIResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Caller caller;
  if (Denied(*auth_, *context, Role::kViewer, reactor, &caller)) return reactor;
  response->set_name(caller.name);
  response->set_role(RoleName(caller.role));
  response->set_authentication(auth_->enabled());
  return FinishNow(reactor, absl::OkStatus());
}

}  // namespace saga::services
