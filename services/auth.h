// Authentication and roles for the gRPC API: where a call without valid credentials gets
// UNAUTHENTICATED and a call above its role PERMISSION_DENIED.
//
// With SAGAD_AUTH_TOKENS_FILE set, every call (but the gRPC health check and reflection, which
// carry no data) must carry `authorization: Bearer <token>` metadata, and the token must be one
// of the file's. The file (a mounted Kubernetes Secret works) has one token per line:
//
//   # name      role    token
//   checkout    client  3f9c...   (at least 16 characters)
//   oncall      admin   a71d...
//
// Roles: client may call SagaService, TccService and OutboxService; admin may call those and
// AdminService. The name is the actor recorded in a saga's history (AbortSaga, operator
// actions). Tokens are kept only as SHA-256 digests and never logged. Without the file,
// authentication is off (sagad logs a warning at start) and every caller is "anonymous" with
// the admin role: the quickstart's embedded defaults. Thread-safe.
#ifndef SAGA_SERVICES_AUTH_H_
#define SAGA_SERVICES_AUTH_H_

#include <memory>
#include <string>

#include <grpcpp/server_context.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace saga::services {

enum class Role { kClient = 1, kAdmin = 2 };

struct Caller {
  std::string name;
  Role role = Role::kClient;
};

class Authenticator {
 public:
  // Reads a tokens file; INVALID_ARGUMENT naming the line (never the token) when it is malformed.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(const std::string& path);
  // Authentication off.
  static std::unique_ptr<Authenticator> Open();

  // The caller of `context` if its token is valid and its role at least `needed`: else
  // UNAUTHENTICATED (no or unknown token) or PERMISSION_DENIED (role too low), with a message
  // that says what to send.
  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context, Role needed) const;

  bool enabled() const { return enabled_; }
  size_t token_count() const { return by_digest_.size(); }

 private:
  Authenticator() = default;

  bool enabled_ = false;
  absl::flat_hash_map<std::string, Caller> by_digest_;  // SHA-256 of the token -> its caller
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_AUTH_H_
