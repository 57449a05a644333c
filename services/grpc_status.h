// The one place where an absl::Status becomes a grpc::Status. Codes map one to one (Abseil's
// codes are gRPC's); the message is kept as it is, since our messages are written for callers.
#ifndef SAGA_SERVICES_GRPC_STATUS_H_
#define SAGA_SERVICES_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace saga::services {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace saga::services

#endif  // SAGA_SERVICES_GRPC_STATUS_H_
