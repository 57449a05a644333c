#include "services/outbox_service.h"

#include "services/not_built_yet.h"

namespace saga::services {

grpc::ServerUnaryReactor* OutboxServiceImpl::Publish(grpc::CallbackServerContext* context,
                                                     const saga::v1::PublishRequest* request,
                                                     saga::v1::PublishResponse*) {
  return NotBuiltYet(context, outbox::ValidatePublishRequest(*request, limits_), "Publish",
                     "the outbox relay (issue #4)");
}

}  // namespace saga::services
