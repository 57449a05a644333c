// saga::StrCat and saga::StrAppend: absl::StrCat and absl::StrAppend that also take
// std::string_view. Abseil 20220623 as built by Debian does not alias absl::string_view to
// std::string_view, and our own code uses the std type.
#ifndef SAGA_SDK_BASE_STRINGS_H_
#define SAGA_SDK_BASE_STRINGS_H_

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace saga {
namespace strings_internal {

template <typename T>
const T& Arg(const T& value) {
  return value;
}
inline absl::string_view Arg(std::string_view value) { return {value.data(), value.size()}; }

}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(strings_internal::Arg(args)...);
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, strings_internal::Arg(args)...);
}

}  // namespace saga

#endif  // SAGA_SDK_BASE_STRINGS_H_
