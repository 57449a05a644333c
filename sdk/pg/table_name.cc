#include "sdk/pg/table_name.h"

#include <vector>

#include "absl/strings/str_split.h"
#include "sdk/base/strings.h"

namespace saga::pg {
namespace {

bool IsIdentifier(absl::string_view part) {
  if (part.empty() || part.size() > 63) return false;
  if (!(part[0] == '_' || (part[0] >= 'a' && part[0] <= 'z'))) return false;
  for (char c : part) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateTableName(std::string_view table, std::string_view what) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(table.data(), table.size()), '.');
  bool ok = parts.size() <= 2;
  for (absl::string_view part : parts) ok = ok && IsIdentifier(part);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(saga::StrCat(
      what, " \"", table,
      "\" is not a table name: expected [schema.]name of lower-case letters, digits and _"));
}

}  // namespace saga::pg
