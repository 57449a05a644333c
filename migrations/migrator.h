// The migrator applies the forward-only SQL files of migrations/ that a database lacks.
//
// It holds a PostgreSQL advisory lock while it works, so two migrators started at once (two
// pods of a rollout, a Helm hook and an operator) run one after the other, and the second finds
// nothing left to do. Each migration runs in its own transaction together with the row that
// records it in schema_migrations, so a failure leaves the schema at the last good migration.
// An applied migration whose text changed since is refused: migrations are never edited, a new
// one is added instead.
#ifndef SAGA_MIGRATIONS_MIGRATOR_H_
#define SAGA_MIGRATIONS_MIGRATOR_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sdk/pg/connection_pool.h"

namespace saga::migrations {

struct Migration {
  int version;              // from the file name's number; versions increase without gaps
  std::string_view name;    // the file name
  std::string_view sql;
};

// The migrations of migrations/*.sql, compiled in, in order.
const std::vector<Migration>& EmbeddedMigrations();

struct MigrateResult {
  std::vector<int> applied;  // versions applied by this call, in order
  int schema_version = 0;    // the highest version applied after the call
};

class Migrator {
 public:
  // `pool` must outlive the migrator.
  explicit Migrator(pg::ConnectionPool* pool,
                    std::vector<Migration> migrations = EmbeddedMigrations());

  // Applies what is missing. FAILED_PRECONDITION when an applied migration was changed, or the
  // database has a migration this binary does not know (it is older than the schema).
  absl::StatusOr<MigrateResult> Migrate();

  // OK when every known migration is applied; FAILED_PRECONDITION saying to run
  // `sagad migrate` otherwise. Changes nothing.
  absl::Status CheckUpToDate();

 private:
  pg::ConnectionPool* pool_;
  std::vector<Migration> migrations_;
};

}  // namespace saga::migrations

#endif  // SAGA_MIGRATIONS_MIGRATOR_H_
