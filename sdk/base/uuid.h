// UUIDs as sagad uses them: saga ids, TCC global ids and message ids are random (version 4)
// UUIDs in canonical lowercase text form, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
// Thread-safe.
#ifndef SAGA_SDK_BASE_UUID_H_
#define SAGA_SDK_BASE_UUID_H_

#include <string>
#include <string_view>

namespace saga {

// Returns a new random UUID.
std::string NewUuid();

// True when `text` is a UUID in canonical text form (any case, any version).
bool IsUuid(std::string_view text);

}  // namespace saga

#endif  // SAGA_SDK_BASE_UUID_H_
