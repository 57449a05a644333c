// How a unary handler runs blocking work without blocking a gRPC thread: the work goes to the
// BlockingExecutor, and the reactor is finished from there with the work's status.
#ifndef SAGA_SERVICES_UNARY_CALL_H_
#define SAGA_SERVICES_UNARY_CALL_H_

#include <functional>
#include <string>
#include <utility>

#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "sdk/base/blocking_executor.h"
#include "sdk/base/traceparent.h"
#include "sdk/base/tsan.h"
#include "services/auth.h"
#include "services/grpc_status.h"

namespace saga::services {

// Finishes `reactor` with `status`, from any thread. Finish's inline gRPC code fills objects
// that gRPC's core, not built with ThreadSanitizer, hands to another gRPC thread: their writes
// here are hidden from the sanitizer (sdk/base/tsan.h); sagad's own accesses stay checked.
inline void FinishCall(grpc::ServerUnaryReactor* reactor, const grpc::Status& status) {
  saga::TsanIgnoreAccesses ignore;
  reactor->Finish(status);
}

// Runs `work` on `executor` and finishes `reactor` with its status; UNAVAILABLE when the
// executor is shutting down. Returns `reactor` for the handler to return.
inline grpc::ServerUnaryReactor* RunBlocking(BlockingExecutor* executor,
                                             grpc::ServerUnaryReactor* reactor,
                                             std::function<absl::Status()> work) {
  bool scheduled = executor->Schedule(
      [reactor, work = std::move(work)] { FinishCall(reactor, ToGrpcStatus(work())); });
  if (!scheduled) {
    FinishCall(reactor, ToGrpcStatus(absl::UnavailableError("sagad is shutting down; retry on "
                                                            "another instance")));
  }
  return reactor;
}

// Finishes `reactor` with UNAUTHENTICATED or PERMISSION_DENIED and returns true unless the
// caller of `context` holds `needed`; fills `caller` when given.
inline bool Denied(const Authenticator& auth, const grpc::CallbackServerContext& context,
                   Role needed, grpc::ServerUnaryReactor* reactor, Caller* caller = nullptr) {
  absl::StatusOr<Caller> who = auth.Authorize(context, needed);
  if (!who.ok()) {
    FinishCall(reactor, ToGrpcStatus(who.status()));
    return true;
  }
  if (caller != nullptr) *caller = *std::move(who);
  return false;
}

// Finishes `reactor` at once with `status`.
inline grpc::ServerUnaryReactor* FinishNow(grpc::ServerUnaryReactor* reactor,
                                           const absl::Status& status) {
  FinishCall(reactor, ToGrpcStatus(status));
  return reactor;
}

// The caller's W3C traceparent (gRPC metadata "traceparent"), or "" when it sent none or one
// that is not valid (which is dropped, as the Trace Context specification asks).
inline std::string IncomingTraceparent(const grpc::CallbackServerContext& context) {
  auto found = context.client_metadata().find("traceparent");
  if (found == context.client_metadata().end()) return "";
  std::string value(found->second.data(), found->second.size());
  return IsValidTraceparent(value) ? value : "";
}

}  // namespace saga::services

#endif  // SAGA_SERVICES_UNARY_CALL_H_
