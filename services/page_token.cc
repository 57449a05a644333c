#include "services/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace saga::services {

std::string EncodePageToken(std::string_view kind, const std::vector<std::string>& fields) {
  std::string plain(kind);
  for (const std::string& f : fields) plain += "|" + f;
  return absl::WebSafeBase64Escape(plain);
}

absl::StatusOr<std::vector<std::string>> DecodePageToken(std::string_view token,
                                                         std::string_view kind,
                                                         size_t field_count) {
  std::string plain;
  if (absl::WebSafeBase64Unescape(std::string(token), &plain)) {
    std::vector<std::string> parts = absl::StrSplit(plain, '|');
    if (parts.size() == field_count + 1 && parts[0] == kind) {
      parts.erase(parts.begin());
      return parts;
    }
  }
  return absl::InvalidArgumentError(
      "page_token: not a token this list returned; pass the next_page_token of the previous "
      "page unchanged, or leave it empty for the first page");
}

}  // namespace saga::services
