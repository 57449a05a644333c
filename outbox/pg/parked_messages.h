// Parked outbox rows, for AdminService.ListParked, RequeueParked and GetOverview: rows the relay gave up on
// after its attempt limit. They stay in the outbox table (holding their key back) until an
// operator requeues them; requeueing clears the attempts so the relay sends them at once.
// Thread-safe (the pool is).
#ifndef SAGA_OUTBOX_PG_PARKED_MESSAGES_H_
#define SAGA_OUTBOX_PG_PARKED_MESSAGES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "saga/v1/admin_service.pb.h"
#include "sdk/pg/connection_pool.h"

namespace saga::outbox::pg {

struct ParkedPage {
  std::vector<saga::v1::ParkedMessage> messages;
  int64_t last_id = 0;  // the cursor of the page's last message (0 when empty)
  bool more = false;    // another page follows
};

// Parked rows of `table` (of `topic` when not empty) with ids above `after_id`, oldest first.
absl::StatusOr<ParkedPage> ListParked(saga::pg::ConnectionPool& pool, std::string_view table,
                                      std::string_view topic, int64_t after_id, int limit);

// Requeues the parked rows with these message ids; returns how many were parked.
absl::StatusOr<int> RequeueParked(saga::pg::ConnectionPool& pool, std::string_view table,
                                  const std::vector<std::string>& message_ids);

// What waits in an outbox table, for AdminService.GetOverview.
struct OutboxBacklog {
  uint64_t parked = 0;
  uint64_t pending = 0;  // rows waiting for delivery, parked ones aside; counted up to kPendingCap
  double oldest_pending_seconds = 0;  // age of the oldest of them; 0 when none waits
};
constexpr uint64_t kPendingCap = 100000;

// Reads the backlog of `table` through its indexes (no scan past kPendingCap rows).
absl::StatusOr<OutboxBacklog> ReadBacklog(saga::pg::ConnectionPool& pool, std::string_view table);

}  // namespace saga::outbox::pg

#endif  // SAGA_OUTBOX_PG_PARKED_MESSAGES_H_
