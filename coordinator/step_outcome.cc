#include "coordinator/step_outcome.h"

namespace saga::coordinator {

StepOutcome ClassifyOutcome(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return StepOutcome::kSuccess;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
      return StepOutcome::kBusinessFailure;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
      return StepOutcome::kTransient;
    default:
      return StepOutcome::kUnknown;
  }
}

}  // namespace saga::coordinator
