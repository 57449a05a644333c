// Outbox headers travel in the outbox table as a JSON object of names to string values
// ({"traceparent": "00-..."}), as PostgreSQL prints a jsonb value. ParseHeadersJson reads that
// text back into pairs, in the object's order; a value that is not a string (a number, say,
// written by hand) keeps its JSON text. Pure functions, thread-safe.
#ifndef SAGA_OUTBOX_HEADERS_JSON_H_
#define SAGA_OUTBOX_HEADERS_JSON_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace saga::outbox {

// INVALID_ARGUMENT when `json` is not a JSON object whose values are scalars.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseHeadersJson(
    std::string_view json);

}  // namespace saga::outbox

#endif  // SAGA_OUTBOX_HEADERS_JSON_H_
