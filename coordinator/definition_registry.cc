#include "coordinator/definition_registry.h"

#include "absl/time/clock.h"
#include "coordinator/definition_validator.h"
#include "sdk/base/status_macros.h"

namespace saga::coordinator {

absl::StatusOr<StoredDefinition> DefinitionRegistry::Register(
    saga::v1::SagaDefinition definition) {
  SAGA_RETURN_IF_ERROR(ValidateDefinition(definition));
  definition.clear_version();
  definition.clear_create_time();
  SAGA_ASSIGN_OR_RETURN(StoredDefinition stored, store_->Register(definition));
  Remember(stored.definition, /*latest=*/true);
  return stored;
}

namespace {
constexpr absl::Duration kLatestFor = absl::Seconds(1);
}  // namespace

bool DefinitionRegistry::LatestIsCached(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = latest_.find(name);
  return it != latest_.end() && absl::Now() - it->second.read_at < kLatestFor;
}

absl::StatusOr<std::shared_ptr<const saga::v1::SagaDefinition>> DefinitionRegistry::Get(
    const std::string& name, uint32_t version) {
  {
    absl::MutexLock lock(&mu_);
    if (version != 0) {
      auto it = cache_.find(std::make_pair(name, version));
      if (it != cache_.end()) return it->second;
    } else {
      auto it = latest_.find(name);
      if (it != latest_.end() && absl::Now() - it->second.read_at < kLatestFor) {
        return it->second.definition;
      }
    }
  }
  SAGA_RETURN_IF_ERROR(ValidateDefinitionName(name, "name"));
  SAGA_ASSIGN_OR_RETURN(saga::v1::SagaDefinition definition, store_->Get(name, version));
  return Remember(definition, /*latest=*/version == 0);
}

std::shared_ptr<const saga::v1::SagaDefinition> DefinitionRegistry::Remember(
    const saga::v1::SagaDefinition& definition, bool latest) {
  auto shared = std::make_shared<const saga::v1::SagaDefinition>(definition);
  absl::MutexLock lock(&mu_);
  cache_.emplace(std::make_pair(definition.name(), definition.version()), shared);
  if (latest) latest_[definition.name()] = Latest{shared, absl::Now()};
  return shared;
}

}  // namespace saga::coordinator
