// A fresh database on the shared test PostgreSQL with every migration applied, and a pool to
// it: what tests of the stores start from.
#ifndef SAGA_TESTS_HARNESS_MIGRATED_DATABASE_H_
#define SAGA_TESTS_HARNESS_MIGRATED_DATABASE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sdk/pg/connection_pool.h"

namespace saga::testing {

struct MigratedDatabase {
  std::string dsn;
  std::unique_ptr<pg::ConnectionPool> pool;
};

absl::StatusOr<MigratedDatabase> NewMigratedDatabase(int pool_size = 8);

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_MIGRATED_DATABASE_H_
