// Tests of PgDefinitionStore (through the DefinitionRegistry) against a real PostgreSQL.
#include "coordinator/pg/pg_definition_store.h"

#include <set>
#include <thread>

#include <pqxx/pqxx>

#include "coordinator/definition_registry.h"
#include "gtest/gtest.h"
#include "tests/harness/migrated_database.h"

namespace saga::coordinator::pg {
namespace {

saga::v1::SagaDefinition Definition(const std::string& name, const std::string& method) {
  saga::v1::SagaDefinition definition;
  definition.set_name(name);
  auto* step = definition.add_steps();
  step->set_name("reserve");
  step->mutable_action()->mutable_grpc()->set_target("127.0.0.1:7001");
  step->mutable_action()->mutable_grpc()->set_method(method);
  return definition;
}

class PgDefinitionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = saga::testing::NewMigratedDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    dsn_ = db->dsn;
    pool_ = std::move(db->pool);
    store_ = std::make_unique<PgDefinitionStore>(pool_.get());
    registry_ = std::make_unique<DefinitionRegistry>(store_.get());
  }

  int StoredRows() {
    pqxx::connection conn(dsn_);
    pqxx::read_transaction tx(conn);
    return tx.exec("SELECT count(*) FROM saga_definitions")[0][0].as<int>();
  }

  std::string dsn_;
  std::unique_ptr<saga::pg::ConnectionPool> pool_;
  std::unique_ptr<PgDefinitionStore> store_;
  std::unique_ptr<DefinitionRegistry> registry_;
};

TEST_F(PgDefinitionStoreTest, SameContentSameVersionChangedContentNextVersion) {
  auto first = registry_->Register(Definition("order", "/shop.Stock/Reserve"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->definition.version(), 1u);
  EXPECT_GT(first->definition.create_time().seconds(), 0);

  auto again = registry_->Register(Definition("order", "/shop.Stock/Reserve"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->definition.version(), 1u);
  EXPECT_EQ(again->definition.create_time().seconds(), first->definition.create_time().seconds());

  auto changed = registry_->Register(Definition("order", "/shop.Stock/ReserveV2"));
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed->created);
  EXPECT_EQ(changed->definition.version(), 2u);

  // Going back to the first content is a change from the latest: a new version.
  auto reverted = registry_->Register(Definition("order", "/shop.Stock/Reserve"));
  ASSERT_TRUE(reverted.ok());
  EXPECT_EQ(reverted->definition.version(), 3u);
  EXPECT_EQ(StoredRows(), 3);
}

TEST_F(PgDefinitionStoreTest, TheVersionGivenByTheCallerIsIgnored) {
  auto definition = Definition("order", "/shop.Stock/Reserve");
  definition.set_version(77);
  auto stored = registry_->Register(definition);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->definition.version(), 1u);
}

TEST_F(PgDefinitionStoreTest, GetReadsLatestOrOneVersionAndSaysWhatIsMissing) {
  ASSERT_TRUE(registry_->Register(Definition("order", "/a.B/One")).ok());
  ASSERT_TRUE(registry_->Register(Definition("order", "/a.B/Two")).ok());
  auto latest = registry_->Get("order", 0);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)->version(), 2u);
  EXPECT_EQ((*latest)->steps(0).action().grpc().method(), "/a.B/Two");
  auto v1 = registry_->Get("order", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ((*v1)->steps(0).action().grpc().method(), "/a.B/One");
  EXPECT_EQ(registry_->Get("order", 3).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->Get("nothing", 0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PgDefinitionStoreTest, InvalidDefinitionsStoreNothing) {
  auto bad = Definition("order", "not-a-method");
  EXPECT_EQ(registry_->Register(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StoredRows(), 0);
}

TEST_F(PgDefinitionStoreTest, ListPagesThroughLatestOrAllVersions) {
  for (const char* name : {"alpha", "beta", "gamma"}) {
    ASSERT_TRUE(registry_->Register(Definition(name, "/a.B/One")).ok());
    ASSERT_TRUE(registry_->Register(Definition(name, "/a.B/Two")).ok());
  }
  DefinitionQuery latest{.limit = 2};
  auto page1 = registry_->List(latest);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->definitions.size(), 2u);
  EXPECT_TRUE(page1->more);
  EXPECT_EQ(page1->definitions[0].name(), "alpha");
  EXPECT_EQ(page1->definitions[0].version(), 2u);
  latest.after_name = page1->definitions[1].name();
  latest.after_version = page1->definitions[1].version();
  auto page2 = registry_->List(latest);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->definitions.size(), 1u);
  EXPECT_FALSE(page2->more);
  EXPECT_EQ(page2->definitions[0].name(), "gamma");

  std::vector<std::pair<std::string, uint32_t>> all;
  DefinitionQuery every{.all_versions = true, .limit = 4};
  for (;;) {
    auto page = registry_->List(every);
    ASSERT_TRUE(page.ok());
    for (const auto& d : page->definitions) all.emplace_back(d.name(), d.version());
    if (!page->more) break;
    every.after_name = all.back().first;
    every.after_version = all.back().second;
  }
  std::vector<std::pair<std::string, uint32_t>> expected = {
      {"alpha", 2}, {"alpha", 1}, {"beta", 2}, {"beta", 1}, {"gamma", 2}, {"gamma", 1}};
  EXPECT_EQ(all, expected);

  auto only_beta = registry_->List({.name = "beta", .all_versions = true});
  ASSERT_TRUE(only_beta.ok());
  EXPECT_EQ(only_beta->definitions.size(), 2u);
}

TEST_F(PgDefinitionStoreTest, ConcurrentRegistrationsGetDistinctGaplessVersions) {
  constexpr int kWriters = 8;
  std::vector<std::thread> writers;
  std::vector<uint32_t> versions(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      auto stored = registry_->Register(Definition("order", "/a.B/M" + std::to_string(i)));
      versions[i] = stored.ok() ? stored->definition.version() : 0;
    });
  }
  for (auto& t : writers) t.join();
  std::set<uint32_t> distinct(versions.begin(), versions.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kWriters));
  EXPECT_EQ(*distinct.begin(), 1u);
  EXPECT_EQ(*distinct.rbegin(), static_cast<uint32_t>(kWriters));
}

}  // namespace
}  // namespace saga::coordinator::pg
