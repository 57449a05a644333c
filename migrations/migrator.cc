#include "migrations/migrator.h"

#include <map>
#include <utility>

#include <pqxx/pqxx>

#include "sdk/base/log.h"
#include "sdk/base/strings.h"

namespace saga::migrations {
namespace {

// The advisory lock key that serializes migrators ("sagamig" in ASCII).
constexpr long long kMigrationLockKey = 0x736167616d6967LL;

constexpr char kCreateLedger[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

struct Applied {
  std::string name;
  std::string checksum;
};

// Reads the ledger; an absent ledger reads as empty.
std::map<int, Applied> ReadLedger(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  std::map<int, Applied> applied;
  if (tx.exec("SELECT to_regclass('schema_migrations') IS NULL")[0][0].as<bool>()) return applied;
  for (const auto& row : tx.exec("SELECT version, name, checksum FROM schema_migrations")) {
    applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }
  return applied;
}

std::string Checksum(pqxx::connection& conn, std::string_view sql) {
  pqxx::nontransaction tx(conn);
  return tx.exec_params("SELECT md5($1)", std::string(sql))[0][0].as<std::string>();
}

// Compares the ledger with the known migrations. Fills `missing` with what is to apply.
absl::Status CompareLedger(pqxx::connection& conn, const std::vector<Migration>& migrations,
                           const std::map<int, Applied>& applied,
                           std::vector<const Migration*>* missing) {
  std::map<int, const Migration*> known;
  for (const Migration& m : migrations) known[m.version] = &m;
  for (const auto& [version, row] : applied) {
    auto it = known.find(version);
    if (it == known.end()) {
      return absl::FailedPreconditionError(saga::StrCat(
          "the database has migration ", version, " (", row.name,
          ") which this sagad does not know: it is older than the schema; run a newer sagad"));
    }
    if (Checksum(conn, it->second->sql) != row.checksum) {
      return absl::FailedPreconditionError(saga::StrCat(
          "migration ", row.name, " was changed after it was applied; migrations are "
          "forward-only: restore the file and add a new migration instead"));
    }
  }
  for (const Migration& m : migrations) {
    if (!applied.contains(m.version)) missing->push_back(&m);
  }
  return absl::OkStatus();
}

}  // namespace

Migrator::Migrator(pg::ConnectionPool* pool, std::vector<Migration> migrations)
    : pool_(pool), migrations_(std::move(migrations)) {}

absl::StatusOr<MigrateResult> Migrator::Migrate() {
  MigrateResult result;
  absl::Status status = pool_->Run("migrating the schema", [&](pqxx::connection& conn) {
    {
      pqxx::nontransaction tx(conn);
      tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    }
    // Unlocked on every path: the connection goes back to the pool afterwards.
    struct Unlock {
      pqxx::connection& conn;
      ~Unlock() {
        try {
          pqxx::nontransaction tx(conn);
          tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
        } catch (const std::exception&) {
          // A broken connection releases the lock with its session.
        }
      }
    } unlock{conn};
    {
      pqxx::nontransaction tx(conn);
      tx.exec(kCreateLedger);
    }
    std::vector<const Migration*> missing;
    absl::Status compared = CompareLedger(conn, migrations_, ReadLedger(conn), &missing);
    if (!compared.ok()) return compared;
    for (const Migration* m : missing) {
      pqxx::work tx(conn);
      tx.exec(std::string(m->sql));
      tx.exec_params(
          "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, md5($3))",
          m->version, std::string(m->name), std::string(m->sql));
      tx.commit();
      result.applied.push_back(m->version);
      LogInfo("migration applied", {{"version", saga::StrCat(m->version)},
                                    {"name", std::string(m->name)}});
    }
    for (const auto& [version, row] : ReadLedger(conn)) result.schema_version = version;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::Status Migrator::CheckUpToDate() {
  return pool_->Run("checking the schema version", [&](pqxx::connection& conn) {
    std::vector<const Migration*> missing;
    absl::Status compared = CompareLedger(conn, migrations_, ReadLedger(conn), &missing);
    if (!compared.ok()) return compared;
    if (!missing.empty()) {
      return absl::FailedPreconditionError(saga::StrCat(
          "the database lacks ", missing.size(), " migration(s), the first being ",
          missing.front()->name, "; run `sagad migrate` first"));
    }
    return absl::OkStatus();
  });
}

}  // namespace saga::migrations
