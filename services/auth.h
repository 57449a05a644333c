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
//   dashboards  viewer  9be0...
//
// Roles: viewer may only read (GetDefinition, ListDefinitions, GetSaga, ListSagas, WatchSaga,
// GetTransaction, and AdminService's GetHistory, ListQuarantined, ListParked, GetOverview,
// WhoAmI): the web console's read-only operators; client may also call every other method of
// SagaService, TccService and OutboxService; admin may call everything. The name is the actor recorded in a saga's history (AbortSaga, operator
// actions). Tokens are kept only as SHA-256 digests and never logged. The file is read again
// when its content changes (checked every SAGAD_AUTH_RELOAD_INTERVAL, 10s by default): a
// Kubernetes Secret updated in place takes effect without a restart; a malformed new version
// is logged with the line to fix and the previous tokens stay in force. Without the file,
// authentication is off (sagad logs a warning at start) and every caller is "anonymous" with
// the admin role: the quickstart's embedded defaults. Thread-safe.
#ifndef SAGA_SERVICES_AUTH_H_
#define SAGA_SERVICES_AUTH_H_

#include <memory>
#include <string>
#include <thread>

#include <grpcpp/server_context.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace saga::services {

// Each role may do what the one before it may.
enum class Role { kViewer = 1, kClient = 2, kAdmin = 3 };

// "viewer", "client" or "admin".
const char* RoleName(Role role);

struct Caller {
  std::string name;
  Role role = Role::kClient;
};

class Authenticator {
 public:
  // Reads a tokens file; INVALID_ARGUMENT naming the line (never the token) when it is
  // malformed. With a positive `reload_interval`, a thread checks the file that often and
  // reloads it when its content changed.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(
      const std::string& path, absl::Duration reload_interval = absl::ZeroDuration());
  // Authentication off.
  static std::unique_ptr<Authenticator> Open();

  ~Authenticator();

  // The caller of `context` if its token is valid and its role at least `needed`: else
  // UNAUTHENTICATED (no or unknown token) or PERMISSION_DENIED (role too low), with a message
  // that says what to send.
  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context, Role needed) const;

  // Reads the file again if its content changed: true when new tokens took effect; the file's
  // error (the old tokens stay) when the new content is malformed or unreadable.
  absl::StatusOr<bool> ReloadIfChanged();

  bool enabled() const { return enabled_; }
  size_t token_count() const;

 private:
  using Table = absl::flat_hash_map<std::string, Caller>;  // SHA-256 of the token -> its caller

  Authenticator() = default;
  std::shared_ptr<const Table> table() const;
  void WatchFile(absl::Duration interval);

  bool enabled_ = false;
  std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Table> table_ ABSL_GUARDED_BY(mu_);
  std::string content_digest_ ABSL_GUARDED_BY(mu_);  // of the file's text that made table_
  absl::Notification stop_;
  std::thread watcher_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_AUTH_H_
