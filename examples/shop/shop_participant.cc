// shop_participant: the example participants of the "order" saga (shop.proto), in one process.
//
//   shop_participant --port 7001 [--fail reserve_stock|charge|ship]
//
// Each service applies an operation once per idempotency key (sagad sends the same key on
// every retry) and keeps a barrier, as a production participant would with the SDK's barrier:
// a compensation without its action applies nothing and blocks that action; an action after
// its compensation applies nothing. Every effect is logged as a JSON line. --fail makes one step
// refuse (a business failure; for ship, a transient one: sagad retries it until it succeeds).
// Payloads decide too: sku "out-of-stock" is refused, as is a charge above 100000 cents.
#include <signal.h>

#include <set>
#include <string>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "shop/shop.grpc.pb.h"

ABSL_FLAG(int, port, 7001, "port to serve Stock, Payments and Shipping on (127.0.0.1)");
ABSL_FLAG(std::string, fail, "", "a step that refuses: reserve_stock, charge or ship");

namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

std::string Meta(CallbackServerContext* context, const char* key) {
  auto it = context->client_metadata().find(key);
  return it == context->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
}

// Applies each operation once per saga and step, with the barrier rules.
class Ledger {
 public:
  enum class Outcome { kApplied, kDuplicate, kBlocked };

  Outcome Action(const std::string& saga, const std::string& step) {
    absl::MutexLock lock(&mu_);
    const std::string key = saga + "/" + step;
    if (compensated_.contains(key)) return Outcome::kBlocked;
    return done_.insert(key).second ? Outcome::kApplied : Outcome::kDuplicate;
  }
  // Returns whether there was an action to undo.
  Outcome Compensation(const std::string& saga, const std::string& step) {
    absl::MutexLock lock(&mu_);
    const std::string key = saga + "/" + step;
    if (!compensated_.insert(key).second) return Outcome::kDuplicate;
    return done_.contains(key) ? Outcome::kApplied : Outcome::kBlocked;
  }
  bool Ran(const std::string& saga, const std::string& step) {
    absl::MutexLock lock(&mu_);
    return done_.contains(saga + "/" + step);
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> done_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> compensated_ ABSL_GUARDED_BY(mu_);
};

const char* Name(Ledger::Outcome o) {
  return o == Ledger::Outcome::kApplied ? "applied"
         : o == Ledger::Outcome::kDuplicate ? "duplicate, ignored" : "blocked by the barrier";
}

void LogEffect(CallbackServerContext* context, const std::string& what, Ledger::Outcome outcome) {
  saga::LogInfo(what, {{"saga_id", Meta(context, "saga-id")},
                       {"idempotency_key", Meta(context, "idempotency-key")},
                       {"outcome", Name(outcome)}});
}

ServerUnaryReactor* Answer(CallbackServerContext* context, const grpc::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

bool Failing(const std::string& step) { return absl::GetFlag(FLAGS_fail) == step; }

class StockService final : public shop::v1::Stock::CallbackService {
 public:
  explicit StockService(Ledger* ledger) : ledger_(ledger) {}
  ServerUnaryReactor* Reserve(CallbackServerContext* context, const shop::v1::ReserveRequest* req,
                              shop::v1::ReserveResponse* resp) override {
    if (req->sku() == "out-of-stock" || Failing("reserve_stock")) {
      return Answer(context, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                          saga::StrCat("sku ", req->sku(), " is out of stock")));
    }
    LogEffect(context, "stock reserved", ledger_->Action(Meta(context, "saga-id"), "reserve"));
    resp->set_reservation_id(Meta(context, "saga-id"));
    return Answer(context, grpc::Status::OK);
  }
  ServerUnaryReactor* Release(CallbackServerContext* context, const shop::v1::ReserveRequest*,
                              shop::v1::ReserveResponse*) override {
    LogEffect(context, "stock released", ledger_->Compensation(Meta(context, "saga-id"), "reserve"));
    return Answer(context, grpc::Status::OK);
  }

 private:
  Ledger* ledger_;
};

class PaymentsService final : public shop::v1::Payments::CallbackService {
 public:
  explicit PaymentsService(Ledger* ledger) : ledger_(ledger) {}
  ServerUnaryReactor* Charge(CallbackServerContext* context, const shop::v1::ChargeRequest* req,
                             shop::v1::ChargeResponse* resp) override {
    if (req->amount_cents() > 100000 || Failing("charge")) {
      return Answer(context,
                    grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "card declined"));
    }
    LogEffect(context, "payment charged", ledger_->Action(Meta(context, "saga-id"), "charge"));
    resp->set_payment_id(Meta(context, "saga-id"));
    return Answer(context, grpc::Status::OK);
  }
  ServerUnaryReactor* Refund(CallbackServerContext* context, const shop::v1::ChargeRequest*,
                             shop::v1::ChargeResponse*) override {
    LogEffect(context, "payment refunded", ledger_->Compensation(Meta(context, "saga-id"), "charge"));
    return Answer(context, grpc::Status::OK);
  }
  ServerUnaryReactor* ChargeStatus(CallbackServerContext* context, const shop::v1::ChargeRequest*,
                                   shop::v1::ChargeResponse*) override {
    return Answer(context, ledger_->Ran(Meta(context, "saga-id"), "charge")
                               ? grpc::Status::OK
                               : grpc::Status(grpc::StatusCode::NOT_FOUND, "no such charge"));
  }

 private:
  Ledger* ledger_;
};

class ShippingService final : public shop::v1::Shipping::CallbackService {
 public:
  explicit ShippingService(Ledger* ledger) : ledger_(ledger) {}
  ServerUnaryReactor* Arrange(CallbackServerContext* context, const shop::v1::ShipRequest*,
                              shop::v1::ShipResponse* resp) override {
    if (Failing("ship")) {
      return Answer(context, grpc::Status(grpc::StatusCode::UNAVAILABLE, "no carrier answers"));
    }
    LogEffect(context, "shipping arranged", ledger_->Action(Meta(context, "saga-id"), "ship"));
    resp->set_tracking_id(Meta(context, "saga-id"));
    return Answer(context, grpc::Status::OK);
  }

 private:
  Ledger* ledger_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Ledger ledger;
  StockService stock(&ledger);
  PaymentsService payments(&ledger);
  ShippingService shipping(&ledger);
  grpc::ServerBuilder builder;
  const std::string addr = saga::StrCat("127.0.0.1:", absl::GetFlag(FLAGS_port));
  int port = 0;
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&stock);
  builder.RegisterService(&payments);
  builder.RegisterService(&shipping);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    saga::LogError("cannot listen", {{"addr", addr}});
    return 1;
  }
  saga::LogInfo("shop participants serving",
                {{"addr", addr}, {"services", "shop.v1.Stock shop.v1.Payments shop.v1.Shipping"},
                 {"failing_step", absl::GetFlag(FLAGS_fail)}});
  int received = 0;
  sigwait(&signals, &received);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
