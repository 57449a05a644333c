#include "services/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sdk/base/uuid.h"

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

std::string EncodeSagaPageToken(std::string_view kind, const saga::v1::Saga& last) {
  const int64_t micros =
      last.create_time().seconds() * 1000000 + last.create_time().nanos() / 1000;
  return EncodePageToken(kind, {std::to_string(micros), last.saga_id()});
}

absl::StatusOr<std::pair<absl::Time, std::string>> DecodeSagaPageToken(std::string_view token,
                                                                       std::string_view kind) {
  auto cursor = DecodePageToken(token, kind, 2);
  if (!cursor.ok()) return cursor.status();
  int64_t micros;
  if (!absl::SimpleAtoi((*cursor)[0], &micros) || !IsUuid((*cursor)[1])) {
    return absl::InvalidArgumentError("page_token: is damaged; start again without one");
  }
  return std::make_pair(absl::FromUnixMicros(micros), (*cursor)[1]);
}

}  // namespace saga::services
