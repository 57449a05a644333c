// The one place where an absl::Status becomes a grpc::Status, and a gRPC code an HTTP status.
// Codes map one to one (Abseil's codes are gRPC's); the message is kept as it is, since our
// messages are written for callers.
#ifndef SAGA_SERVICES_GRPC_STATUS_H_
#define SAGA_SERVICES_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace saga::services {

grpc::Status ToGrpcStatus(const absl::Status& status);

// "INVALID_ARGUMENT" and so on.
const char* GrpcCodeName(grpc::StatusCode code);

// The HTTP status of the HTTP API (http_api.h) for a gRPC code, as google.rpc.Code documents it
// (INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404, ...).
int HttpStatusOf(grpc::StatusCode code);

}  // namespace saga::services

#endif  // SAGA_SERVICES_GRPC_STATUS_H_
