// OutboxServiceImpl serves saga.v1.OutboxService. Publish validates every message (topic, key,
// payload limit, unique ids); storing and relaying come with issue #4, until then valid requests
// answer UNIMPLEMENTED.
#ifndef SAGA_SERVICES_OUTBOX_SERVICE_H_
#define SAGA_SERVICES_OUTBOX_SERVICE_H_

#include "outbox/message_validation.h"
#include "saga/v1/outbox_service.grpc.pb.h"

namespace saga::services {

class OutboxServiceImpl final : public saga::v1::OutboxService::CallbackService {
 public:
  explicit OutboxServiceImpl(outbox::MessageLimits limits) : limits_(limits) {}

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const saga::v1::PublishRequest* request,
                                    saga::v1::PublishResponse* response) override;

 private:
  const outbox::MessageLimits limits_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_OUTBOX_SERVICE_H_
