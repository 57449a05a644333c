// Tests of the migrator against a real PostgreSQL: idempotent, safe when two run at once,
// refusing edited or unknown migrations, and atomic per migration.
#include "migrations/migrator.h"

#include <thread>

#include <pqxx/pqxx>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/postgres_server.h"

namespace saga::migrations {
namespace {

using ::testing::HasSubstr;

class MigratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::SharedPostgres().CreateFreshDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    auto pool = pg::ConnectionPool::Create(dsn_, {.max_connections = 2});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
  }

  // Tables, columns, constraints and indexes of the public schema, as one comparable text.
  std::string SchemaText() {
    pqxx::connection conn(dsn_);
    pqxx::read_transaction tx(conn);
    std::string text;
    for (const auto& row : tx.exec(
             "SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable "
             "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1")) {
      text += row[0].as<std::string>() + "\n";
    }
    for (const auto& row : tx.exec("SELECT conname || ':' || pg_get_constraintdef(oid) FROM "
                                   "pg_constraint WHERE connamespace = 'public'::regnamespace "
                                   "ORDER BY 1")) {
      text += row[0].as<std::string>() + "\n";
    }
    for (const auto& row :
         tx.exec("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")) {
      text += row[0].as<std::string>() + "\n";
    }
    return text;
  }

  int LedgerRows() {
    pqxx::connection conn(dsn_);
    pqxx::read_transaction tx(conn);
    return tx.exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>();
  }

  std::string dsn_;
  std::unique_ptr<pg::ConnectionPool> pool_;
};

TEST_F(MigratorTest, AppliesEverythingOnceAndNothingTheSecondTime) {
  Migrator migrator(pool_.get());
  EXPECT_EQ(migrator.CheckUpToDate().code(), absl::StatusCode::kFailedPrecondition);
  auto first = migrator.Migrate();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->applied.size(), EmbeddedMigrations().size());
  EXPECT_EQ(first->schema_version, EmbeddedMigrations().back().version);
  std::string schema = SchemaText();
  EXPECT_THAT(schema, HasSubstr("saga_definitions.definition:bytea"));

  auto second = migrator.Migrate();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(SchemaText(), schema);
  EXPECT_EQ(LedgerRows(), static_cast<int>(EmbeddedMigrations().size()));
  EXPECT_TRUE(migrator.CheckUpToDate().ok());
}

TEST_F(MigratorTest, TwoMigratorsAtOnceApplyEachMigrationOnce) {
  // Separate pools: two sessions competing for the advisory lock, as two processes would.
  auto other_pool = pg::ConnectionPool::Create(dsn_, {.max_connections = 1});
  ASSERT_TRUE(other_pool.ok());
  absl::StatusOr<MigrateResult> a, b;
  std::thread ta([&] { a = Migrator(pool_.get()).Migrate(); });
  std::thread tb([&] { b = Migrator(other_pool->get()).Migrate(); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->applied.size() + b->applied.size(), EmbeddedMigrations().size());
  EXPECT_EQ(LedgerRows(), static_cast<int>(EmbeddedMigrations().size()));
}

TEST_F(MigratorTest, RefusesAMigrationEditedAfterItWasApplied) {
  std::vector<Migration> original = {{1, "0001_a.sql", "CREATE TABLE a (x int)"}};
  ASSERT_TRUE(Migrator(pool_.get(), original).Migrate().ok());
  std::vector<Migration> edited = {{1, "0001_a.sql", "CREATE TABLE a (x bigint)"}};
  auto result = Migrator(pool_.get(), edited).Migrate();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("was changed after it was applied"));
}

TEST_F(MigratorTest, RefusesADatabaseNewerThanTheBinary) {
  std::vector<Migration> newer = {{1, "0001_a.sql", "CREATE TABLE a (x int)"},
                                  {2, "0002_b.sql", "CREATE TABLE b (x int)"}};
  ASSERT_TRUE(Migrator(pool_.get(), newer).Migrate().ok());
  std::vector<Migration> older = {newer[0]};
  auto result = Migrator(pool_.get(), older).Migrate();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("run a newer sagad"));
}

TEST_F(MigratorTest, AFailingMigrationLeavesTheEarlierOnesAndNoTraceOfItself) {
  std::vector<Migration> migrations = {
      {1, "0001_a.sql", "CREATE TABLE a (x int)"},
      {2, "0002_bad.sql", "CREATE TABLE b (x int); SELECT no_such_function()"}};
  auto result = Migrator(pool_.get(), migrations).Migrate();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(LedgerRows(), 1);
  EXPECT_THAT(SchemaText(), HasSubstr("a.x:integer"));
  EXPECT_THAT(SchemaText(), ::testing::Not(HasSubstr("b.x:integer")));
}

}  // namespace
}  // namespace saga::migrations
