#include "services/outbox_service.h"

#include <pqxx/transaction>

#include "sdk/outbox/outbox_writer.h"
#include "services/unary_call.h"

namespace saga::services {

grpc::ServerUnaryReactor* OutboxServiceImpl::Publish(grpc::CallbackServerContext* context,
                                                     const saga::v1::PublishRequest* request,
                                                     saga::v1::PublishResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = outbox::ValidatePublishRequest(*request, limits_); !s.ok()) {
    return FinishNow(reactor, s);
  }
  return RunBlocking(executor_, reactor, [this, request, response]() -> absl::Status {
    std::vector<std::string> ids;
    absl::Status s = pool_->Run("publishing outbox messages", [&](pqxx::connection& conn) {
      ids.clear();
      pqxx::work tx(conn);
      for (const saga::v1::OutboxMessage& message : request->messages()) {
        auto id = sdk::WriteOutboxMessage(tx, message, "outbox", limits_);
        if (!id.ok()) return id.status();  // the transaction is aborted: nothing is stored
        ids.push_back(*std::move(id));
      }
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    for (std::string& id : ids) response->add_message_ids(std::move(id));
    return absl::OkStatus();
  });
}

}  // namespace saga::services
