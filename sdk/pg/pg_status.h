// The one mapping from libpqxx exceptions to absl::Status, used at every pg/ boundary:
// serialization failure or deadlock -> ABORTED (retry the transaction), broken connection ->
// UNAVAILABLE, unique violation -> ALREADY_EXISTS, in-doubt commit -> UNKNOWN (re-read before
// acting), lack of resources -> RESOURCE_EXHAUSTED, anything else -> INTERNAL.
#ifndef SAGA_SDK_PG_PG_STATUS_H_
#define SAGA_SDK_PG_PG_STATUS_H_

#include <exception>
#include <string_view>

#include "absl/status/status.h"

namespace saga::pg {

// Maps `e`, thrown while doing `context` ("registering a definition"), to a status whose message
// names the context and PostgreSQL's own words.
absl::Status StatusFromException(const std::exception& e, std::string_view context);

}  // namespace saga::pg

#endif  // SAGA_SDK_PG_PG_STATUS_H_
