// OutboxServiceImpl serves saga.v1.OutboxService. Publish validates every message (topic, key,
// payload limit, unique ids), then commits them all to sagad's outbox in one transaction with
// the SDK's outbox writer, and answers once they are durable; the relay delivers them.
#ifndef SAGA_SERVICES_OUTBOX_SERVICE_H_
#define SAGA_SERVICES_OUTBOX_SERVICE_H_

#include "outbox/message_validation.h"
#include "saga/v1/outbox_service.grpc.pb.h"
#include "sdk/base/blocking_executor.h"
#include "sdk/pg/connection_pool.h"
#include "services/auth.h"

namespace saga::services {

class OutboxServiceImpl final : public saga::v1::OutboxService::CallbackService {
 public:
  // `pool` and `executor` must outlive the service.
  OutboxServiceImpl(pg::ConnectionPool* pool, BlockingExecutor* executor,
                    outbox::MessageLimits limits, const Authenticator* auth)
      : pool_(pool), executor_(executor), limits_(limits), auth_(auth) {}

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const saga::v1::PublishRequest* request,
                                    saga::v1::PublishResponse* response) override;

 private:
  pg::ConnectionPool* const pool_;
  BlockingExecutor* const executor_;
  const outbox::MessageLimits limits_;
  const Authenticator* const auth_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_OUTBOX_SERVICE_H_
