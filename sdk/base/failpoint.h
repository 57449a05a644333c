// Failpoints: named places in sagad where a fault test can make the process die (or stall) at
// the worst moment. Compiled into every build and off unless SAGAD_FAILPOINTS names them:
//
//   SAGAD_FAILPOINTS="saga.after_commit=crash@3,relay.after_produce=crash%25"
//
// Actions: crash (SIGKILL this process at the first hit), crash@N (at the Nth hit),
// crash%P (at each hit with probability P percent), sleep:MS (stall every hit MS ms).
// A crash first writes "failpoint fired: <name>" to stderr, so a fault runner can count it.
// With SAGAD_FAILPOINTS unset a hit costs one relaxed atomic load. Thread-safe.
//
// The points (tests/faults/ drives them):
//   saga.after_commit       a group commit is durable; no caller has its answer, no step is sent
//   saga.mid_commit         inside the group commit's transaction, between its statements
//   saga.lease_renewal      a lease renewal is written, not yet committed
//   relay.mid_batch         half of a relay batch is handed to the producer
//   relay.after_produce     Kafka acknowledged a batch; its rows are not yet deleted
//   tcc.after_commit        a TCC Commit is durable; no Confirm sent, the caller not answered
#ifndef SAGA_SDK_BASE_FAILPOINT_H_
#define SAGA_SDK_BASE_FAILPOINT_H_

#include <string_view>

namespace saga::failpoint {

// Acts on the failpoint `name` if SAGAD_FAILPOINTS names it.
void Hit(std::string_view name);

}  // namespace saga::failpoint

#define SAGA_FAILPOINT(name) ::saga::failpoint::Hit(name)

#endif  // SAGA_SDK_BASE_FAILPOINT_H_
