// Money conservation under faults, end to end: two account services of examples/bank (each with
// its own real PostgreSQL database and the SDK barrier), sagad, and concurrent transfers run as
// TCC transactions by the example's initiator (examples/bank/transfer.h). The services answer
// some calls UNAVAILABLE before acting and lose some replies after committing; sagad is killed
// with SIGKILL several times while the transfers run. Afterwards every transaction is CONFIRMED
// or CANCELLED, the total balance is unchanged, nothing stays held or incoming, no account went
// negative, every committed transfer was confirmed on both sides, and no Confirm took effect
// on a cancelled transaction (invariant 1 of DESIGN.md through the barrier, invariant 3 through
// the leases).
//
// SAGAD_BANK_TRANSFERS sets the number of transfers (default 10000).
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <pqxx/pqxx>

#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "bank/transfer.h"
#include "gtest/gtest.h"
#include "sdk/base/strings.h"
#include "tests/harness/child_process.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::ChildProcess;
using ::saga::testing::SagadProcess;

constexpr int kAccounts = 20;
constexpr int64_t kInitialCents = 100000;

struct AccountService {
  std::string dsn, target, log;
  std::unique_ptr<ChildProcess> process;
  std::unique_ptr<bank::v1::Accounts::Stub> stub;
};

std::shared_ptr<grpc::Channel> QuickReconnectChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

int64_t Scalar(const std::string& dsn, const std::string& sql) {
  pqxx::connection conn(dsn);
  return pqxx::nontransaction(conn).exec(sql)[0][0].as<int64_t>(0);
}

class BankTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::NewDatabaseMigratedBySagad();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    for (AccountService& service : services_) {
      auto db = saga::testing::SharedPostgres().CreateFreshDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      service.dsn = *db;
      const int port = saga::testing::PickFreePort();
      service.target = saga::StrCat("127.0.0.1:", port);
      service.log = saga::StrCat("/tmp/bank-account-", port, ".log");
      auto process = ChildProcess::Spawn(
          {.argv = {BANK_ACCOUNT_SERVICE, "--port", saga::StrCat(port), "--dsn", service.dsn,
                    "--accounts", saga::StrCat(kAccounts), "--initial_cents",
                    saga::StrCat(kInitialCents), "--unavailable_rate", "0.03",
                    "--lost_reply_rate", "0.03"},
           .output_path = service.log});
      ASSERT_TRUE(process.ok()) << process.status();
      service.process = *std::move(process);
      service.stub = bank::v1::Accounts::NewStub(QuickReconnectChannel(service.target));
      ASSERT_TRUE(saga::testing::WaitFor(
          [&] {
            grpc::ClientContext context;
            context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
            bank::v1::GetAccountRequest get;
            get.set_account("acct-0");
            bank::v1::Account account;
            return service.stub->GetAccount(&context, get, &account).ok();
          },
          absl::Seconds(30)))
          << saga::testing::TailOfFile(service.log);
    }
    StartSagad();
  }

  void TearDown() override {
    for (AccountService& service : services_) {
      if (HasFailure()) {
        std::cerr << "--- " << service.target << "\n" << saga::testing::TailOfFile(service.log);
      }
      std::remove(service.log.c_str());
    }
  }

  void StartSagad(int grpc_port = 0) {
    auto sagad = SagadProcess::Start(dsn_, saga::testing::CrashTestSettings(grpc_port));
    ASSERT_TRUE(sagad.ok()) << sagad.status();
    sagad_ = *std::move(sagad);
  }

  int64_t SumOverServices(const std::string& sql) {
    int64_t sum = 0;
    for (const AccountService& service : services_) sum += Scalar(service.dsn, sql);
    return sum;
  }

  std::string dsn_;
  AccountService services_[2];
  std::unique_ptr<SagadProcess> sagad_;
};

TEST_F(BankTransferTest, ConcurrentTransfersWithFaultsAndSigkillsConserveMoney) {
  const char* configured = std::getenv("SAGAD_BANK_TRANSFERS");
  const int transfers = configured != nullptr ? std::atoi(configured) : 10000;
  constexpr int kClients = 16;
  const int grpc_port = sagad_->grpc_port();
  auto tcc = saga::v1::TccService::NewStub(QuickReconnectChannel(saga::StrCat("127.0.0.1:", grpc_port)));

  std::atomic<int> next{0}, committed{0}, rolled_back{0}, undecided{0};
  absl::Mutex mu;
  std::set<std::string> committed_ids;
  std::vector<std::string> errors;
  std::vector<std::thread> clients;
  const absl::Time started = absl::Now();
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 random(c * 7919 + 1);
      for (int i = next++; i < transfers; i = next++) {
        const bool a_pays = random() % 2 == 0;
        AccountService& payer = services_[a_pays ? 0 : 1];
        AccountService& payee = services_[a_pays ? 1 : 0];
        bank::TransferRequest request{
            .idempotency_key = saga::StrCat("transfer-", i),
            .from_target = payer.target,
            .from_account = saga::StrCat("acct-", random() % kAccounts),
            .to_target = payee.target,
            .to_account = saga::StrCat("acct-", random() % kAccounts),
            .amount_cents = static_cast<int64_t>(1 + random() % 30000),
            .timeout = absl::Seconds(10),
            .retry_for = absl::Seconds(30)};
        auto result = bank::Transfer(*tcc, *payer.stub, *payee.stub, request);
        if (!result.ok()) {
          ++undecided;  // its timeout rolls it back
          absl::MutexLock lock(&mu);
          if (errors.size() < 5) errors.push_back(result.status().ToString());
        } else if (result->decision == bank::TransferResult::Decision::kCommit) {
          ++committed;
          absl::MutexLock lock(&mu);
          committed_ids.insert(result->global_id);
        } else {
          ++rolled_back;
        }
      }
    });
  }
  // sagad dies at random moments while the transfers run.
  std::mt19937 random(std::random_device{}());
  int kills = 0;
  std::vector<int> undecided_at_kills;
  while (kills < 3 && next.load() < transfers * 3 / 4) {
    saga::testing::Pause(absl::Milliseconds(std::uniform_int_distribution(1500, 4000)(random)));
    sagad_->process().Signal(SIGKILL);
    ASSERT_TRUE(sagad_->process().Wait(absl::Seconds(10)).ok());
    ++kills;
    undecided_at_kills.push_back(static_cast<int>(
        Scalar(dsn_, "SELECT count(*) FROM tcc_transactions WHERE state IN (1, 2, 4)")));
    StartSagad(grpc_port);
    ASSERT_FALSE(HasFatalFailure());
  }
  for (std::thread& t : clients) t.join();
  const absl::Duration took = absl::Now() - started;

  // Every transaction ends: decided ones are driven, TRYING ones expire after 10 s.
  EXPECT_TRUE(saga::testing::WaitFor(
      [&] {
        return Scalar(dsn_, "SELECT count(*) FROM tcc_transactions WHERE state IN (1, 2, 4)") == 0;
      },
      absl::Minutes(3), absl::Milliseconds(250)))
      << Scalar(dsn_, "SELECT count(*) FROM tcc_transactions WHERE state IN (1, 2, 4)")
      << " transactions did not end";
  EXPECT_EQ(committed + rolled_back + undecided, transfers);
  EXPECT_GE(kills, 1);
  EXPECT_GT(committed.load(), 0);

  // Money is conserved: nothing created, lost, or left held.
  EXPECT_EQ(SumOverServices("SELECT sum(available) FROM accounts"), 2 * kAccounts * kInitialCents);
  EXPECT_EQ(SumOverServices("SELECT sum(held) + sum(incoming) FROM accounts"), 0);
  EXPECT_EQ(SumOverServices("SELECT count(*) FROM accounts WHERE available < 0 OR held < 0 "
                            "OR incoming < 0"),
            0);

  // Committed transfers were confirmed on both sides; cancelled ones never confirmed.
  std::set<std::string> confirmed, cancelled, confirm_rows;
  {
    pqxx::connection conn(dsn_);
    for (const auto& row :
         pqxx::nontransaction(conn).exec("SELECT global_id, state FROM tcc_transactions")) {
      (row[1].as<int>() == saga::v1::TCC_STATE_CONFIRMED ? confirmed : cancelled)
          .insert(row[0].as<std::string>());
    }
  }
  for (const AccountService& service : services_) {
    pqxx::connection conn(service.dsn);
    for (const auto& row : pqxx::nontransaction(conn).exec(
             "SELECT global_id || '/' || branch_id FROM saga_barrier WHERE op = 'confirm'")) {
      confirm_rows.insert(row[0].as<std::string>());
    }
  }
  int violations = 0;
  for (const std::string& id : committed_ids) {
    if (!confirmed.contains(id)) ++violations;
  }
  for (const std::string& id : confirmed) {
    if (!confirm_rows.contains(id + "/debit") || !confirm_rows.contains(id + "/credit")) {
      ++violations;
    }
  }
  for (const std::string& id : cancelled) {
    if (confirm_rows.contains(id + "/debit") || confirm_rows.contains(id + "/credit")) ++violations;
  }
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(confirmed.size(), committed_ids.size());
  std::cerr << "[bank] " << transfers << " transfers in " << took << " with " << kills
            << " SIGKILLs of sagad (transactions not ended at each kill: "
            << absl::StrJoin(undecided_at_kills, ", ") << "): " << committed << " committed, "
            << rolled_back << " rolled back, " << undecided << " undecided by the initiator; "
            << confirmed.size() << " confirmed, " << cancelled.size() << " cancelled; "
            << violations << " violations\n";
  for (const std::string& e : errors) std::cerr << "  initiator error: " << e << "\n";
}

}  // namespace
}  // namespace saga
