#include "sdk/pg/connection_pool.h"

#include <utility>

#include <pqxx/except>
#include <pqxx/nontransaction>

#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/pg/pg_status.h"

namespace saga::pg {

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Create(std::string dsn,
                                                                       PoolOptions options) {
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("pool max_connections must be at least 1");
  }
  std::unique_ptr<ConnectionPool> pool(new ConnectionPool(std::move(dsn), options));
  absl::Status first = pool->Run("opening the first connection",
                                 [](pqxx::connection&) { return absl::OkStatus(); });
  if (!first.ok()) return first;
  return pool;
}

ConnectionPool::ConnectionPool(std::string dsn, PoolOptions options)
    : dsn_(std::move(dsn)), options_(options) {}

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectionPool::Acquire(
    std::string_view context) {
  {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.max_connections;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&available), options_.acquire_timeout)) {
      return absl::ResourceExhaustedError(saga::StrCat(
          "all ", options_.max_connections, " PostgreSQL connections stayed busy for ",
          absl::FormatDuration(options_.acquire_timeout), " while ", context,
          "; raise the pool size or lower the load"));
    }
    ++busy_;
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // reserve the slot before connecting outside the lock
  }
  try {
    auto conn = std::make_unique<pqxx::connection>(dsn_);
    for (const std::string& statement : options_.on_connect) {
      pqxx::nontransaction tx(*conn);
      tx.exec(statement);
    }
    return conn;
  } catch (const std::exception& e) {
    absl::MutexLock lock(&mu_);
    --open_;
    --busy_;
    return absl::UnavailableError(saga::StrCat("cannot connect to PostgreSQL at ",
                                               RedactDsn(dsn_), " while ", context, ": ",
                                               e.what()));
  }
}

void ConnectionPool::Release(std::unique_ptr<pqxx::connection> conn, bool broken) {
  absl::MutexLock lock(&mu_);
  --busy_;
  if (broken || !conn->is_open()) {
    --open_;
    return;
  }
  idle_.push_back(std::move(conn));
}

absl::Status ConnectionPool::Run(std::string_view context,
                                 const std::function<absl::Status(pqxx::connection&)>& work) {
  auto conn = Acquire(context);
  if (!conn.ok()) return conn.status();
  absl::Status status;
  bool broken = false;
  try {
    status = work(**conn);
  } catch (const std::exception& e) {
    status = StatusFromException(e, context);
    broken = status.code() == absl::StatusCode::kUnavailable ||
             status.code() == absl::StatusCode::kUnknown;
  }
  Release(std::move(*conn), broken);
  return status;
}

int ConnectionPool::open_connections() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

int ConnectionPool::busy_connections() const {
  absl::MutexLock lock(&mu_);
  return busy_;
}

}  // namespace saga::pg
