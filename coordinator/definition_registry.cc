#include "coordinator/definition_registry.h"

#include "absl/strings/str_cat.h"
#include "coordinator/definition_validator.h"
#include "sdk/base/status_macros.h"

namespace saga::coordinator {

absl::StatusOr<StoredDefinition> DefinitionRegistry::Register(
    saga::v1::SagaDefinition definition) {
  SAGA_RETURN_IF_ERROR(ValidateDefinition(definition));
  definition.clear_version();
  definition.clear_create_time();
  SAGA_ASSIGN_OR_RETURN(StoredDefinition stored, store_->Register(definition));
  Remember(stored.definition);
  return stored;
}

absl::StatusOr<std::shared_ptr<const saga::v1::SagaDefinition>> DefinitionRegistry::Get(
    const std::string& name, uint32_t version) {
  if (version != 0) {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(std::make_pair(name, version));
    if (it != cache_.end()) return it->second;
  }
  SAGA_RETURN_IF_ERROR(ValidateDefinitionName(name, "name"));
  SAGA_ASSIGN_OR_RETURN(saga::v1::SagaDefinition definition, store_->Get(name, version));
  Remember(definition);
  return std::make_shared<const saga::v1::SagaDefinition>(std::move(definition));
}

void DefinitionRegistry::Remember(const saga::v1::SagaDefinition& definition) {
  auto shared = std::make_shared<const saga::v1::SagaDefinition>(definition);
  absl::MutexLock lock(&mu_);
  cache_.emplace(std::make_pair(definition.name(), definition.version()), std::move(shared));
}

}  // namespace saga::coordinator
