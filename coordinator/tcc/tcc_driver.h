// TccDriver drives decided TCC transactions to their end: Confirm on every branch of a committed
// transaction, Cancel on every branch of a rolled-back or expired one, each retried with
// exponential backoff until it succeeds. Any instance may drive any transaction: rounds are
// claimed under a lease with a fencing epoch (PgTccStore::ClaimDue), so after a crash another
// instance, or the restarted one, picks the transaction up once the lease expires.
//
// Calls carry the same metadata as saga calls (coordinator/grpc/): saga-id = the global id,
// saga-step = the branch id, saga-operation = "confirm" or "cancel", an idempotency key
// "<global id>/<branch id>/<operation>" that stays the same across retries, and the lease
// epoch. Participants make repeats harmless with the barrier (sdk/barrier/barrier.h).
//
// One thread: each pass expires TRYING transactions past their timeout, claims due ones, calls
// their branches in parallel and settles the round. Wake() starts a pass at once (after a
// Commit or Rollback on this instance). Thread-safe.
#ifndef SAGA_COORDINATOR_TCC_TCC_DRIVER_H_
#define SAGA_COORDINATOR_TCC_TCC_DRIVER_H_

#include <atomic>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/participant_invoker.h"
#include "coordinator/tcc/pg_tcc_store.h"

namespace saga::coordinator::tcc {

struct TccDriverOptions {
  std::string instance_id;                          // the lease owner
  absl::Duration lease_ttl = absl::Seconds(10);     // beyond the calls' timeout
  absl::Duration call_timeout = absl::Seconds(10);  // of one Confirm or Cancel
  absl::Duration poll_interval = absl::Milliseconds(500);
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(30);
  int batch = 64;  // transactions claimed per pass
};

class TccDriver {
 public:
  struct Stats {
    int64_t confirms = 0;          // Confirm calls that succeeded
    int64_t cancels = 0;           // Cancel calls that succeeded
    int64_t failed_calls = 0;      // calls that failed (retried later)
    int64_t ended = 0;             // transactions driven to CONFIRMED or CANCELLED
    int64_t expired = 0;           // transactions rolled back by their timeout
  };

  TccDriver(PgTccStore* store, ParticipantInvoker* invoker, TccDriverOptions options);
  ~TccDriver();

  void Start();
  // Finishes the pass under way (its calls end within call_timeout) and stops.
  void Stop();
  void Wake();

  Stats stats() const;

 private:
  void Run();
  // One pass; returns whether it found work (then the next pass starts at once).
  bool Pass();
  absl::Duration Backoff(int rounds) const;

  PgTccStore* const store_;
  ParticipantInvoker* const invoker_;
  const TccDriverOptions options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace saga::coordinator::tcc

#endif  // SAGA_COORDINATOR_TCC_TCC_DRIVER_H_
