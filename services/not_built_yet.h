// The answer of RPCs whose feature is not built yet: the request is validated first (so bad
// input gets INVALID_ARGUMENT at once, as it will later), then UNIMPLEMENTED says what is missing.
#ifndef SAGA_SERVICES_NOT_BUILT_YET_H_
#define SAGA_SERVICES_NOT_BUILT_YET_H_

#include <string_view>

#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "sdk/base/strings.h"
#include "sdk/base/tsan.h"
#include "services/grpc_status.h"
#include "services/unary_call.h"

namespace saga::services {

// `validation` is the request's validation result; `feature` names what is missing.
inline grpc::ServerUnaryReactor* NotBuiltYet(grpc::ServerUnaryReactor* reactor,
                                             const absl::Status& validation,
                                             std::string_view rpc, std::string_view feature) {
  FinishCall(reactor, ToGrpcStatus(
      validation.ok() ? absl::UnimplementedError(saga::StrCat(
                            rpc, " is valid, but this sagad does not provide ", feature, " yet"))
                      : validation));
  return reactor;
}

// A server-streaming reactor that ends at once with `status`.
template <typename Response>
class FinishedWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FinishedWriter(const grpc::Status& status) {
    saga::TsanRelease(this);  // OnDone runs on a gRPC thread (sdk/base/tsan.h)
    saga::TsanIgnoreAccesses ignore;
    this->Finish(status);
  }
  void OnDone() override {
    saga::TsanAcquire(this);
    saga::TsanHeedAccesses heed;
    delete this;
  }
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_NOT_BUILT_YET_H_
