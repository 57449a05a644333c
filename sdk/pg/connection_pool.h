// ConnectionPool lends PostgreSQL connections to one thread at a time.
//
// Connections are opened on demand up to `max_connections` and kept open; a borrower that finds
// none free waits up to `acquire_timeout`. A connection that broke is dropped, not returned.
// Exceptions thrown by libpqxx inside the borrower are caught here and mapped by
// StatusFromException, so no exception crosses this header. Thread-safe.
#ifndef SAGA_SDK_PG_CONNECTION_POOL_H_
#define SAGA_SDK_PG_CONNECTION_POOL_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/connection>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace saga::pg {

struct PoolOptions {
  int max_connections = 8;
  absl::Duration acquire_timeout = absl::Seconds(10);
  // Statements run once on each new connection, e.g. session settings.
  std::vector<std::string> on_connect;
};

class ConnectionPool {
 public:
  // Opens one connection to check the DSN; UNAVAILABLE, naming the (redacted) DSN, if it fails.
  static absl::StatusOr<std::unique_ptr<ConnectionPool>> Create(std::string dsn,
                                                                PoolOptions options = {});

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Runs `work` with a connection that belongs to the calling thread until it returns.
  // `context` names the work in error messages ("registering a definition").
  absl::Status Run(std::string_view context,
                   const std::function<absl::Status(pqxx::connection&)>& work);

  // Connections open now, and connections lent now.
  int open_connections() const;
  int busy_connections() const;

 private:
  ConnectionPool(std::string dsn, PoolOptions options);

  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire(std::string_view context);
  void Release(std::unique_ptr<pqxx::connection> conn, bool broken);

  const std::string dsn_;
  const PoolOptions options_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace saga::pg

#endif  // SAGA_SDK_PG_CONNECTION_POOL_H_
