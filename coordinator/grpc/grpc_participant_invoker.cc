#include "coordinator/grpc/grpc_participant_invoker.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/time/clock.h"
#include "sdk/base/strings.h"
#include "sdk/base/tsan.h"

namespace saga::coordinator::grpc_invoker {
namespace {

// One call in flight; deleted when it completes.
struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  std::function<void(absl::Status)> done;
};

}  // namespace

grpc::GenericStub* GrpcParticipantInvoker::StubFor(const std::string& target) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[target];
  if (!stub) {
    stub = std::make_unique<grpc::GenericStub>(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }
  return stub.get();
}

void GrpcParticipantInvoker::Invoke(const Invocation& invocation,
                                    std::function<void(absl::Status)> done) {
  if (!invocation.endpoint.has_grpc()) {
    done(absl::UnimplementedError("only gRPC endpoints are invoked by this invoker"));
    return;
  }
  const saga::v1::GrpcEndpoint& endpoint = invocation.endpoint.grpc();
  auto* call = new Call();
  call->done = std::move(done);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + invocation.timeout));
  call->context.AddMetadata("saga-id", invocation.saga_id);
  call->context.AddMetadata("saga-step", invocation.step);
  call->context.AddMetadata("saga-operation", OperationName(invocation.operation));
  call->context.AddMetadata("saga-attempt", saga::StrCat(invocation.attempt));
  call->context.AddMetadata("idempotency-key", invocation.idempotency_key);
  call->context.AddMetadata("saga-lease-epoch", saga::StrCat(invocation.lease_epoch));
  if (!invocation.traceparent.empty()) {
    call->context.AddMetadata("traceparent", invocation.traceparent);
  }
  grpc::Slice slice(invocation.payload);
  call->request = grpc::ByteBuffer(&slice, 1);
  grpc::GenericStub* stub = StubFor(endpoint.target());
  // gRPC runs the callback on its own thread after this one started the call: said to
  // ThreadSanitizer, which cannot see inside Debian's gRPC (sdk/base/tsan.h).
  saga::TsanRelease(call);
  saga::TsanIgnoreAccesses ignore;
  stub->UnaryCall(&call->context, endpoint.method(), grpc::StubOptions(), &call->request,
                  &call->response, [call](grpc::Status status) {
                    saga::TsanAcquire(call);
                    saga::TsanHeedAccesses heed;  // when gRPC calls back inline
                    call->done(absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                            status.error_message()));
                    delete call;
                  });
}

}  // namespace saga::coordinator::grpc_invoker
