#include "sdk/base/strings.h"
#include "services/saga_service.h"

#include <string>

#include "absl/strings/numbers.h"
#include "services/not_built_yet.h"
#include "services/page_token.h"
#include "services/unary_call.h"

namespace saga::services {
namespace {
constexpr char kDefinitionsToken[] = "definitions";
constexpr char kEngine[] = "the saga engine (issue #3)";
}  // namespace

grpc::ServerUnaryReactor* SagaServiceImpl::RegisterDefinition(
    grpc::CallbackServerContext* context, const saga::v1::RegisterDefinitionRequest* request,
    saga::v1::RegisterDefinitionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
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

grpc::ServerUnaryReactor* SagaServiceImpl::GetDefinition(
    grpc::CallbackServerContext* context, const saga::v1::GetDefinitionRequest* request,
    saga::v1::GetDefinitionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
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
                                                     saga::v1::StartSagaResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request, limits_), "StartSaga", kEngine);
}

grpc::ServerUnaryReactor* SagaServiceImpl::GetSaga(grpc::CallbackServerContext* context,
                                                   const saga::v1::GetSagaRequest* request,
                                                   saga::v1::GetSagaResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "GetSaga", kEngine);
}

grpc::ServerUnaryReactor* SagaServiceImpl::ListSagas(grpc::CallbackServerContext* context,
                                                     const saga::v1::ListSagasRequest* request,
                                                     saga::v1::ListSagasResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "ListSagas", kEngine);
}

grpc::ServerWriteReactor<saga::v1::WatchSagaResponse>* SagaServiceImpl::WatchSaga(
    grpc::CallbackServerContext*, const saga::v1::WatchSagaRequest* request) {
  absl::Status status = ValidateRequest(*request);
  if (status.ok()) {
    status = absl::UnimplementedError(
        saga::StrCat("WatchSaga is valid, but this sagad does not provide ", kEngine, " yet"));
  }
  return new FinishedWriter<saga::v1::WatchSagaResponse>(ToGrpcStatus(status));
}

grpc::ServerUnaryReactor* SagaServiceImpl::AbortSaga(grpc::CallbackServerContext* context,
                                                     const saga::v1::AbortSagaRequest* request,
                                                     saga::v1::AbortSagaResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "AbortSaga", kEngine);
}

}  // namespace saga::services
