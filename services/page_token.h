// Page tokens: opaque to callers, they carry the cursor of the last row of a page so the next
// page resumes after it. Encoded as URL-safe base64 of "kind|field|field...", so a token of one
// list is refused by another.
#ifndef SAGA_SERVICES_PAGE_TOKEN_H_
#define SAGA_SERVICES_PAGE_TOKEN_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "saga/v1/saga.pb.h"

namespace saga::services {

// Encodes `fields` (which must not contain '|') for the list called `kind`.
std::string EncodePageToken(std::string_view kind, const std::vector<std::string>& fields);

// Decodes a token made by EncodePageToken for `kind` with `field_count` fields.
// INVALID_ARGUMENT naming "page_token" when it was not.
absl::StatusOr<std::vector<std::string>> DecodePageToken(std::string_view token,
                                                         std::string_view kind,
                                                         size_t field_count);

// Tokens of saga lists (newest first): the creation time and id of a page's last saga.
std::string EncodeSagaPageToken(std::string_view kind, const saga::v1::Saga& last);
absl::StatusOr<std::pair<absl::Time, std::string>> DecodeSagaPageToken(std::string_view token,
                                                                       std::string_view kind);

}  // namespace saga::services

#endif  // SAGA_SERVICES_PAGE_TOKEN_H_
