// The definitions sagad registers when it starts: the files of --definitions and the saga
// options of --descriptor_set. Any that does not parse or validate stops the start with an
// error naming the file and the field, so a bad deployment fails loudly and early.
#ifndef SAGA_SERVICES_STARTUP_DEFINITIONS_H_
#define SAGA_SERVICES_STARTUP_DEFINITIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "coordinator/definition_registry.h"
#include "coordinator/descriptor_import.h"
#include "services/config.h"

namespace saga::services {

// "host:port" (every service), or "pkg.Svc=host:port,...", with at most one bare target as
// the fallback. INVALID_ARGUMENT naming SAGAD_DESCRIPTOR_TARGETS otherwise.
absl::StatusOr<coordinator::ImportTargets> ParseDescriptorTargets(const std::string& text);

// Registers what `config` names; OK when it names nothing.
absl::Status RegisterStartupDefinitions(const ServerConfig& config,
                                        coordinator::DefinitionRegistry& registry);

}  // namespace saga::services

#endif  // SAGA_SERVICES_STARTUP_DEFINITIONS_H_
