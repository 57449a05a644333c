// How a participant's answer is read (the gRPC convention of DESIGN.md): OK is success;
// ABORTED, FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED
// are business failures (the participant refused; nothing was applied); UNAVAILABLE and
// RESOURCE_EXHAUSTED are transient (retry); DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, CANCELLED and
// anything else are unknown: retried too, and the step may have run.
#ifndef SAGA_COORDINATOR_STEP_OUTCOME_H_
#define SAGA_COORDINATOR_STEP_OUTCOME_H_

#include "absl/status/status.h"

namespace saga::coordinator {

enum class StepOutcome { kSuccess, kBusinessFailure, kTransient, kUnknown };

StepOutcome ClassifyOutcome(const absl::Status& status);

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_STEP_OUTCOME_H_
