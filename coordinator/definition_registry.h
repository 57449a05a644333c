// DefinitionRegistry is how the rest of sagad registers and reads saga definitions: it
// validates before anything is stored, clears the output-only fields, and caches the versions it
// has read (they are immutable). Which version is the latest is cached for a second: a version
// registered through another instance is seen as the latest here within that second (through
// this instance, at once). Thread-safe.
#ifndef SAGA_COORDINATOR_DEFINITION_REGISTRY_H_
#define SAGA_COORDINATOR_DEFINITION_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/definition_store.h"

namespace saga::coordinator {

class DefinitionRegistry {
 public:
  // `store` must outlive the registry.
  explicit DefinitionRegistry(DefinitionStore* store) : store_(store) {}

  // Validates (INVALID_ARGUMENT naming the field, nothing stored) and stores.
  absl::StatusOr<StoredDefinition> Register(saga::v1::SagaDefinition definition);

  // One version; `version` 0 means the latest.
  absl::StatusOr<std::shared_ptr<const saga::v1::SagaDefinition>> Get(const std::string& name,
                                                                      uint32_t version);

  // Whether Get(name, 0) would answer from the cache.
  bool LatestIsCached(const std::string& name);

  absl::StatusOr<DefinitionPage> List(const DefinitionQuery& query) { return store_->List(query); }

 private:
  // Caches `definition`; as the latest of its name too when `latest`.
  std::shared_ptr<const saga::v1::SagaDefinition> Remember(
      const saga::v1::SagaDefinition& definition, bool latest);

  DefinitionStore* const store_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, uint32_t>,
                      std::shared_ptr<const saga::v1::SagaDefinition>>
      cache_ ABSL_GUARDED_BY(mu_);
  struct Latest {
    std::shared_ptr<const saga::v1::SagaDefinition> definition;
    absl::Time read_at;
  };
  absl::flat_hash_map<std::string, Latest> latest_ ABSL_GUARDED_BY(mu_);
};

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_DEFINITION_REGISTRY_H_
