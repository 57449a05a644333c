#include "services/admin_service.h"

#include "services/not_built_yet.h"
#include "services/request_validation.h"

namespace saga::services {
namespace {
constexpr char kEngine[] = "the saga engine (issue #3)";
constexpr char kRelay[] = "the outbox relay (issue #4)";
}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::RetrySaga(grpc::CallbackServerContext* context,
                                                      const saga::v1::RetrySagaRequest* request,
                                                      saga::v1::RetrySagaResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "RetrySaga", kEngine);
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReplayCompensation(
    grpc::CallbackServerContext* context, const saga::v1::ReplayCompensationRequest* request,
    saga::v1::ReplayCompensationResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "ReplayCompensation", kEngine);
}

grpc::ServerUnaryReactor* AdminServiceImpl::SkipStep(grpc::CallbackServerContext* context,
                                                     const saga::v1::SkipStepRequest* request,
                                                     saga::v1::SkipStepResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "SkipStep", kEngine);
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetHistory(grpc::CallbackServerContext* context,
                                                       const saga::v1::GetHistoryRequest* request,
                                                       saga::v1::GetHistoryResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "GetHistory", kEngine);
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListQuarantined(
    grpc::CallbackServerContext* context, const saga::v1::ListQuarantinedRequest* request,
    saga::v1::ListQuarantinedResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "ListQuarantined", kEngine);
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
