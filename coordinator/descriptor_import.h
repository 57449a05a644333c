// Saga definitions derived from a participant's own protos: the methods that carry the
// (saga.v1.step) option (options.proto) become steps of the sagas they name, their
// compensation and status methods are looked up in the same service, and each step calls
// "/package.Service/Method" at the service's target. The result still goes through
// ValidateDefinition before it is stored. Pure function; thread-safe.
#ifndef SAGA_COORDINATOR_DESCRIPTOR_IMPORT_H_
#define SAGA_COORDINATOR_DESCRIPTOR_IMPORT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "saga/v1/definition.pb.h"

namespace saga::coordinator {

struct ImportTargets {
  std::map<std::string, std::string> by_service;  // full service name -> gRPC target
  std::string fallback;                           // for services not named above
};

// Parses a serialized FileDescriptorSet and derives one definition per saga named by its
// methods' options, in name order. INVALID_ARGUMENT saying which method is wrong (unparsable
// set, no saga name, unknown compensation method, no target for a service); NOT_FOUND when no
// method carries the option.
absl::StatusOr<std::vector<saga::v1::SagaDefinition>> DefinitionsFromDescriptorSet(
    const std::string& serialized_set, const ImportTargets& targets);

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_DESCRIPTOR_IMPORT_H_
