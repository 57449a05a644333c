// The participant barrier against a real PostgreSQL: each anomaly of TCC calls (a repeated
// Try, Confirm or Cancel; a Cancel before its Try; a Try after its Cancel; a Confirm after a
// Cancel) has no effect or is refused, a failed body leaves no barrier behind, and with Try,
// Cancel and their duplicates racing on 200 branches from 8 threads, every branch ends with
// its reservation undone or never made (invariant 1 of DESIGN.md: a compensation for an action
// that never ran has no effect; an action that arrives after its compensation has none either).
#include "sdk/barrier/barrier.h"

#include <algorithm>
#include <random>
#include <thread>

#include <pqxx/pqxx>

#include "gtest/gtest.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/harness/postgres_server.h"

namespace saga::sdk {
namespace {

using ::saga::testing::SharedPostgres;

class BarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = SharedPostgres().CreateFreshDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    pqxx::connection conn(dsn_);
    pqxx::work tx(conn);
    tx.exec(BarrierTableDdl());
    tx.exec(BarrierTableDdl());  // idempotent
    tx.exec("CREATE TABLE effects (global_id text, branch_id text, op text)");
    tx.commit();
    gid_ = NewUuid();
  }

  // Calls `op` on `branch` in a transaction of its own, whose body records an effect (or fails
  // with `fail`); commits only when the barrier said OK.
  absl::StatusOr<bool> Call(pqxx::connection& conn, const std::string& branch, BranchOp op,
                            absl::Status fail = absl::OkStatus()) {
    pqxx::work tx(conn);
    auto ran = RunInBarrier(tx, {gid_, branch, op}, [&](pqxx::work& tx) {
      tx.exec_params("INSERT INTO effects VALUES ($1, $2, $3)", gid_, branch,
                     std::string(BranchOpName(op)));
      return fail;
    });
    if (ran.ok()) tx.commit();
    return ran;
  }
  absl::StatusOr<bool> Call(const std::string& branch, BranchOp op,
                            absl::Status fail = absl::OkStatus()) {
    pqxx::connection conn(dsn_);
    return Call(conn, branch, op, fail);
  }

  int Effects(const std::string& branch, BranchOp op) {
    pqxx::connection conn(dsn_);
    return pqxx::nontransaction(conn)
        .exec_params("SELECT count(*) FROM effects WHERE branch_id = $1 AND op = $2", branch,
                     std::string(BranchOpName(op)))[0][0]
        .as<int>();
  }

  std::string dsn_, gid_;
};

TEST_F(BarrierTest, RepeatedCallsHaveOneEffect) {
  EXPECT_EQ(Call("a", BranchOp::kTry).value(), true);
  EXPECT_EQ(Call("a", BranchOp::kTry).value(), false);
  EXPECT_EQ(Call("a", BranchOp::kConfirm).value(), true);
  EXPECT_EQ(Call("a", BranchOp::kConfirm).value(), false);  // duplicate Confirm
  EXPECT_EQ(Call("b", BranchOp::kTry).value(), true);
  EXPECT_EQ(Call("b", BranchOp::kCancel).value(), true);
  EXPECT_EQ(Call("b", BranchOp::kCancel).value(), false);  // duplicate Cancel
  EXPECT_EQ(Effects("a", BranchOp::kTry), 1);
  EXPECT_EQ(Effects("a", BranchOp::kConfirm), 1);
  EXPECT_EQ(Effects("b", BranchOp::kTry), 1);
  EXPECT_EQ(Effects("b", BranchOp::kCancel), 1);
}

TEST_F(BarrierTest, CancelBeforeTryIsEmptyAndTheLateTryIsRefused) {
  EXPECT_EQ(Call("a", BranchOp::kCancel).value(), false);  // empty rollback
  auto late = Call("a", BranchOp::kTry);                    // hanging Try
  EXPECT_EQ(late.status().code(), absl::StatusCode::kAborted) << late.status();
  EXPECT_NE(late.status().message().find("cancelled before it ran"), std::string::npos);
  EXPECT_EQ(Call("a", BranchOp::kCancel).value(), false);
  EXPECT_EQ(Effects("a", BranchOp::kTry), 0);
  EXPECT_EQ(Effects("a", BranchOp::kCancel), 0);
}

TEST_F(BarrierTest, ConfirmAfterCancelOrWithoutTryAndCancelAfterConfirmAreRefused) {
  ASSERT_TRUE(Call("a", BranchOp::kTry).ok());
  ASSERT_TRUE(Call("a", BranchOp::kCancel).ok());
  EXPECT_EQ(Call("a", BranchOp::kConfirm).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Call("b", BranchOp::kConfirm).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Call("c", BranchOp::kTry).ok());
  ASSERT_TRUE(Call("c", BranchOp::kConfirm).ok());
  EXPECT_EQ(Call("c", BranchOp::kCancel).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Effects("a", BranchOp::kConfirm), 0);
  EXPECT_EQ(Effects("b", BranchOp::kConfirm), 0);
  EXPECT_EQ(Effects("c", BranchOp::kCancel), 0);
  // The refused Confirm left nothing behind: b's Try may still run.
  EXPECT_EQ(Call("b", BranchOp::kTry).value(), true);
}

TEST_F(BarrierTest, AFailedBodyLeavesNoBarrierAndTheCallMayComeAgain) {
  auto failed = Call("a", BranchOp::kTry, absl::UnavailableError("stock service busy"));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Effects("a", BranchOp::kTry), 0);
  EXPECT_EQ(Call("a", BranchOp::kTry).value(), true);
  EXPECT_EQ(Effects("a", BranchOp::kTry), 1);
}

TEST_F(BarrierTest, SagaOperationsMapToTryAndCancelAndBadInputIsRefused) {
  EXPECT_EQ(BranchOpFromSagaOperation("action").value(), BranchOp::kTry);
  EXPECT_EQ(BranchOpFromSagaOperation("compensation").value(), BranchOp::kCancel);
  EXPECT_EQ(BranchOpFromSagaOperation("confirm").value(), BranchOp::kConfirm);
  EXPECT_EQ(BranchOpFromSagaOperation("cancel").value(), BranchOp::kCancel);
  EXPECT_EQ(BranchOpFromSagaOperation("status").status().code(),
            absl::StatusCode::kInvalidArgument);
  pqxx::connection conn(dsn_);
  pqxx::work tx(conn);
  auto noop = [](pqxx::work&) { return absl::OkStatus(); };
  EXPECT_EQ(RunInBarrier(tx, {gid_, "a", BranchOp::kTry}, noop, "barrier; DROP TABLE effects")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunInBarrier(tx, {"", "a", BranchOp::kTry}, noop).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Each branch gets its Try, its Cancel and a duplicate of each, in a random order, from 8
// threads at once. Whatever the order, the reservation is undone or never made.
TEST_F(BarrierTest, RacingTryAndCancelLeaveNoBranchReserved) {
  constexpr int kBranches = 200;
  constexpr int kThreads = 8;
  struct CallSpec {
    std::string branch;
    BranchOp op;
  };
  std::vector<CallSpec> calls;
  for (int b = 0; b < kBranches; ++b) {
    for (BranchOp op : {BranchOp::kTry, BranchOp::kCancel, BranchOp::kTry, BranchOp::kCancel}) {
      calls.push_back({saga::StrCat("branch-", b), op});
    }
  }
  std::shuffle(calls.begin(), calls.end(), std::mt19937(std::random_device{}()));
  std::atomic<size_t> next{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      pqxx::connection conn(dsn_);
      for (size_t i = next++; i < calls.size(); i = next++) {
        auto ran = Call(conn, calls[i].branch, calls[i].op);
        // The only refusal here: a Try after its Cancel.
        if (!ran.ok() && !(calls[i].op == BranchOp::kTry &&
                           ran.status().code() == absl::StatusCode::kAborted)) {
          ++unexpected;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  pqxx::connection conn(dsn_);
  pqxx::result r = pqxx::nontransaction(conn).exec(
      "SELECT count(*) FILTER (WHERE tries > 1 OR cancels > 1), "
      "count(*) FILTER (WHERE tries <> cancels), count(*) FILTER (WHERE tries = 1) "
      "FROM (SELECT branch_id, count(*) FILTER (WHERE op = 'try') AS tries, "
      "count(*) FILTER (WHERE op = 'cancel') AS cancels FROM effects GROUP BY branch_id) b");
  EXPECT_EQ(r[0][0].as<int>(), 0) << "a Try or a Cancel took effect twice";
  EXPECT_EQ(r[0][1].as<int>(), 0) << "a reservation was left, or a Cancel undid nothing";
  std::cerr << "[barrier race] " << kBranches << " branches: " << r[0][2].as<int>()
            << " tried then cancelled, the others cancelled before their Try\n";
}

}  // namespace
}  // namespace saga::sdk
