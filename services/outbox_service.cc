#include "services/outbox_service.h"

#include <pqxx/transaction>

#include "sdk/outbox/outbox_writer.h"
#include "services/unary_call.h"

namespace saga::services {

grpc::ServerUnaryReactor* OutboxServiceImpl::Publish(grpc::CallbackServerContext* context,
                                                     const saga::v1::PublishRequest* request,
                                                     saga::v1::PublishResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kClient, reactor)) return reactor;
  if (absl::Status s = outbox::ValidatePublishRequest(*request, limits_); !s.ok()) {
    return FinishNow(reactor, s);
  }
  // The caller's trace continues in the messages that carry none of their own.
  std::string traceparent = IncomingTraceparent(*context);
  return RunBlocking(executor_, reactor, [this, request, response, traceparent]() -> absl::Status {
    std::vector<std::string> ids;
    absl::Status s = pool_->Run("publishing outbox messages", [&](pqxx::connection& conn) {
      pqxx::work tx(conn);
      std::vector<saga::v1::OutboxMessage> messages(request->messages().begin(),
                                                    request->messages().end());
      if (!traceparent.empty()) {
        for (saga::v1::OutboxMessage& m : messages) {
          m.mutable_headers()->insert({"traceparent", traceparent});  // keeps one it has
        }
      }
      auto written = sdk::WriteOutboxMessages(tx, messages, "outbox", limits_);
      if (!written.ok()) return written.status();  // aborted: nothing is stored
      tx.commit();
      ids = *std::move(written);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    for (std::string& id : ids) response->add_message_ids(std::move(id));
    return absl::OkStatus();
  });
}

}  // namespace saga::services
