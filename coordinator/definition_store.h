// DefinitionStore: where registered saga definitions are kept. The engine sees only this
// interface; coordinator/pg/ implements it on PostgreSQL.
//
// Implementations are thread-safe. Definitions are immutable: a version, once stored, never
// changes, so callers may cache what they read.
#ifndef SAGA_COORDINATOR_DEFINITION_STORE_H_
#define SAGA_COORDINATOR_DEFINITION_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "saga/v1/definition.pb.h"

namespace saga::coordinator {

struct StoredDefinition {
  saga::v1::SagaDefinition definition;  // with version and create_time set
  bool created = false;                 // false when an equal latest version was returned
};

struct DefinitionQuery {
  std::string name;           // only this name, when set
  bool all_versions = false;  // every version, not just the latest of each name
  int limit = 100;
  // Resume after this (name, version) in the order (name ascending, version descending).
  std::string after_name;
  uint32_t after_version = 0;
};

struct DefinitionPage {
  std::vector<saga::v1::SagaDefinition> definitions;
  bool more = false;  // whether more rows follow the last one returned
};

class DefinitionStore {
 public:
  virtual ~DefinitionStore() = default;

  // Stores `definition` (already validated; version and create_time cleared) as the next
  // version of its name, unless the latest version has the same content, which is returned
  // with created = false. Durable when it returns OK.
  virtual absl::StatusOr<StoredDefinition> Register(const saga::v1::SagaDefinition& definition) = 0;

  // One version; `version` 0 means the latest. NOT_FOUND when absent.
  virtual absl::StatusOr<saga::v1::SagaDefinition> Get(const std::string& name,
                                                       uint32_t version) = 0;

  // Definitions in (name ascending, version descending) order.
  virtual absl::StatusOr<DefinitionPage> List(const DefinitionQuery& query) = 0;
};

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_DEFINITION_STORE_H_
