#include "services/saga_list.h"

#include <utility>

#include "services/page_token.h"
#include "services/unary_call.h"

namespace saga::services {

grpc::ServerUnaryReactor* AnswerSagaPage(grpc::ServerUnaryReactor* reactor,
                                         BlockingExecutor* executor,
                                         coordinator::SagaStore* store,
                                         coordinator::SagaQuery query, std::string_view kind,
                                         const std::string& page_token,
                                         google::protobuf::RepeatedPtrField<saga::v1::Saga>* sagas,
                                         std::string* next_page_token) {
  if (!page_token.empty()) {
    auto after = DecodeSagaPageToken(page_token, kind);
    if (!after.ok()) return FinishNow(reactor, after.status());
    query.after = *std::move(after);
  }
  return RunBlocking(executor, reactor,
                     [store, query = std::move(query), kind = std::string(kind), sagas,
                      next_page_token]() -> absl::Status {
                       auto page = store->List(query);
                       if (!page.ok()) return page.status();
                       for (auto& saga : page->sagas) *sagas->Add() = std::move(saga);
                       if (page->more) {
                         *next_page_token = EncodeSagaPageToken(kind, *sagas->rbegin());
                       }
                       return absl::OkStatus();
                     });
}

}  // namespace saga::services
