// bank_account_service: one account service of the money-transfer example (bank.proto), built on
// the SDK's participant barrier. Every Try, Confirm and Cancel runs in one PostgreSQL transaction
// with its barrier row, keyed by the saga-id (the TCC global id) and saga-step (the branch id)
// metadata, so repeated, late and out-of-order calls are harmless.
//
//   bank_account_service --port 7101 --dsn DSN [--accounts 50 --initial_cents 100000]
//                        [--unavailable_rate 0.05] [--lost_reply_rate 0.05]
//
// It creates its tables, and the accounts acct-0 .. acct-<N-1> with the initial balance if they
// do not exist. For fault tests, --unavailable_rate answers that fraction of calls UNAVAILABLE
// before doing anything, and --lost_reply_rate answers UNAVAILABLE after the transaction
// committed (the caller cannot tell that it took effect).
#include <signal.h>

#include <string>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <pqxx/pqxx>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/random/random.h"
#include "bank/bank.grpc.pb.h"
#include "sdk/barrier/barrier.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/pg/connection_pool.h"

ABSL_FLAG(int, port, 7101, "port to serve bank.v1.Accounts on (127.0.0.1)");
ABSL_FLAG(std::string, dsn, "", "this service's PostgreSQL");
ABSL_FLAG(int, accounts, 50, "accounts created at start if missing: acct-0 .. acct-<N-1>");
ABSL_FLAG(int64_t, initial_cents, 100000, "the balance of each account created");
ABSL_FLAG(double, unavailable_rate, 0, "fraction of calls refused with UNAVAILABLE up front");
ABSL_FLAG(double, lost_reply_rate, 0,
          "fraction of calls answered UNAVAILABLE after their effect committed");

namespace {

using saga::sdk::BranchOp;

std::string Meta(grpc::ServerContext* context, const char* key) {
  auto it = context->client_metadata().find(key);
  return it == context->client_metadata().end() ? ""
                                                : std::string(it->second.data(), it->second.size());
}

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

bool Chance(double rate) {
  if (rate <= 0) return false;
  static thread_local absl::BitGen gen;
  return absl::Bernoulli(gen, rate);
}

// The effect of `op` on `leg`, inside the barrier's transaction.
absl::Status ApplyLeg(pqxx::work& tx, BranchOp op, const bank::v1::Leg& leg) {
  const bool debit = leg.direction() == bank::v1::Leg::DIRECTION_DEBIT;
  const char* sql = nullptr;
  switch (op) {
    case BranchOp::kTry:
      sql = debit ? "UPDATE accounts SET available = available - $2, held = held + $2 "
                    "WHERE id = $1 AND available >= $2"
                  : "UPDATE accounts SET incoming = incoming + $2 WHERE id = $1";
      break;
    case BranchOp::kConfirm:
      sql = debit ? "UPDATE accounts SET held = held - $2 WHERE id = $1"
                  : "UPDATE accounts SET incoming = incoming - $2, available = available + $2 "
                    "WHERE id = $1";
      break;
    case BranchOp::kCancel:
      sql = debit ? "UPDATE accounts SET held = held - $2, available = available + $2 "
                    "WHERE id = $1"
                  : "UPDATE accounts SET incoming = incoming - $2 WHERE id = $1";
      break;
  }
  pqxx::result r = tx.exec_params(sql, leg.account(), leg.amount_cents());
  if (r.affected_rows() == 1) return absl::OkStatus();
  if (op == BranchOp::kTry && debit) {
    return absl::FailedPreconditionError(
        saga::StrCat("account ", leg.account(), " has less than ", leg.amount_cents(),
                     " cents available"));
  }
  return absl::NotFoundError(saga::StrCat("no account ", leg.account()));
}

class AccountsService final : public bank::v1::Accounts::Service {
 public:
  explicit AccountsService(saga::pg::ConnectionPool* pool) : pool_(pool) {}

  grpc::Status Try(grpc::ServerContext* context, const bank::v1::Leg* leg,
                   bank::v1::LegResult* result) override {
    return Run(context, BranchOp::kTry, *leg, result);
  }
  grpc::Status Confirm(grpc::ServerContext* context, const bank::v1::Leg* leg,
                       bank::v1::LegResult* result) override {
    return Run(context, BranchOp::kConfirm, *leg, result);
  }
  grpc::Status Cancel(grpc::ServerContext* context, const bank::v1::Leg* leg,
                      bank::v1::LegResult* result) override {
    return Run(context, BranchOp::kCancel, *leg, result);
  }

  grpc::Status GetAccount(grpc::ServerContext*, const bank::v1::GetAccountRequest* request,
                          bank::v1::Account* account) override {
    absl::Status s = pool_->Run("reading an account", [&](pqxx::connection& conn) {
      pqxx::read_transaction tx(conn);
      pqxx::result r = tx.exec_params(
          "SELECT available, held, incoming FROM accounts WHERE id = $1", request->account());
      if (r.empty()) return absl::NotFoundError(saga::StrCat("no account ", request->account()));
      account->set_account(request->account());
      account->set_available_cents(r[0][0].as<int64_t>());
      account->set_held_cents(r[0][1].as<int64_t>());
      account->set_incoming_cents(r[0][2].as<int64_t>());
      return absl::OkStatus();
    });
    return ToGrpc(s);
  }

 private:
  grpc::Status Run(grpc::ServerContext* context, BranchOp op, const bank::v1::Leg& leg,
                   bank::v1::LegResult* result) {
    const std::string global_id = Meta(context, "saga-id");
    const std::string branch_id = Meta(context, "saga-step");
    if (global_id.empty() || branch_id.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "saga-id and saga-step metadata are required (the TCC global id and "
                          "branch id)");
    }
    if (leg.amount_cents() <= 0 || leg.direction() == bank::v1::Leg::DIRECTION_UNSPECIFIED) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a leg needs an amount above 0 and a direction");
    }
    if (Chance(absl::GetFlag(FLAGS_unavailable_rate))) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected fault: try again");
    }
    bool applied = false;
    absl::Status s = pool_->Run("applying a leg", [&](pqxx::connection& conn) {
      pqxx::work tx(conn);
      auto ran = saga::sdk::RunInBarrier(tx, {global_id, branch_id, op},
                                         [&](pqxx::work& tx) { return ApplyLeg(tx, op, leg); });
      if (!ran.ok()) return ran.status();  // tx aborts: neither effect nor barrier row
      tx.commit();
      applied = *ran;
      return absl::OkStatus();
    });
    if (!s.ok()) return ToGrpc(s);
    if (Chance(absl::GetFlag(FLAGS_lost_reply_rate))) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected fault: the reply was lost");
    }
    result->set_applied(applied);
    return grpc::Status::OK;
  }

  saga::pg::ConnectionPool* const pool_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto pool = saga::pg::ConnectionPool::Create(absl::GetFlag(FLAGS_dsn),
                                               saga::pg::PoolOptions{.max_connections = 16});
  if (!pool.ok()) {
    saga::LogError("bank_account_service", {{"error", std::string(pool.status().message())}});
    return 1;
  }
  absl::Status prepared = (*pool)->Run("preparing the tables", [](pqxx::connection& conn) {
    pqxx::work tx(conn);
    tx.exec("SELECT pg_advisory_xact_lock(4242)");  // two services starting on one database
    tx.exec(saga::sdk::BarrierTableDdl());
    tx.exec(
        "CREATE TABLE IF NOT EXISTS accounts (id text PRIMARY KEY, "
        "available bigint NOT NULL CHECK (available >= 0), "
        "held bigint NOT NULL DEFAULT 0 CHECK (held >= 0), "
        "incoming bigint NOT NULL DEFAULT 0 CHECK (incoming >= 0))");
    tx.exec_params(
        "INSERT INTO accounts (id, available) SELECT 'acct-' || i, $2 "
        "FROM generate_series(0, $1 - 1) AS i ON CONFLICT DO NOTHING",
        absl::GetFlag(FLAGS_accounts), absl::GetFlag(FLAGS_initial_cents));
    tx.commit();
    return absl::OkStatus();
  });
  if (!prepared.ok()) {
    saga::LogError("bank_account_service", {{"error", std::string(prepared.message())}});
    return 1;
  }

  AccountsService service(pool->get());
  grpc::ServerBuilder builder;
  const std::string addr = saga::StrCat("127.0.0.1:", absl::GetFlag(FLAGS_port));
  int port = 0;
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    saga::LogError("cannot listen", {{"addr", addr}});
    return 1;
  }
  saga::LogInfo("bank account service serving", {{"addr", addr}, {"service", "bank.v1.Accounts"}});
  int received = 0;
  sigwait(&signals, &received);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
