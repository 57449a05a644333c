#include "tests/harness/migrated_database.h"

#include "migrations/migrator.h"
#include "tests/harness/postgres_server.h"

namespace saga::testing {

absl::StatusOr<MigratedDatabase> NewMigratedDatabase(int pool_size) {
  MigratedDatabase db;
  auto dsn = SharedPostgres().CreateFreshDatabase();
  if (!dsn.ok()) return dsn.status();
  db.dsn = *dsn;
  auto pool = pg::ConnectionPool::Create(db.dsn, {.max_connections = pool_size});
  if (!pool.ok()) return pool.status();
  db.pool = *std::move(pool);
  auto migrated = migrations::Migrator(db.pool.get()).Migrate();
  if (!migrated.ok()) return migrated.status();
  return db;
}

}  // namespace saga::testing
