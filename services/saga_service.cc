#include "sdk/base/strings.h"
#include "services/saga_service.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "coordinator/definition_validator.h"
#include "coordinator/descriptor_import.h"
#include "sdk/base/strings.h"
#include "services/not_built_yet.h"
#include "services/page_token.h"
#include "services/saga_list.h"
#include "services/unary_call.h"
#include "services/watch_saga_reactor.h"

namespace saga::services {
namespace {
constexpr char kDefinitionsToken[] = "definitions";
constexpr char kSagasToken[] = "sagas";
}  // namespace

grpc::ServerUnaryReactor* SagaServiceImpl::RegisterDefinition(
    grpc::CallbackServerContext* context, const saga::v1::RegisterDefinitionRequest* request,
    saga::v1::RegisterDefinitionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kClient, reactor)) return reactor;
  if (!request->has_definition()) {
    return FinishNow(reactor, absl::InvalidArgumentError("definition: is required"));
  }
  return RunBlocking(executor_, reactor, [this, request, response]() -> absl::Status {
    auto stored = registry_->Register(request->definition());
    if (!stored.ok()) return stored.status();
    *response->mutable_definition() = std::move(stored->definition);
    response->set_created(stored->created);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SagaServiceImpl::ImportDefinitions(
    grpc::CallbackServerContext* context, const saga::v1::ImportDefinitionsRequest* request,
    saga::v1::ImportDefinitionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kClient, reactor)) return reactor;
  if (request->file_descriptor_set().size() > (4 << 20)) {
    return FinishNow(reactor, absl::InvalidArgumentError(
                                  "file_descriptor_set: at most 4 MiB; import fewer files"));
  }
  coordinator::ImportTargets targets;
  targets.fallback = request->default_target();
  for (const auto& [service, target] : request->service_targets()) {
    targets.by_service[service] = target;
  }
  auto definitions = coordinator::DefinitionsFromDescriptorSet(request->file_descriptor_set(),
                                                               targets);
  if (!definitions.ok()) return FinishNow(reactor, definitions.status());
  // Validate every one before storing any, so a bad import stores nothing.
  for (const auto& definition : *definitions) {
    if (absl::Status s = coordinator::ValidateDefinition(definition); !s.ok()) {
      return FinishNow(reactor, absl::InvalidArgumentError(saga::StrCat(
                                    "saga ", definition.name(), ": ", s.message())));
    }
  }
  return RunBlocking(executor_, reactor,
                     [this, response, definitions = *std::move(definitions)]() -> absl::Status {
                       for (const auto& definition : definitions) {
                         auto stored = registry_->Register(definition);
                         if (!stored.ok()) return stored.status();
                         auto* out = response->add_definitions();
                         *out->mutable_definition() = std::move(stored->definition);
                         out->set_created(stored->created);
                       }
                       return absl::OkStatus();
                     });
}

grpc::ServerUnaryReactor* SagaServiceImpl::GetDefinition(
    grpc::CallbackServerContext* context, const saga::v1::GetDefinitionRequest* request,
    saga::v1::GetDefinitionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  return RunBlocking(executor_, reactor, [this, request, response]() -> absl::Status {
    auto definition = registry_->Get(request->name(), request->version());
    if (!definition.ok()) return definition.status();
    *response->mutable_definition() = **definition;
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SagaServiceImpl::ListDefinitions(
    grpc::CallbackServerContext* context, const saga::v1::ListDefinitionsRequest* request,
    saga::v1::ListDefinitionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  coordinator::DefinitionQuery query;
  query.name = request->name();
  query.all_versions = request->all_versions();
  query.limit = EffectivePageSize(request->page_size());
  if (!request->page_token().empty()) {
    auto cursor = DecodePageToken(request->page_token(), kDefinitionsToken, 2);
    if (!cursor.ok()) return FinishNow(reactor, cursor.status());
    query.after_name = (*cursor)[0];
    if (!absl::SimpleAtoi((*cursor)[1], &query.after_version) || query.after_name.empty()) {
      return FinishNow(reactor, absl::InvalidArgumentError("page_token: is damaged"));
    }
  }
  return RunBlocking(executor_, reactor, [this, query, response]() -> absl::Status {
    auto page = registry_->List(query);
    if (!page.ok()) return page.status();
    for (auto& definition : page->definitions) {
      *response->add_definitions() = std::move(definition);
    }
    if (page->more) {
      const auto& last = response->definitions(response->definitions_size() - 1);
      response->set_next_page_token(
          EncodePageToken(kDefinitionsToken, {last.name(), std::to_string(last.version())}));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SagaServiceImpl::StartSaga(grpc::CallbackServerContext* context,
                                                     const saga::v1::StartSagaRequest* request,
                                                     saga::v1::StartSagaResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kClient, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request, limits_); !s.ok()) return FinishNow(reactor, s);
  std::string traceparent = IncomingTraceparent(*context);
  // Waiting ends a little before the caller's deadline, so the answer still reaches it.
  absl::Time wait_until = absl::Now() + absl::Minutes(5);
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    wait_until = std::min(wait_until, absl::FromChrono(context->deadline()) - absl::Milliseconds(50));
  }
  const bool wait = request->wait_for_completion();
  auto start = [this, request, response, reactor, traceparent, wait, wait_until] {
    engine_->StartSaga(*request, traceparent,
                       [this, response, reactor, wait,
                        wait_until](absl::StatusOr<coordinator::StartResult> started) {
      if (!started.ok()) {
        FinishCall(reactor, ToGrpcStatus(started.status()));
        return;
      }
      response->set_created(started->created);
      *response->mutable_saga() = std::move(started->saga);
      if (!wait) {
        FinishCall(reactor, grpc::Status::OK);
        return;
      }
      engine_->AwaitEnd(response->saga().saga_id(), wait_until,
                        [response, reactor](absl::StatusOr<saga::v1::Saga> saga) {
                          if (saga.ok()) *response->mutable_saga() = *std::move(saga);
                          FinishCall(reactor, ToGrpcStatus(saga.status()));
                        });
    });
  };
  // With its definition cached, starting blocks on nothing: no thread hop.
  if (engine_->CanStartWithoutBlocking(request->definition_name(),
                                       request->definition_version())) {
    start();
  } else if (!executor_->Schedule(std::move(start))) {
    return FinishNow(reactor, absl::UnavailableError("sagad is shutting down; retry"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* SagaServiceImpl::GetSaga(grpc::CallbackServerContext* context,
                                                   const saga::v1::GetSagaRequest* request,
                                                   saga::v1::GetSagaResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  return RunBlocking(executor_, reactor, [this, request, response]() -> absl::Status {
    auto stored = store_->GetWithRequest(absl::AsciiStrToLower(request->saga_id()));
    if (!stored.ok()) return stored.status();
    *response->mutable_saga() = std::move(stored->saga);
    saga::v1::StartSagaRequest start;
    if (!start.ParseFromString(stored->request)) {
      return absl::DataLossError("the saga's stored start request does not parse");
    }
    response->mutable_payloads()->swap(*start.mutable_payloads());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SagaServiceImpl::ListSagas(grpc::CallbackServerContext* context,
                                                     const saga::v1::ListSagasRequest* request,
                                                     saga::v1::ListSagasResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  coordinator::SagaQuery query;
  for (int state : request->states()) query.states.push_back(state);
  query.definition_name = request->definition_name();
  auto to_time = [](const google::protobuf::Timestamp& t) {
    return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
  };
  if (request->has_created_after()) query.created_after = to_time(request->created_after());
  if (request->has_created_before()) query.created_before = to_time(request->created_before());
  for (const auto& [key, value] : request->labels()) query.labels.emplace_back(key, value);
  query.error_contains = request->error_contains();
  query.limit = EffectivePageSize(request->page_size());
  return AnswerSagaPage(reactor, executor_, store_, std::move(query), kSagasToken,
                        request->page_token(), response->mutable_sagas(),
                        response->mutable_next_page_token());
}

grpc::ServerWriteReactor<saga::v1::WatchSagaResponse>* SagaServiceImpl::WatchSaga(
    grpc::CallbackServerContext* context, const saga::v1::WatchSagaRequest* request) {
  if (auto caller = auth_->Authorize(*context, Role::kViewer); !caller.ok()) {
    return new FinishedWriter<saga::v1::WatchSagaResponse>(ToGrpcStatus(caller.status()));
  }
  absl::Status status = ValidateRequest(*request);
  if (!status.ok()) {
    return new FinishedWriter<saga::v1::WatchSagaResponse>(ToGrpcStatus(status));
  }
  return new WatchSagaReactor(engine_, store_, executor_,
                              absl::AsciiStrToLower(request->saga_id()), request->after_sequence());
}

grpc::ServerUnaryReactor* SagaServiceImpl::AbortSaga(grpc::CallbackServerContext* context,
                                                     const saga::v1::AbortSagaRequest* request,
                                                     saga::v1::AbortSagaResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Caller caller;
  if (Denied(*auth_, *context, Role::kClient, reactor, &caller)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  bool scheduled = executor_->Schedule([this, request, response, reactor, caller] {
    // The actor in the history is the caller's token name ("anonymous" without authentication).
    engine_->Abort(absl::AsciiStrToLower(request->saga_id()), caller.name, request->reason(),
                   [response, reactor](absl::StatusOr<saga::v1::Saga> saga) {
                     if (saga.ok()) *response->mutable_saga() = *std::move(saga);
                     FinishCall(reactor, ToGrpcStatus(saga.status()));
                   });
  });
  if (!scheduled) {
    return FinishNow(reactor, absl::UnavailableError("sagad is shutting down; retry"));
  }
  return reactor;
}

}  // namespace saga::services
