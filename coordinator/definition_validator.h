// Validation of saga definitions before they are stored.
//
// A definition is rejected with INVALID_ARGUMENT whose message starts with the path of the
// offending field ("definition.steps[2].depends_on[0]: ...") and says what is expected. The
// rules beyond field formats keep the saga pattern sound:
//   - step names are unique; dependencies name existing steps and form no cycle;
//   - at most one pivot; retriable steps have no compensation;
//   - the pivot depends, directly or not, on every compensatable step, and every retriable
//     step depends on every other non-retriable step: nothing that cannot be undone runs
//     beside something that can still fail.
// Pure function; thread-safe.
#ifndef SAGA_COORDINATOR_DEFINITION_VALIDATOR_H_
#define SAGA_COORDINATOR_DEFINITION_VALIDATOR_H_

#include "absl/status/status.h"
#include "saga/v1/definition.pb.h"

namespace saga::coordinator {

// Limits of the definition language.
inline constexpr int kMaxSteps = 256;
inline constexpr int kMaxDescriptionBytes = 4096;

// OK, or INVALID_ARGUMENT naming the field under "definition".
absl::Status ValidateDefinition(const saga::v1::SagaDefinition& definition);

// OK when `name` is a valid definition name; INVALID_ARGUMENT naming `field` otherwise.
absl::Status ValidateDefinitionName(std::string_view name, std::string_view field);

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_DEFINITION_VALIDATOR_H_
