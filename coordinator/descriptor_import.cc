#include "coordinator/descriptor_import.h"

#include <cctype>

#include <google/protobuf/descriptor.pb.h>

#include "saga/v1/options.pb.h"
#include "sdk/base/strings.h"

namespace saga::coordinator {
namespace {

// "ChargeCard" -> "charge_card".
std::string SnakeCase(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (std::isupper(c)) {
      if (i > 0) out += '_';
      out += static_cast<char>(std::tolower(c));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<saga::v1::SagaDefinition>> DefinitionsFromDescriptorSet(
    const std::string& serialized_set, const ImportTargets& targets) {
  google::protobuf::FileDescriptorSet set;
  if (serialized_set.empty() || !set.ParseFromString(serialized_set)) {
    return absl::InvalidArgumentError(
        "file_descriptor_set: not a serialized FileDescriptorSet; make one with "
        "`protoc --include_imports --descriptor_set_out=FILE your.proto`");
  }
  std::map<std::string, saga::v1::SagaDefinition> sagas;
  for (const auto& file : set.file()) {
    for (const auto& service : file.service()) {
      const std::string full_service =
          file.package().empty() ? service.name() : saga::StrCat(file.package(), ".", service.name());
      auto target_of = targets.by_service.find(full_service);
      const std::string target =
          target_of != targets.by_service.end() ? target_of->second : targets.fallback;
      auto method_path = [&](const std::string& method) {
        return saga::StrCat("/", full_service, "/", method);
      };
      auto has_method = [&](const std::string& method) {
        for (const auto& m : service.method()) {
          if (m.name() == method) return true;
        }
        return false;
      };
      for (const auto& method : service.method()) {
        if (!method.options().HasExtension(saga::v1::step)) continue;
        const saga::v1::StepOptions& options = method.options().GetExtension(saga::v1::step);
        const std::string where = method_path(method.name());
        if (options.saga().empty()) {
          return absl::InvalidArgumentError(
              saga::StrCat(where, ": its (saga.v1.step) option names no saga"));
        }
        if (target.empty()) {
          return absl::InvalidArgumentError(saga::StrCat(
              "service_targets: no target for service ", full_service,
              "; give one in service_targets or a default_target"));
        }
        saga::v1::SagaDefinition& definition = sagas[options.saga()];
        definition.set_name(options.saga());
        saga::v1::Step* step = definition.add_steps();
        step->set_name(options.name().empty() ? SnakeCase(method.name()) : options.name());
        step->set_kind(options.kind());
        step->mutable_action()->mutable_grpc()->set_target(target);
        step->mutable_action()->mutable_grpc()->set_method(where);
        for (const auto& [field, method_name, endpoint] :
             {std::tuple{"compensation", options.compensation(), step->mutable_compensation()},
              std::tuple{"status", options.status(), step->mutable_status()}}) {
          if (method_name.empty()) continue;
          if (!has_method(method_name)) {
            return absl::InvalidArgumentError(saga::StrCat(
                where, ": its ", field, " method \"", method_name, "\" is not a method of ",
                full_service));
          }
          endpoint->mutable_grpc()->set_target(target);
          endpoint->mutable_grpc()->set_method(method_path(method_name));
        }
        if (options.compensation().empty()) step->clear_compensation();
        if (options.status().empty()) step->clear_status();
        for (const auto& dep : options.depends_on()) step->add_depends_on(dep);
        if (options.has_retry_policy()) *step->mutable_retry_policy() = options.retry_policy();
        if (options.has_timeout()) *step->mutable_timeout() = options.timeout();
      }
    }
  }
  if (sagas.empty()) {
    return absl::NotFoundError(
        "file_descriptor_set: no method carries the (saga.v1.step) option; annotate the "
        "methods that are saga steps (see saga/v1/options.proto)");
  }
  std::vector<saga::v1::SagaDefinition> out;
  for (auto& [name, definition] : sagas) out.push_back(std::move(definition));
  return out;
}

}  // namespace saga::coordinator
