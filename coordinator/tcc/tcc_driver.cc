#include "coordinator/tcc/tcc_driver.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/synchronization/blocking_counter.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"

namespace saga::coordinator::tcc {

TccDriver::TccDriver(PgTccStore* store, ParticipantInvoker* invoker, TccDriverOptions options)
    : store_(store), invoker_(invoker), options_(std::move(options)) {}

TccDriver::~TccDriver() { Stop(); }

void TccDriver::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void TccDriver::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void TccDriver::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

TccDriver::Stats TccDriver::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void TccDriver::Run() {
  for (;;) {
    const bool busy = Pass();
    absl::MutexLock lock(&mu_);
    if (!busy) {
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](TccDriver* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                                 return self->stopping_ || self->woken_;
                               },
                               this),
                           options_.poll_interval);
    }
    if (stopping_) return;
    woken_ = false;
  }
}

absl::Duration TccDriver::Backoff(int rounds) const {
  absl::Duration d = options_.initial_backoff;
  for (int i = 0; i < rounds && d < options_.max_backoff; ++i) d *= 2;
  d = std::min(d, options_.max_backoff);
  static thread_local absl::BitGen gen;
  return d / 2 + d * absl::Uniform(gen, 0.0, 0.5);  // jitter: 50-100%
}

bool TccDriver::Pass() {
  if (auto expired = store_->ExpireTrying(); !expired.ok()) {
    LogWarning("TCC driver: expiring transactions failed; retrying",
               {{"error", std::string(expired.status().message())}});
  } else if (*expired > 0) {
    absl::MutexLock lock(&mu_);
    stats_.expired += *expired;
  }
  auto claimed = store_->ClaimDue(options_.instance_id,
                                  options_.call_timeout + options_.lease_ttl, options_.batch);
  if (!claimed.ok()) {
    LogWarning("TCC driver: claiming transactions failed; retrying",
               {{"error", std::string(claimed.status().message())}});
    return false;
  }
  if (claimed->empty()) return false;
  // Every branch of every claimed transaction is called at once; the round is settled when all
  // have answered (or timed out).
  std::vector<std::vector<BranchOutcome>> outcomes(claimed->size());
  int calls = 0;
  for (size_t i = 0; i < claimed->size(); ++i) {
    outcomes[i].resize((*claimed)[i].branches.size());
    calls += static_cast<int>((*claimed)[i].branches.size());
  }
  absl::BlockingCounter answered(calls);
  for (size_t i = 0; i < claimed->size(); ++i) {
    const ClaimedTransaction& c = (*claimed)[i];
    const bool confirming = c.state == saga::v1::TCC_STATE_CONFIRMING;
    for (size_t b = 0; b < c.branches.size(); ++b) {
      const saga::v1::TccBranch& branch = c.branches[b];
      Invocation inv;
      inv.saga_id = c.global_id;
      inv.step = branch.branch_id();
      inv.operation = confirming ? Operation::kConfirm : Operation::kCancel;
      inv.attempt = branch.attempts() + 1;
      inv.idempotency_key =
          saga::StrCat(c.global_id, "/", branch.branch_id(), "/", OperationName(inv.operation));
      inv.lease_epoch = c.lease_epoch;
      inv.traceparent = c.traceparent;
      inv.endpoint = confirming ? branch.confirm() : branch.cancel();
      inv.payload = branch.payload();
      inv.timeout = options_.call_timeout;
      BranchOutcome* slot = &outcomes[i][b];
      slot->branch_id = branch.branch_id();
      invoker_->Invoke(inv, [slot, &answered](absl::Status status) {
        slot->status = std::move(status);
        answered.DecrementCount();
      });
    }
  }
  answered.Wait();
  for (size_t i = 0; i < claimed->size(); ++i) {
    const ClaimedTransaction& c = (*claimed)[i];
    auto after = store_->Settle(c, options_.instance_id, outcomes[i], Backoff(c.rounds));
    if (!after.ok()) {
      LogWarning("TCC driver: a round's results were not recorded; the transaction is driven "
                 "again once its lease expires",
                 {{"global_id", c.global_id}, {"error", std::string(after.status().message())}});
      continue;
    }
    absl::MutexLock lock(&mu_);
    for (const BranchOutcome& o : outcomes[i]) {
      if (!o.status.ok()) {
        ++stats_.failed_calls;
      } else if (c.state == saga::v1::TCC_STATE_CONFIRMING) {
        ++stats_.confirms;
      } else {
        ++stats_.cancels;
      }
    }
    if (*after == saga::v1::TCC_STATE_CONFIRMED || *after == saga::v1::TCC_STATE_CANCELLED) {
      ++stats_.ended;
    }
  }
  return true;
}

}  // namespace saga::coordinator::tcc
