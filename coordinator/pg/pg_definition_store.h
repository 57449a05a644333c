// PgDefinitionStore keeps saga definitions in PostgreSQL (table saga_definitions, see
// migrations/0001_definitions.sql). Registration holds a transaction-scoped advisory lock on the
// name, so concurrent registrations of one name get distinct, gapless versions. Thread-safe:
// each call borrows its own pooled connection.
#ifndef SAGA_COORDINATOR_PG_PG_DEFINITION_STORE_H_
#define SAGA_COORDINATOR_PG_PG_DEFINITION_STORE_H_

#include "coordinator/definition_store.h"
#include "sdk/pg/connection_pool.h"

namespace saga::coordinator::pg {

class PgDefinitionStore : public DefinitionStore {
 public:
  // `pool` must outlive the store.
  explicit PgDefinitionStore(saga::pg::ConnectionPool* pool) : pool_(pool) {}

  absl::StatusOr<StoredDefinition> Register(const saga::v1::SagaDefinition& definition) override;
  absl::StatusOr<saga::v1::SagaDefinition> Get(const std::string& name,
                                               uint32_t version) override;
  absl::StatusOr<DefinitionPage> List(const DefinitionQuery& query) override;

 private:
  saga::pg::ConnectionPool* const pool_;
};

}  // namespace saga::coordinator::pg

#endif  // SAGA_COORDINATOR_PG_PG_DEFINITION_STORE_H_
