// ParticipantRouter sends each call to the invoker of its endpoint's kind: gRPC methods to one,
// Kafka command topics to the other. Thread-safe when both invokers are.
#ifndef SAGA_COORDINATOR_PARTICIPANT_ROUTER_H_
#define SAGA_COORDINATOR_PARTICIPANT_ROUTER_H_

#include "coordinator/participant_invoker.h"

namespace saga::coordinator {

class ParticipantRouter : public ParticipantInvoker {
 public:
  // Both must outlive the router; `kafka` may be null (Kafka steps then fail as unavailable).
  ParticipantRouter(ParticipantInvoker* grpc, ParticipantInvoker* kafka)
      : grpc_(grpc), kafka_(kafka) {}

  void Invoke(const Invocation& invocation, std::function<void(absl::Status)> done) override {
    if (invocation.endpoint.has_kafka()) {
      if (kafka_ == nullptr) {
        return done(absl::UnavailableError("this sagad has no Kafka for Kafka step endpoints"));
      }
      return kafka_->Invoke(invocation, std::move(done));
    }
    grpc_->Invoke(invocation, std::move(done));
  }

 private:
  ParticipantInvoker* const grpc_;
  ParticipantInvoker* const kafka_;
};

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_PARTICIPANT_ROUTER_H_
