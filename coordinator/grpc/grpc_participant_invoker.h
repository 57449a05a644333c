// GrpcParticipantInvoker calls participants' gRPC methods as generic calls: the step's payload
// bytes go out as the request message as they are, so sagad needs no copy of any participant's
// proto. One channel per target, shared by every call to it; calls are asynchronous (gRPC's
// callback API): no thread waits for a participant.
//
// Every call carries this metadata:
//   saga-id, saga-step, saga-operation (action | compensation | status), saga-attempt,
//   idempotency-key (the same for every attempt of one step's operation),
//   saga-lease-epoch, and the W3C traceparent.
// Thread-safe.
#ifndef SAGA_COORDINATOR_GRPC_GRPC_PARTICIPANT_INVOKER_H_
#define SAGA_COORDINATOR_GRPC_GRPC_PARTICIPANT_INVOKER_H_

#include <memory>
#include <string>

#include <grpcpp/generic/generic_stub.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/participant_invoker.h"

namespace saga::coordinator::grpc_invoker {

class GrpcParticipantInvoker : public ParticipantInvoker {
 public:
  void Invoke(const Invocation& invocation, std::function<void(absl::Status)> done) override;

 private:
  grpc::GenericStub* StubFor(const std::string& target);

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace saga::coordinator::grpc_invoker

#endif  // SAGA_COORDINATOR_GRPC_GRPC_PARTICIPANT_INVOKER_H_
