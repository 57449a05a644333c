#include "sdk/pg/pg_status.h"

#include <string>

#include <pqxx/except>

#include "absl/strings/strip.h"
#include "sdk/base/strings.h"

namespace saga::pg {

absl::Status StatusFromException(const std::exception& e, std::string_view context) {
  std::string what(absl::StripTrailingAsciiWhitespace(e.what()));
  std::string message = saga::StrCat("PostgreSQL error while ", context, ": ", what);
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) ||
      dynamic_cast<const pqxx::statement_completion_unknown*>(&e)) {
    return absl::UnknownError(message);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) return absl::UnavailableError(message);
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e)) return absl::AbortedError(message);
  if (dynamic_cast<const pqxx::unique_violation*>(&e)) return absl::AlreadyExistsError(message);
  if (dynamic_cast<const pqxx::insufficient_resources*>(&e)) {
    return absl::ResourceExhaustedError(message);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // 57P01..57P03: the server is shutting down or cannot connect now; 08: connection errors.
    if (absl::StartsWith(state, "57P") || absl::StartsWith(state, "08")) {
      return absl::UnavailableError(message);
    }
    if (state == "55P03") return absl::AbortedError(message);             // lock_not_available
    if (state == "57014") return absl::DeadlineExceededError(message);    // query_canceled
  }
  return absl::InternalError(message);
}

}  // namespace saga::pg
