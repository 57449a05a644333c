// How ListSagas and ListQuarantined answer: one page of sagas from the SagaStore, newest first,
// resumed after the page token, read on the BlockingExecutor.
#ifndef SAGA_SERVICES_SAGA_LIST_H_
#define SAGA_SERVICES_SAGA_LIST_H_

#include <string>
#include <string_view>

#include <google/protobuf/repeated_ptr_field.h>
#include <grpcpp/support/server_callback.h>

#include "coordinator/saga_store.h"
#include "saga/v1/saga.pb.h"
#include "sdk/base/blocking_executor.h"

namespace saga::services {

// Finishes `reactor` with the page of `query` after `page_token` (a token of the list `kind`)
// in `sagas` and `next_page_token`, which must live until then (the response's fields).
grpc::ServerUnaryReactor* AnswerSagaPage(grpc::ServerUnaryReactor* reactor,
                                         BlockingExecutor* executor,
                                         coordinator::SagaStore* store,
                                         coordinator::SagaQuery query, std::string_view kind,
                                         const std::string& page_token,
                                         google::protobuf::RepeatedPtrField<saga::v1::Saga>* sagas,
                                         std::string* next_page_token);

}  // namespace saga::services

#endif  // SAGA_SERVICES_SAGA_LIST_H_
