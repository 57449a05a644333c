// What every fuzz target checks besides "no crash, no sanitizer report": bad input is refused
// the way the API promises (DESIGN.md, "bad input gets a clear error"): INVALID_ARGUMENT with a
// message that names what to fix. Anything else aborts, so libFuzzer saves the input.
#ifndef SAGA_TESTS_FUZZ_FUZZ_CHECK_H_
#define SAGA_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"

namespace saga::fuzz {

inline void ExpectClearRefusal(
    const absl::Status& status, const char* what,
    std::initializer_list<absl::StatusCode> allowed = {absl::StatusCode::kInvalidArgument}) {
  if (status.ok()) return;
  const std::string message(status.message());
  bool allowed_code = false;
  for (absl::StatusCode code : allowed) allowed_code = allowed_code || status.code() == code;
  if (!allowed_code || message.size() < 8) {
    std::fprintf(stderr, "%s: refused with %s \"%s\"; want INVALID_ARGUMENT saying what to fix\n",
                 what, absl::StatusCodeToString(status.code()).c_str(), message.c_str());
    std::abort();
  }
}

}  // namespace saga::fuzz

#endif  // SAGA_TESTS_FUZZ_FUZZ_CHECK_H_
