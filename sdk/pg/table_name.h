// Table names that the SDK splices into SQL (outbox, inbox, barrier tables chosen by a service):
// only plain or schema-qualified lower-case identifiers pass, so no name can inject SQL.
#ifndef SAGA_SDK_PG_TABLE_NAME_H_
#define SAGA_SDK_PG_TABLE_NAME_H_

#include <string_view>

#include "absl/status/status.h"

namespace saga::pg {

// OK when `table` is "name" or "schema.name" of lower-case letters, digits and _ (each part 1 to
// 63 characters, not starting with a digit); INVALID_ARGUMENT naming `what` ("outbox table")
// otherwise.
absl::Status ValidateTableName(std::string_view table, std::string_view what);

}  // namespace saga::pg

#endif  // SAGA_SDK_PG_TABLE_NAME_H_
