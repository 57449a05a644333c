#include "services/startup_definitions.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "coordinator/definition_files.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"

namespace saga::services {

absl::StatusOr<coordinator::ImportTargets> ParseDescriptorTargets(const std::string& text) {
  coordinator::ImportTargets targets;
  for (const std::string& part :
       std::vector<std::string>(absl::StrSplit(text, ',', absl::SkipWhitespace()))) {
    size_t eq = part.find('=');
    if (eq == std::string::npos) {
      if (!targets.fallback.empty()) {
        return absl::InvalidArgumentError(
            "SAGAD_DESCRIPTOR_TARGETS: give at most one target without a service name");
      }
      targets.fallback = part;
    } else if (eq == 0 || eq + 1 == part.size()) {
      return absl::InvalidArgumentError(saga::StrCat(
          "SAGAD_DESCRIPTOR_TARGETS: \"", part, "\" must be pkg.Service=host:port"));
    } else {
      targets.by_service[part.substr(0, eq)] = part.substr(eq + 1);
    }
  }
  return targets;
}

absl::Status RegisterStartupDefinitions(const ServerConfig& config,
                                        coordinator::DefinitionRegistry& registry) {
  if (!config.definitions_dir.empty()) {
    auto files = coordinator::ReadDefinitionDirectory(config.definitions_dir);
    if (!files.ok()) return files.status();
    for (auto& [path, definition] : *files) {
      auto stored = registry.Register(std::move(definition));
      if (!stored.ok()) {
        return absl::Status(stored.status().code(),
                            saga::StrCat(path, ": ", stored.status().message()));
      }
      LogInfo("definition registered from a file",
              {{"file", path}, {"name", stored->definition.name()},
               {"version", saga::StrCat(stored->definition.version())},
               {"created", stored->created ? "true" : "false"}});
    }
  }
  if (!config.descriptor_set_path.empty()) {
    std::ifstream in(config.descriptor_set_path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(saga::StrCat("SAGAD_DESCRIPTOR_SET: cannot read ",
                                              config.descriptor_set_path));
    }
    std::stringstream bytes;
    bytes << in.rdbuf();
    auto targets = ParseDescriptorTargets(config.descriptor_targets);
    if (!targets.ok()) return targets.status();
    auto definitions = coordinator::DefinitionsFromDescriptorSet(bytes.str(), *targets);
    if (!definitions.ok()) {
      return absl::Status(definitions.status().code(),
                          saga::StrCat(config.descriptor_set_path, ": ",
                                       definitions.status().message()));
    }
    for (auto& definition : *definitions) {
      auto stored = registry.Register(std::move(definition));
      if (!stored.ok()) {
        return absl::Status(stored.status().code(),
                            saga::StrCat(config.descriptor_set_path, ": ",
                                         stored.status().message()));
      }
      LogInfo("definition registered from a descriptor set",
              {{"file", config.descriptor_set_path}, {"name", stored->definition.name()},
               {"version", saga::StrCat(stored->definition.version())},
               {"created", stored->created ? "true" : "false"}});
    }
  }
  return absl::OkStatus();
}

}  // namespace saga::services
